"""Helpers shared by the oracle's suites: seeded random weights and safetensors output.

Only numpy, torch and torchvision (Debian's python3-torchvision) are used, so the oracle runs
wherever Debian does.
"""
import json
import struct

import numpy as np
import torch
import torchvision

_ST_DTYPES = {
    np.dtype("float64"): "F64",
    np.dtype("float32"): "F32",
    np.dtype("float16"): "F16",
    np.dtype("int64"): "I64",
    np.dtype("int32"): "I32",
    np.dtype("int16"): "I16",
    np.dtype("int8"): "I8",
    np.dtype("uint8"): "U8",
    np.dtype("bool"): "BOOL",
}


def versions():
    return {"torch": torch.__version__, "torchvision": torchvision.__version__}


def write_safetensors(path, tensors, metadata):
    """Writes {name: array} with string metadata; numpy arrays or torch tensors."""
    header = {"__metadata__": {k: v if isinstance(v, str) else json.dumps(v) for k, v in metadata.items()}}
    blobs = []
    offset = 0
    for name, value in tensors.items():
        st_dtype = None
        if isinstance(value, torch.Tensor) and value.dtype == torch.bfloat16:
            # numpy has no bfloat16: write the raw bit patterns.
            value, st_dtype = value.detach().cpu().contiguous().view(torch.int16), "BF16"
        arr = value.detach().cpu().numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
        arr = arr.copy(order="C")  # ascontiguousarray would turn 0-d scalars into shape [1]
        data = arr.tobytes()
        header[name] = {"dtype": st_dtype or _ST_DTYPES[arr.dtype], "shape": list(arr.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    tmp = str(path) + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)
    import os

    os.replace(tmp, path)


@torch.no_grad()
def randomize(model, seed):
    """Seeded random weights with randomised BatchNorm statistics.

    Default init leaves BatchNorm as the identity and MobileNet's outputs near 1e-10, which proves
    nothing; here every weight, bias, running mean and variance is random, scaled so activations
    stay of order one through deep networks.
    """
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.Conv2d):
            fan_in = m.weight[0].numel()
            m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (1.0 / fan_in) ** 0.5)
            if m.bias is not None:
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
        elif isinstance(m, torch.nn.Linear):
            m.weight.copy_(torch.randn(m.weight.shape, generator=g) * (1.0 / m.in_features) ** 0.5)
            if m.bias is not None:
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.1)
        elif isinstance(m, (torch.nn.BatchNorm2d, torchvision.ops.FrozenBatchNorm2d)):
            n = m.weight.shape[0]
            m.weight.copy_(torch.rand(n, generator=g) * 0.8 + 0.6)
            m.bias.copy_(torch.randn(n, generator=g) * 0.2)
            m.running_mean.copy_(torch.randn(n, generator=g) * 0.2)
            m.running_var.copy_(torch.rand(n, generator=g) * 0.8 + 0.6)
            if getattr(m, "num_batches_tracked", None) is not None:
                m.num_batches_tracked.fill_(int(torch.randint(1, 1000, (1,), generator=g)))
    return model


def state_entries(model, prefix="state."):
    return {prefix + k: v for k, v in model.state_dict().items()}


def seeded_input(shape, seed):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g)


@torch.no_grad()
def calibrate_batchnorm(model, shape, seed, batches=3):
    """Replaces BatchNorm running statistics by ones measured on varied random images, then
    perturbs them (so they stay random). With plain random statistics a deep network's output
    barely depends on its input (logits of two images agree to 1e-4), which proves nothing; with
    calibrated ones every layer sees activations of order one that differ from image to image.
    """
    bns = [m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    for m in bns:
        m.reset_running_stats()
        m.momentum = None  # cumulative average over the calibration batches
    model.train()
    for i in range(batches):
        model(varied_input(shape, seed + 7919 * (i + 1)))
    model.eval()
    g = torch.Generator().manual_seed(seed)
    for m in bns:
        n = m.running_var.shape[0]
        std = m.running_var.sqrt()
        m.running_mean.add_(torch.randn(n, generator=g) * 0.1 * std)
        m.running_var.mul_(torch.rand(n, generator=g) * 0.4 + 0.8)
        m.momentum = 0.01
    return model


def varied_input(shape, seed):
    """Random images that differ in brightness, contrast and texture per image and channel."""
    g = torch.Generator().manual_seed(seed)
    n, c = shape[0], shape[1]
    noise = torch.randn(shape, generator=g)
    smooth = torch.nn.functional.interpolate(torch.randn((n, c, 4, 4), generator=g), size=shape[2:], mode="bilinear", align_corners=False)
    scale = torch.rand((n, c, 1, 1), generator=g) * 1.5 + 0.25
    offset = torch.randn((n, c, 1, 1), generator=g) * 0.5
    return (noise * 0.5 + smooth * 1.5) * scale + offset
