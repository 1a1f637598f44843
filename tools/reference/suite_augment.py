"""Fixtures for @mnv3/transforms' augmentation (issue 13): TorchVision 0.14's functional ops and random
transforms on uint8 tensors (the TENSOR path of `functional_tensor.py`, what `T.AutoAugment()` does to a
`torch.uint8` tensor), and the reference's `ClassificationPresetTrain` composed on tensors.

Images are real photos from Debian's python3-skimage (crops and strides keep the files small; one full
512x512 photo exercises large-image sums) and the first Fashion-MNIST training image (1 channel).

`op_<image>_<op>`: `input` (CHW uint8) and `out.<k>` for each entry k of config["cases"].
`rand_<name>_<seed>`: a random transform run with torch seeded; config["events"] lists every random
draw torch made, in order (["rand", value], ["uniform", x, value] with x the generator's raw [0, 1)
draw, ["randint", k, low, high], ["normal", count]), so a test can replay the same decisions.
`tables`: the magnitude bins of AutoAugment / RandAugment / TrivialAugmentWide for the image sizes used.
"""
import gzip
import json
import math

import numpy as np
import torch
from PIL import Image
from torchvision.transforms import InterpolationMode, autoaugment as AA, functional as F
from torchvision import transforms as T

SKIMAGE = "/usr/lib/python3/dist-packages/skimage/data"
FMNIST = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
NEAREST, BILINEAR = InterpolationMode.NEAREST, InterpolationMode.BILINEAR


def photo(name):
    return torch.from_numpy(np.asarray(Image.open(f"{SKIMAGE}/{name}.png").convert("RGB")).copy()).permute(2, 0, 1).contiguous()


def fmnist0():
    with gzip.open(FMNIST, "rb") as f:
        raw = f.read()
    return torch.frombuffer(bytearray(raw[16 : 16 + 784]), dtype=torch.uint8).reshape(1, 28, 28).clone()


def images():
    astronaut = photo("astronaut")
    chelsea = photo("chelsea")
    coffee = photo("coffee")
    return {
        "astronaut512": astronaut,  # 262,144 pixels: float32 sums of a channel are inexact
        "chelsea": chelsea[:, 40:190, 90:291].contiguous(),  # 150x201
        "coffee": coffee[:, ::4, ::4].contiguous(),  # 100x150
        "fmnist": fmnist0(),  # 1x28x28
    }


def affine_cases():
    c = []
    for interp in ("nearest", "bilinear"):
        for fill in (None, "fill"):
            for m in (-0.3, -0.1, 0.05, 0.2, 0.99):
                c.append({"op": "shearX", "magnitude": m, "interpolation": interp, "fill": fill})
                c.append({"op": "shearY", "magnitude": -m, "interpolation": interp, "fill": fill})
            for t in (-70.0, -13.0, 5.0, 32.0):
                c.append({"op": "translateX", "magnitude": t, "interpolation": interp, "fill": fill})
                c.append({"op": "translateY", "magnitude": -t / 2, "interpolation": interp, "fill": fill})
            for a in (-135.0, -30.0, -7.5, 3.3, 17.0, 90.0, 180.0):
                c.append({"op": "rotate", "magnitude": a, "interpolation": interp, "fill": fill})
            c.append({"op": "affine", "angle": 12.5, "translate": [3, -7], "scale": 0.8, "shear": [10.0, -5.0], "interpolation": interp, "fill": fill})
            c.append({"op": "affine", "angle": -40.0, "translate": [-11, 2], "scale": 1.3, "shear": [0.0, 20.0], "interpolation": interp, "fill": fill, "center": [5, 9]})
    return c


def color_cases():
    c = []
    for f in (0.0, 0.1, 0.5, 1.0, 1.37, 1.9):
        for op in ("brightness", "saturation", "contrast", "sharpness"):
            c.append({"op": op, "factor": f})
    for b in range(1, 9):
        c.append({"op": "posterize", "bits": b})
    for t in (0.0, 50.5, 128.0, 200.0, 255.0, 300.0 / 2):
        c.append({"op": "solarize", "threshold": t})
    for op in ("autocontrast", "equalize", "invert", "hflip", "grayscale"):
        c.append({"op": op})
    return c


def crop_cases(h, w):
    c = []
    for interp in ("bilinear", "nearest"):
        c.append({"op": "resized_crop", "top": 0, "left": 0, "height": h, "width": w, "size": [37, 53], "interpolation": interp})
        c.append({"op": "resized_crop", "top": h // 5, "left": w // 7, "height": h // 2, "width": w // 3, "size": [64, 64], "interpolation": interp})
        c.append({"op": "resized_crop", "top": 3, "left": 1, "height": h - 5, "width": w - 2, "size": [h * 2 - 1, w + 3], "interpolation": interp})
        c.append({"op": "resized_crop", "top": h // 3, "left": w // 4, "height": 9, "width": 7, "size": [224, 224], "interpolation": interp})
        c.append({"op": "resized_crop", "top": -4, "left": w - 10, "height": 20, "width": 15, "size": [20, 30], "interpolation": interp})
    return c


def fill_for(c, channels):
    return None if c.get("fill") is None else ([128.0, 64.0, 32.0][:channels] if channels == 3 else [100.0])


def apply_case(img, c):
    op = c["op"]
    ch = img.shape[0]
    interp = InterpolationMode(c.get("interpolation", "nearest"))
    fill = fill_for(c, ch)
    if op == "shearX":
        return F.affine(img, angle=0.0, translate=[0, 0], scale=1.0, shear=[math.degrees(math.atan(c["magnitude"])), 0.0], interpolation=interp, fill=fill, center=[0, 0])
    if op == "shearY":
        return F.affine(img, angle=0.0, translate=[0, 0], scale=1.0, shear=[0.0, math.degrees(math.atan(c["magnitude"]))], interpolation=interp, fill=fill, center=[0, 0])
    if op == "translateX":
        return F.affine(img, angle=0.0, translate=[int(c["magnitude"]), 0], scale=1.0, shear=[0.0, 0.0], interpolation=interp, fill=fill)
    if op == "translateY":
        return F.affine(img, angle=0.0, translate=[0, int(c["magnitude"])], scale=1.0, shear=[0.0, 0.0], interpolation=interp, fill=fill)
    if op == "rotate":
        return F.rotate(img, c["magnitude"], interpolation=interp, fill=fill)
    if op == "affine":
        return F.affine(img, angle=c["angle"], translate=c["translate"], scale=c["scale"], shear=c["shear"], interpolation=interp, fill=fill, center=c.get("center"))
    if op == "brightness":
        return F.adjust_brightness(img, c["factor"])
    if op == "saturation":
        return F.adjust_saturation(img, c["factor"])
    if op == "contrast":
        return F.adjust_contrast(img, c["factor"])
    if op == "sharpness":
        return F.adjust_sharpness(img, c["factor"])
    if op == "posterize":
        return F.posterize(img, c["bits"])
    if op == "solarize":
        return F.solarize(img, c["threshold"])
    if op == "autocontrast":
        return F.autocontrast(img)
    if op == "equalize":
        return F.equalize(img)
    if op == "invert":
        return F.invert(img)
    if op == "hflip":
        return F.hflip(img)
    if op == "grayscale":
        return F.rgb_to_grayscale(img) if ch == 3 else img
    if op == "resized_crop":
        return F.resized_crop(img, c["top"], c["left"], c["height"], c["width"], c["size"], interpolation=interp)
    raise ValueError(op)


class DrawLog:
    """Wraps torch's random functions that TorchVision's transforms call and logs every draw."""

    def __init__(self):
        self.events = []

    def __enter__(self):
        self.orig = (torch.rand, torch.randint, torch.Tensor.uniform_, torch.Tensor.normal_)
        rand, randint, uniform_, normal_ = self.orig
        log = self.events

        def w_rand(*size, **kw):
            out = rand(*size, **kw)
            log.extend(["rand", float(v)] for v in out.reshape(-1).tolist())
            return out

        def w_randint(*args, **kw):
            out = randint(*args, **kw)
            low, high = (args[0], args[1]) if len(args) >= 2 and isinstance(args[1], int) else (0, args[0])
            if "low" in kw:
                low = kw["low"]
            if "high" in kw:
                high = kw["high"]
            log.extend(["randint", int(v), int(low), int(high)] for v in out.reshape(-1).tolist())
            return out

        def w_uniform_(self_t, a=0.0, b=1.0, **kw):
            state = torch.get_rng_state()
            raw = uniform_(torch.empty(self_t.numel()), 0.0, 1.0).tolist()
            torch.set_rng_state(state)
            out = uniform_(self_t, a, b, **kw)
            log.extend(["uniform", x, float(v)] for x, v in zip(raw, out.reshape(-1).tolist()))
            return out

        def w_normal_(self_t, *a, **kw):
            log.append(["normal", self_t.numel()])
            return normal_(self_t, *a, **kw)

        torch.rand, torch.randint = w_rand, w_randint
        torch.Tensor.uniform_, torch.Tensor.normal_ = w_uniform_, w_normal_
        return self

    def __exit__(self, *exc):
        torch.rand, torch.randint, torch.Tensor.uniform_, torch.Tensor.normal_ = self.orig


def tensor_preset(crop_size, interpolation, hflip_prob, policy, ra_magnitude, random_erase_prob, mean, std):
    """references/classification/presets.py's ClassificationPresetTrain (the 0.14-era file: ra_magnitude,
    augmix_severity), composed on a uint8 tensor: PILToTensor moved to the front, as the reference's later
    `backend="tensor"` does, so every augmentation runs TorchVision's tensor path."""
    trans = [T.RandomResizedCrop(crop_size, interpolation=interpolation)]
    if hflip_prob > 0:
        trans.append(T.RandomHorizontalFlip(hflip_prob))
    if policy is not None:
        if policy == "ra":
            trans.append(AA.RandAugment(interpolation=interpolation, magnitude=ra_magnitude))
        elif policy == "ta_wide":
            trans.append(AA.TrivialAugmentWide(interpolation=interpolation))
        else:
            trans.append(AA.AutoAugment(policy=AA.AutoAugmentPolicy(policy), interpolation=interpolation))
    trans += [T.ConvertImageDtype(torch.float), T.Normalize(mean=mean, std=std)]
    if random_erase_prob > 0:
        trans.append(T.RandomErasing(p=random_erase_prob))
    return T.Compose(trans)


def build(write):
    imgs = images()
    torch.set_num_threads(1)
    # Functional ops over a grid of magnitudes.
    for name, img in imgs.items():
        ch, h, w = img.shape
        groups = {"affine": affine_cases(), "color": color_cases(), "crop": crop_cases(h, w)}
        if name == "astronaut512":  # the large photo: ops whose float sums or grids scale with size
            groups = {
                "affine": [c for c in affine_cases() if c["op"] in ("rotate", "shearX") and c.get("fill") is None][::3],
                "color": [c for c in color_cases() if c["op"] in ("contrast", "saturation", "sharpness", "equalize", "autocontrast")],
                "crop": crop_cases(h, w)[:4],
            }
        for g, cases in groups.items():
            tensors = {"input": img}
            for k, c in enumerate(cases):
                out = apply_case(img, c)
                assert out.dtype == torch.uint8
                tensors[f"out.{k}"] = out.contiguous()
            write(f"op_{name}_{g}", tensors, {"config": {"image": name, "cases": cases}})

    # Magnitude tables as TorchVision computes them (float32 linspace, posterize bits).
    tables = {}
    for name, img in imgs.items():
        _, h, w = img.shape
        for cls, bins in ((AA.AutoAugment, 10), (AA.RandAugment, 31), (AA.RandAugment, 7), (AA.TrivialAugmentWide, 31), (AA.TrivialAugmentWide, 9)):
            obj = cls.__new__(cls)
            space = obj._augmentation_space(bins) if cls is AA.TrivialAugmentWide else obj._augmentation_space(bins, (h, w))
            tables[f"{cls.__name__}.{bins}.{h}x{w}"] = {k: [v.reshape(-1).tolist(), s] for k, (v, s) in space.items()}
    write("tables", {"dummy": torch.zeros(1, dtype=torch.uint8)}, {"config": {"tables": tables}})

    # Random transforms with every draw logged.
    small = {"chelsea": imgs["chelsea"], "coffee": imgs["coffee"], "fmnist": imgs["fmnist"]}
    randoms = []
    for iname, img in small.items():
        fill = [128.0, 64.0, 32.0] if img.shape[0] == 3 else [100.0]
        randoms += [
            ("rrc", iname, {"size": [48, 40], "scale": [0.08, 1.0], "ratio": [3 / 4, 4 / 3], "interpolation": "bilinear"}, 6),
            ("rrc", iname, {"size": [32, 32], "scale": [0.9, 1.0], "ratio": [3.5, 5.0], "interpolation": "nearest"}, 3),  # fallback crops
            ("hflip", iname, {"p": 0.5}, 4),
            ("autoaugment", iname, {"policy": "imagenet", "interpolation": "nearest", "fill": None}, 14),
            ("autoaugment", iname, {"policy": "imagenet", "interpolation": "bilinear", "fill": fill}, 6),
            ("autoaugment", iname, {"policy": "cifar10", "interpolation": "nearest", "fill": None}, 6),
            ("autoaugment", iname, {"policy": "svhn", "interpolation": "bilinear", "fill": None}, 6),
            ("randaugment", iname, {"num_ops": 2, "magnitude": 9, "num_magnitude_bins": 31, "interpolation": "nearest", "fill": None}, 8),
            ("randaugment", iname, {"num_ops": 3, "magnitude": 6, "num_magnitude_bins": 7, "interpolation": "bilinear", "fill": fill}, 4),
            ("trivialaugment", iname, {"num_magnitude_bins": 31, "interpolation": "nearest", "fill": None}, 10),
            ("trivialaugment", iname, {"num_magnitude_bins": 9, "interpolation": "bilinear", "fill": fill}, 4),
        ]
    for kind, iname, cfg, seeds in randoms:
        img = small[iname]
        interp = InterpolationMode(cfg.get("interpolation", "nearest"))
        if kind == "rrc":
            t = T.RandomResizedCrop(cfg["size"], scale=cfg["scale"], ratio=cfg["ratio"], interpolation=interp)
        elif kind == "hflip":
            t = T.RandomHorizontalFlip(cfg["p"])
        elif kind == "autoaugment":
            t = AA.AutoAugment(AA.AutoAugmentPolicy(cfg["policy"]), interpolation=interp, fill=cfg["fill"])
        elif kind == "randaugment":
            t = AA.RandAugment(cfg["num_ops"], cfg["magnitude"], cfg["num_magnitude_bins"], interpolation=interp, fill=cfg["fill"])
        else:
            t = AA.TrivialAugmentWide(cfg["num_magnitude_bins"], interpolation=interp, fill=cfg["fill"])
        for seed in range(seeds):
            torch.manual_seed(1000 + seed)
            with DrawLog() as log:
                out = t(img)
            tensors = {"input": img, "output": out.contiguous()}
            if kind == "rrc":
                torch.manual_seed(1000 + seed)
                tensors["params"] = torch.tensor(T.RandomResizedCrop.get_params(img, cfg["scale"], cfg["ratio"]), dtype=torch.int32)
            write(f"rand_{kind}_{iname}_{cfg.get('policy', cfg.get('interpolation', 'p'))}_{seeds}_{seed}", tensors, {"config": {"kind": kind, "image": iname, **cfg, "events": log.events}})

    # RandomErasing on normalised float tensors (value 0, per-channel, 'random'; p and the 10 attempts).
    base = T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])(F.convert_image_dtype(imgs["chelsea"], torch.float))
    erasing = [
        ({"p": 1.0, "scale": [0.02, 0.33], "ratio": [0.3, 3.3], "value": 0}, 6),
        ({"p": 0.5, "scale": [0.02, 0.33], "ratio": [0.3, 3.3], "value": [1.5, -2.0, 0.25]}, 4),
        ({"p": 1.0, "scale": [0.5, 0.99], "ratio": [0.1, 10.0], "value": 0}, 4),  # often no fit in 10 attempts
        ({"p": 1.0, "scale": [0.02, 0.33], "ratio": [0.3, 3.3], "value": "random"}, 3),
    ]
    for e, (cfg, seeds) in enumerate(erasing):
        t = T.RandomErasing(p=cfg["p"], scale=cfg["scale"], ratio=cfg["ratio"], value=cfg["value"])
        for seed in range(seeds):
            torch.manual_seed(2000 + seed)
            with DrawLog() as log:
                out = t(base)
            write(f"rand_erasing_{e}_{seed}", {"input": base, "output": out.contiguous()}, {"config": {"kind": "erasing", **cfg, "events": log.events}})

    # The reference's ClassificationPresetTrain on tensors.
    presets = [
        ({"crop_size": 64, "interpolation": "bilinear", "hflip_prob": 0.5, "policy": None, "ra_magnitude": 9, "random_erase_prob": 0.0}, "chelsea", 3),
        ({"crop_size": 64, "interpolation": "bilinear", "hflip_prob": 0.5, "policy": "imagenet", "ra_magnitude": 9, "random_erase_prob": 0.25}, "coffee", 6),
        ({"crop_size": 224, "interpolation": "bilinear", "hflip_prob": 0.5, "policy": "imagenet", "ra_magnitude": 9, "random_erase_prob": 0.25}, "chelsea", 2),
        ({"crop_size": 64, "interpolation": "bilinear", "hflip_prob": 0.5, "policy": "cifar10", "ra_magnitude": 9, "random_erase_prob": 1.0}, "chelsea", 2),
        ({"crop_size": 64, "interpolation": "nearest", "hflip_prob": 0.0, "policy": "svhn", "ra_magnitude": 9, "random_erase_prob": 0.0}, "coffee", 2),
        ({"crop_size": 64, "interpolation": "bilinear", "hflip_prob": 0.5, "policy": "ra", "ra_magnitude": 9, "random_erase_prob": 0.1}, "chelsea", 3),
        ({"crop_size": 64, "interpolation": "bilinear", "hflip_prob": 1.0, "policy": "ra", "ra_magnitude": 15, "random_erase_prob": 0.0}, "coffee", 2),
        ({"crop_size": 64, "interpolation": "bilinear", "hflip_prob": 0.5, "policy": "ta_wide", "ra_magnitude": 9, "random_erase_prob": 0.1}, "coffee", 3),
        ({"crop_size": 28, "interpolation": "bilinear", "hflip_prob": 0.5, "policy": "ta_wide", "ra_magnitude": 9, "random_erase_prob": 0.5, "mean": [0.286], "std": [0.353]}, "fmnist", 3),
    ]
    for p, (cfg, iname, seeds) in enumerate(presets):
        mean = cfg.get("mean", [0.485, 0.456, 0.406])
        std = cfg.get("std", [0.229, 0.224, 0.225])
        t = tensor_preset(cfg["crop_size"], InterpolationMode(cfg["interpolation"]), cfg["hflip_prob"], cfg["policy"], cfg["ra_magnitude"], cfg["random_erase_prob"], mean, std)
        for seed in range(seeds):
            torch.manual_seed(3000 + seed)
            with DrawLog() as log:
                out = t(small[iname])
            write(f"preset_{p}_{seed}", {"input": small[iname], "output": out.contiguous()}, {"config": {"image": iname, **cfg, "mean": mean, "std": std, "events": log.events}})
