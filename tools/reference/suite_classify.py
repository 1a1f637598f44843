"""Fixtures for @mnv3/classify and the `mnv3 classify` CLI: TorchVision's whole pipeline.

Random-weight checkpoints saved by torch.save (zip and legacy formats), real photos from Debian's
python3-skimage run through TorchVision's ImageClassification preset on PIL images, and the
logits TorchVision computes from them.
"""
import os

import numpy as np
import torch
from PIL import Image
from torchvision import models
from torchvision.models import MobileNet_V3_Large_Weights
import skimage

from common import calibrate_batchnorm, randomize, varied_input

PHOTOS = ["astronaut.png", "coffee.png", "chelsea.png", "rocket.jpg", "camera.png", "motorcycle_left.png", "color.png"]


def photos():
    root = os.path.join(os.path.dirname(skimage.__file__), "data")
    return [(name, os.path.join(root, name)) for name in PHOTOS if os.path.exists(os.path.join(root, name))]


def build(write, out):
    model = models.mobilenet_v3_large()
    calibrate_batchnorm(randomize(model, 3001), (8, 3, 224, 224), 3001)
    torch.save(model.state_dict(), os.path.join(out, "mobilenet_v3_large.pth"))
    small = models.mobilenet_v3_small(num_classes=10)
    calibrate_batchnorm(randomize(small, 3002), (8, 3, 224, 224), 3002)
    torch.save(small.state_dict(), os.path.join(out, "mobilenet_v3_small_10.pth"), _use_new_zipfile_serialization=False)

    preset = MobileNet_V3_Large_Weights.IMAGENET1K_V1.transforms()
    tensors = {}
    names = []
    for i, (name, path) in enumerate(photos()):
        if not name.endswith(".png"):
            continue
        img = Image.open(path).convert("RGB")
        x = preset(img)
        with torch.no_grad():
            y = model(x[None])
        key = name[: -len(".png")]
        names.append(key)
        # copies of the photos, so tests need no skimage path
        with open(os.path.join(out, name), "wb") as f:
            f.write(open(path, "rb").read())
        tensors[f"preset_{key}"] = x
        tensors[f"logits_{key}"] = y[0]

    # A 1x1 photo is valid input for TorchVision (min_size (1, 1)): resized to 256, cropped to 224.
    Image.new("RGB", (1, 1), (200, 120, 40)).save(os.path.join(out, "tiny.png"))
    with torch.no_grad():
        tensors["logits_tiny"] = model(preset(Image.open(os.path.join(out, "tiny.png")).convert("RGB"))[None])[0]

    x = varied_input((2, 3, 224, 224), 3003)
    np.save(os.path.join(out, "batch.npy"), x.numpy())
    with torch.no_grad():
        tensors["logits_batch"] = model(x)
        small.eval()
        tensors["logits_small_batch"] = small(x)
    write("pipeline", tensors, {"config": {"photos": names}})
