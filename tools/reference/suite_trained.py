"""Fixtures for tests that need a *trained* model: random-weight MobileNetV3 logits barely move with
the input (three photos gave logits equal to 1e-6), so they cannot tell a decoding error from none.

A MobileNetV3-Small (10 classes) trained here on Debian's Fashion-MNIST (dataset-fashion-mnist),
greyscale garments replicated to RGB at 64x64, one epoch of SGD over 24,000 of them (about a
minute on two cores): enough that its logits follow the pixels. It is then run at TorchVision's
ImageClassification preset (256 → 224) on JPEG photos decoded by PIL, and the logits are what the
TypeScript pipeline must reproduce.
"""
import gzip
import io
import os

import numpy as np
import torch
from PIL import Image
from torch import nn
from torchvision import models
from torchvision.transforms._presets import ImageClassification

FASHION = "/usr/share/datasets/fashion-mnist"
SKIMAGE = "/usr/lib/python3/dist-packages/skimage/data"


def idx(name):
    with gzip.open(os.path.join(FASHION, name)) as f:
        data = f.read()
    dims = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(dims)]
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape)


def fashion(split):
    prefix = "train" if split == "train" else "t10k"
    images = torch.from_numpy(idx(f"{prefix}-images-idx3-ubyte.gz").copy()).float().div(255)
    labels = torch.from_numpy(idx(f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64))
    return images, labels


def batch_rgb(images, size=64):
    """[N, 28, 28] in [0, 1] → [N, 3, size, size], ImageNet-normalised like the preset's output."""
    x = nn.functional.interpolate(images[:, None], size=(size, size), mode="bilinear", align_corners=False)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    return (x.repeat(1, 3, 1, 1) - mean) / std


def train(seed=0, epochs=1, batch=128, count=24_000):
    torch.manual_seed(seed)
    model = models.mobilenet_v3_small(num_classes=10)
    images, labels = fashion("train")
    images, labels = images[:count], labels[:count]
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=1e-5, nesterov=True)
    steps = epochs * (len(images) // batch)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=steps)
    g = torch.Generator().manual_seed(seed)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(images), generator=g)
        for i in range(len(images) // batch):
            take = order[i * batch:(i + 1) * batch]
            loss = nn.functional.cross_entropy(model(batch_rgb(images[take])), labels[take])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    # MobileNetV3's BatchNorm momentum is 0.01: a short run leaves the running statistics far from
    # the batch statistics it trained with, so re-estimate them (cumulative average, no gradients).
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None
    with torch.no_grad():
        for i in range(20):
            model(batch_rgb(images[i * batch:(i + 1) * batch]))
    model.eval()
    test_images, test_labels = fashion("test")
    with torch.no_grad():
        predictions = torch.cat([model(batch_rgb(test_images[i:i + 500])).argmax(1) for i in range(0, 2000, 500)])
    accuracy = (predictions == test_labels[:2000]).float().mean().item()
    return model, accuracy


def jpegs():
    """skimage's JPEG photos, and PNG photos written as JPEG by PIL (4:2:0 q85, 4:4:4 q95, 4:2:0 q75)."""
    for stem in ["rocket", "retina", "hubble_deep_field"]:
        with open(os.path.join(SKIMAGE, stem + ".jpg"), "rb") as f:
            yield stem, f.read()
    for stem, options in [("chelsea", dict(quality=85)), ("astronaut", dict(quality=95, subsampling=0)), ("coffee", dict(quality=75))]:
        buf = io.BytesIO()
        Image.open(os.path.join(SKIMAGE, stem + ".png")).convert("RGB").save(buf, format="JPEG", **options)
        yield stem, buf.getvalue()


def build(write, out):
    torch.set_num_threads(2)
    model, accuracy = train()
    torch.save(model.state_dict(), os.path.join(out, "mobilenet_v3_small_fashion.pth"))
    preset = ImageClassification(crop_size=224, resize_size=256)
    tensors, names = {}, []
    for name, encoded in jpegs():
        tensors[f"encoded_{name}"] = np.frombuffer(encoded, np.uint8)
        with torch.no_grad():
            tensors[f"logits_{name}"] = model(preset(Image.open(io.BytesIO(encoded)).convert("RGB"))[None])[0]
        names.append(name)
    write("jpeg_photos", tensors, {"config": {"photos": names, "fashionTestAccuracy2000": accuracy}})
