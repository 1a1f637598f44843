"""Fixtures for @mnv3/io's datasets: torchvision 0.14's FashionMNIST on Debian's dataset-fashion-mnist.

The Debian files are gunzipped into a temporary root in torchvision's raw layout (FashionMNIST/raw/),
and torchvision's own FashionMNIST reads them. For each split: the labels (all), the first 16 and the
last images, images at a few spread indices, a SHA-256 of all image bytes, the length and classes.
"""
import gzip
import hashlib
import os
import shutil
import tempfile

import numpy as np
import torch
from torchvision.datasets import FashionMNIST

DEBIAN = "/usr/share/datasets/fashion-mnist"


def build(write):
    tmp = tempfile.mkdtemp()
    try:
        raw = os.path.join(tmp, "FashionMNIST", "raw")
        os.makedirs(raw)
        for split in ("train", "t10k"):
            for kind in ("images-idx3", "labels-idx1"):
                name = f"{split}-{kind}-ubyte"
                with gzip.open(os.path.join(DEBIAN, name + ".gz"), "rb") as src, open(os.path.join(raw, name), "wb") as dst:
                    shutil.copyfileobj(src, dst)
        for train in (True, False):
            ds = FashionMNIST(tmp, train=train, download=False)
            n = len(ds)
            picks = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, n // 3, n // 2, n - 1]
            images = np.stack([np.asarray(ds[i][0]) for i in picks])  # PIL mode "L" as dataset[i] gives it
            labels = ds.targets.to(torch.uint8)
            write(
                f"fashion_mnist_{'train' if train else 'test'}",
                {"labels": labels, "images": torch.from_numpy(images)},
                {"config": {"length": n, "classes": ds.classes, "picks": picks, "picked_labels": [int(ds[i][1]) for i in picks],
                            "sha256": hashlib.sha256(ds.data.numpy().tobytes()).hexdigest(), "data_shape": list(ds.data.shape)}},
            )
    finally:
        shutil.rmtree(tmp)
