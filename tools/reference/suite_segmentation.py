"""Fixtures for @mnv3/segment-lraspp and @mnv3/segment-deeplab: TorchVision's segmentation models
on the dilated MobileNetV3-Large, seeded random weights with calibrated BatchNorm statistics.

Models: lraspp_mobilenet_v3_large (no aux head: TorchVision refuses one), deeplabv3_mobilenet_v3_large
and an FCN on the same backbone (TorchVision publishes no builder for it; it is built as
`_deeplabv3_mobilenetv3` builds DeepLabV3, with FCNHead(960) as classifier), each with and without
the aux head, batch 2 at 520x520, 320x320 and 257x300; and TorchVision's deeplabv3_resnet50 and
fcn_resnet50 (the seed's comparison models), with and without the aux head, at 129x97 and 65x81.
`out` and `aux` logits, NCHW; config["sizes"] lists each model's inputs.

Also: F.interpolate(bilinear, align_corners=False) on random maps, and TorchVision's
references/segmentation ConfusionMatrix on random label maps with 255 (ignored) pixels.
"""
import torch
from torch.nn import functional as F
from torchvision.models import mobilenet_v3_large
from torchvision.models._utils import IntermediateLayerGetter
from torchvision.models.segmentation import deeplabv3_mobilenet_v3_large, deeplabv3_resnet50, fcn_resnet50, lraspp_mobilenet_v3_large
from torchvision.models.segmentation.fcn import FCN, FCNHead

from common import calibrate_batchnorm, randomize, state_entries, varied_input

SIZES = [(520, 520), (320, 320), (257, 300)]


def fcn_mobilenet_v3_large(num_classes=21, aux_loss=False):
    """TorchVision's FCN layout on the dilated MobileNetV3-Large, stage indices as _deeplabv3_mobilenetv3."""
    backbone = mobilenet_v3_large(weights=None, dilated=True).features
    stage_indices = [0] + [i for i, b in enumerate(backbone) if getattr(b, "_is_cn", False)] + [len(backbone) - 1]
    out_pos = stage_indices[-1]
    out_inplanes = backbone[out_pos].out_channels
    aux_pos = stage_indices[-4]
    aux_inplanes = backbone[aux_pos].out_channels
    return_layers = {str(out_pos): "out"}
    if aux_loss:
        return_layers[str(aux_pos)] = "aux"
    backbone = IntermediateLayerGetter(backbone, return_layers=return_layers)
    aux_classifier = FCNHead(aux_inplanes, num_classes) if aux_loss else None
    classifier = FCNHead(out_inplanes, num_classes)
    return FCN(backbone, classifier, aux_classifier)


# Copied verbatim from TorchVision 0.14's references/segmentation/utils.py (not installed by Debian).
class ConfusionMatrix:
    def __init__(self, num_classes):
        self.num_classes = num_classes
        self.mat = None

    def update(self, a, b):
        n = self.num_classes
        if self.mat is None:
            self.mat = torch.zeros((n, n), dtype=torch.int64, device=a.device)
        with torch.inference_mode():
            k = (a >= 0) & (a < n)
            inds = n * a[k].to(torch.int64) + b[k]
            self.mat += torch.bincount(inds, minlength=n**2).reshape(n, n)

    def reset(self):
        self.mat.zero_()

    def compute(self):
        h = self.mat.float()
        acc_global = torch.diag(h).sum() / h.sum()
        acc = torch.diag(h) / h.sum(1)
        iu = torch.diag(h) / (h.sum(1) + h.sum(0) - torch.diag(h))
        return acc_global, acc, iu

    def reduce_from_all_processes(self):
        pass  # distributed reduction (utils.reduce_across_processes) left out: single process

    def __str__(self):
        acc_global, acc, iu = self.compute()
        return (
            "global correct: {:.1f}\naverage row correct: {}\nIoU: {}\nmean IoU: {:.1f}"
        ).format(
            acc_global.item() * 100,
            [f"{i:.1f}" for i in (acc * 100).tolist()],
            [f"{i:.1f}" for i in (iu * 100).tolist()],
            iu.mean().item() * 100,
        )


# ResNet-50 at output stride 8 costs ~40x MobileNetV3's compute: smaller, odd inputs keep both the
# oracle and the tests quick while still exercising dilation, padding and the odd-size upsampling.
RESNET_SIZES = [(129, 97), (65, 81)]


def _models():
    yield "lraspp_mobilenet_v3_large", False, SIZES, lambda: lraspp_mobilenet_v3_large(weights=None, weights_backbone=None)
    for aux in (False, True):
        yield "deeplabv3_mobilenet_v3_large", aux, SIZES, lambda aux=aux: deeplabv3_mobilenet_v3_large(
            weights=None, weights_backbone=None, aux_loss=aux
        )
        yield "fcn_mobilenet_v3_large", aux, SIZES, lambda aux=aux: fcn_mobilenet_v3_large(aux_loss=aux)
        yield "deeplabv3_resnet50", aux, RESNET_SIZES, lambda aux=aux: deeplabv3_resnet50(weights=None, weights_backbone=None, aux_loss=aux)
        yield "fcn_resnet50", aux, RESNET_SIZES, lambda aux=aux: fcn_resnet50(weights=None, weights_backbone=None, aux_loss=aux)


def build(write):
    seed = 5000
    for name, aux, sizes, make in _models():
        seed += 1
        model = make()
        calibrate_batchnorm(randomize(model, seed), (4, 3, 256, 256) if sizes is SIZES else (2, 3, 129, 97), seed)
        tensors = state_entries(model)
        with torch.no_grad():
            for h, w in sizes:
                x = varied_input((2, 3, h, w), seed + h + w)
                y = model(x)
                tensors[f"input_{h}x{w}"] = x
                tensors[f"out_{h}x{w}"] = y["out"]
                if aux:
                    tensors[f"aux_{h}x{w}"] = y["aux"]
        config = dict(model=name, auxLoss=aux, numParams=sum(p.numel() for p in model.parameters()), numClasses=21,
                      sizes=[f"{h}x{w}" for h, w in sizes])
        write(f"{name}{'_aux' if aux else ''}", tensors, {"config": config})

    # Bilinear resampling, align_corners=False: upsampling by odd factors, downsampling, 1x1 broadcast.
    g = torch.Generator().manual_seed(77)
    tensors = {}
    for i, (src, dst) in enumerate([((33, 33), (520, 520)), ((17, 19), (257, 300)), ((65, 65), (40, 23)), ((1, 1), (7, 9)), ((20, 20), (20, 20))]):
        x = torch.randn((2, 5, *src), generator=g) * 3
        tensors[f"x_{i}"] = x
        tensors[f"y_{i}"] = F.interpolate(x, size=dst, mode="bilinear", align_corners=False)
    write("interpolate", tensors, {"config": dict(cases=5)})

    # ConfusionMatrix: three updates of random labels (with 255 = ignore) and noisy predictions.
    for case, num_classes, absent in [("metrics_full", 21, None), ("metrics_absent", 21, 20), ("metrics_small", 3, None)]:
        g = torch.Generator().manual_seed(300 + num_classes + (absent or 0))
        cm = ConfusionMatrix(num_classes)
        tensors = {}
        hi = num_classes if absent is None else absent
        for step, shape in enumerate([(64, 80), (97, 33), (20, 20)]):
            target = torch.randint(0, hi, (2, *shape), generator=g)
            target[torch.rand((2, *shape), generator=g) < 0.1] = 255
            noise = torch.randint(0, hi, (2, *shape), generator=g)
            keep = torch.rand((2, *shape), generator=g) < 0.6
            pred = torch.where(keep, target.clamp(max=hi - 1), noise)
            cm.update(target.flatten(), pred.flatten())
            tensors[f"target_{step}"] = target.to(torch.uint8)
            tensors[f"pred_{step}"] = pred.to(torch.int32)
        acc_global, acc, iu = cm.compute()
        h64 = cm.mat.double()
        tensors["mat"] = cm.mat
        tensors["acc_global"] = acc_global
        tensors["acc"] = acc
        tensors["iu"] = iu
        tensors["miou"] = iu.mean()
        tensors["acc_global_f64"] = torch.diag(h64).sum() / h64.sum()
        tensors["acc_f64"] = torch.diag(h64) / h64.sum(1)
        tensors["iu_f64"] = torch.diag(h64) / (h64.sum(1) + h64.sum(0) - torch.diag(h64))
        write(case, tensors, {"config": dict(numClasses=num_classes, absent=absent), "text": str(cm)})
