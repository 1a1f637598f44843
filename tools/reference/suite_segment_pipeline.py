"""Fixtures for the segmentation pipeline and `mnv3 segment`: TorchVision's whole path on real photos.

Random-weight LR-ASPP and DeepLabV3 (with its aux head, as TorchVision's published checkpoint has)
saved by torch.save; photos from Debian's python3-skimage through TorchVision's SemanticSegmentation
preset on PIL images at 520 and 320; the `out` logits resized back to each photo's size with
F.interpolate(bilinear, align_corners=False) and their per-pixel argmax, as a TorchVision user
would draw the mask.
"""
import os

import torch
from PIL import Image
from torch.nn import functional as F
from torchvision.models.segmentation import deeplabv3_mobilenet_v3_large, lraspp_mobilenet_v3_large
from torchvision.transforms._presets import SemanticSegmentation
import skimage

from common import calibrate_batchnorm, randomize

PHOTOS = ["astronaut.png", "chelsea.png", "coffee.png"]


def build(write, out):
    models = {
        "lraspp": lraspp_mobilenet_v3_large(weights=None, weights_backbone=None),
        "deeplabv3_aux": deeplabv3_mobilenet_v3_large(weights=None, weights_backbone=None, aux_loss=True),
    }
    for i, (name, model) in enumerate(models.items()):
        calibrate_batchnorm(randomize(model, 5000 + i), (2, 3, 320, 320), 5000 + i, batches=2)
        torch.save(model.state_dict(), os.path.join(out, f"{name}.pth"))

    root = os.path.join(os.path.dirname(skimage.__file__), "data")
    tensors = {}
    for photo in PHOTOS:
        key = photo[: -len(".png")]
        with open(os.path.join(root, photo), "rb") as src, open(os.path.join(out, photo), "wb") as dst:
            dst.write(src.read())
        img = Image.open(os.path.join(out, photo)).convert("RGB")
        for size in (520, 320):
            x = SemanticSegmentation(resize_size=size)(img)
            tensors[f"preset{size}_{key}"] = x
            runs = ["lraspp", "deeplabv3_aux"] if size == 520 else ["lraspp"]
            for name in runs:
                with torch.no_grad():
                    logits = models[name](x[None])["out"]
                    full = F.interpolate(logits, size=(img.height, img.width), mode="bilinear", align_corners=False)
                tensors[f"classes{size}_{name}_{key}"] = full.argmax(1)[0].to(torch.uint8)
                if (size, name, key) == (320, "lraspp", "chelsea"):
                    tensors["out320_lraspp_chelsea"] = logits[0]  # at the preset's size, for .npy input
                tensors[f"logits{size}_{name}_{key}"] = full[0]
    write("pipeline", tensors, {"config": {"photos": [p[:-4] for p in PHOTOS]}})
