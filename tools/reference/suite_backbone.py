"""Fixtures for @mnv3/backbone: TorchVision's classifiers on seeded random weights.

MobileNetV3 Large and Small for every widthMult x reducedTail x dilated, batch 2, at 224x224,
197x231 and 64x64; intermediate features at TorchVision's stage boundaries for one config;
MobileNetV2, ResNet-18 and ResNet-50 at 224.
"""
import itertools

import torch
from torchvision import models
from torchvision.models._utils import IntermediateLayerGetter

from common import calibrate_batchnorm, randomize, state_entries, varied_input

SIZES = [(224, 224), (197, 231), (64, 64)]
WIDTHS = [0.5, 0.75, 1.0, 1.25]


def _name(arch, wm, rt, dil):
    return f"{arch}_w{str(wm).replace('.', '')}{'_rt' if rt else ''}{'_dil' if dil else ''}"


def build(write):
    seed = 1000
    for arch, wm, rt, dil in itertools.product(["mobilenet_v3_large", "mobilenet_v3_small"], WIDTHS, [False, True], [False, True]):
        seed += 1
        model = getattr(models, arch)(width_mult=wm, reduced_tail=rt, dilated=dil)
        calibrate_batchnorm(randomize(model, seed), (8, 3, 224, 224), seed)
        tensors = state_entries(model)
        with torch.no_grad():
            for h, w in SIZES:
                x = varied_input((2, 3, h, w), seed + h)
                tensors[f"input_{h}x{w}"] = x
                tensors[f"output_{h}x{w}"] = model(x)
            if (arch, wm, rt, dil) in {("mobilenet_v3_large", 1.0, False, True), ("mobilenet_v3_small", 1.0, False, False)}:
                # Stage boundaries as the detection and segmentation heads take them.
                idx = [4, 13, 16] if arch == "mobilenet_v3_large" else [1, 3, 8, 12]
                getter = IntermediateLayerGetter(model.features, {str(i): str(i) for i in idx})
                for k, v in getter(tensors["input_224x224"]).items():
                    tensors[f"features_{k}"] = v
        config = dict(model=arch, widthMult=wm, reducedTail=rt, dilated=dil, numParams=sum(p.numel() for p in model.parameters()))
        write(_name(arch, wm, rt, dil), tensors, {"config": config})

    for i, arch in enumerate(["mobilenet_v2", "resnet18", "resnet50"]):
        model = getattr(models, arch)()
        calibrate_batchnorm(randomize(model, 2000 + i), (8, 3, 224, 224), 2000 + i)
        x = varied_input((2, 3, 224, 224), 2000 + i)
        with torch.no_grad():
            y = model(x)
        config = dict(model=arch, numParams=sum(p.numel() for p in model.parameters()))
        write(arch, {"input_224x224": x, "output_224x224": y, **state_entries(model)}, {"config": config})
