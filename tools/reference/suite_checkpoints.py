"""Fixtures for @mnv3/layers' checkpoint readers: files written by torch.save and numpy.

For each case NAME this writes `NAME_zip.pth` (torch >= 1.6 zip container) and
`NAME_legacy.pth` (`_use_new_zipfile_serialization=False`), plus `NAME.safetensors` holding the
expected tensors (contiguous copies) under the same keys. Also hostile files (never loaded here),
a deflated re-pack of a zip checkpoint, and `.npy` files written by numpy with their expected
values in `npy_expected.safetensors`.
"""
import argparse
import os
import zipfile
from collections import OrderedDict

import numpy as np
import torch
from torch import nn
from torchvision.ops.misc import Conv2dNormActivation, SqueezeExcitation

from common import randomize


def dtype_case(g):
    return OrderedDict(
        f32=torch.randn(3, 4, generator=g),
        f16=torch.randn(2, 5, generator=g).half(),
        bf16=torch.randn(4, 3, generator=g).bfloat16(),
        f64=torch.randn(3, 2, generator=g).double(),
        i64=torch.randint(-(2**40), 2**40, (5,), generator=g, dtype=torch.int64),
        i32=torch.randint(-(2**30), 2**30, (2, 3), generator=g, dtype=torch.int32),
        i16=torch.randint(-30000, 30000, (7,), generator=g, dtype=torch.int16),
        u8=torch.randint(0, 256, (2, 2, 2), generator=g, dtype=torch.uint8),
        i8=torch.randint(-128, 128, (6,), generator=g, dtype=torch.int8),
        bool=torch.rand(3, 3, generator=g) > 0.5,
        scalar=torch.tensor(3.5),
        empty=torch.zeros(0, 3),
        num_batches_tracked=torch.tensor(17),
    )


def view_case(g):
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    shared = torch.randn(10, generator=g)
    return OrderedDict(
        base=base,
        transposed=base.t(),
        sliced=base[1:3, 2:5],
        strided=base[::2, ::3],
        row=base[2],
        expanded=torch.randn(3, 1, generator=g).expand(3, 4),
        permuted=torch.randn(2, 3, 4, generator=g).permute(2, 0, 1),
        channels_last=torch.randn(2, 3, 4, 5, generator=g).contiguous(memory_format=torch.channels_last),
        shared_a=shared[:5],
        shared_b=shared[5:],
        shared_half_t=torch.randn(3, 5, generator=g).half().t(),
        long_view=torch.arange(20, dtype=torch.int64).reshape(4, 5)[:, 1:4],
    )


def small_module():
    m = nn.Sequential(Conv2dNormActivation(3, 8, 3, stride=2, activation_layer=nn.Hardswish), SqueezeExcitation(8, 4), Conv2dNormActivation(8, 4, 1))
    return randomize(m, 7).eval()


def save_both(out, name, obj):
    torch.save(obj, os.path.join(out, f"{name}_zip.pth"))
    torch.save(obj, os.path.join(out, f"{name}_legacy.pth"), _use_new_zipfile_serialization=False)


class Evil:
    """Pickles as a call to an arbitrary function; the files are only ever read by our loader."""

    def __init__(self, fn, arg):
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


def contiguous(d):
    return {k: v.contiguous() for k, v in d.items()}


def build(write, out):
    g = torch.Generator().manual_seed(42)

    dtypes = dtype_case(g)
    save_both(out, "dtypes", dtypes)
    write("dtypes", contiguous(dtypes), {})

    views = view_case(g)
    save_both(out, "views", views)
    write("views", contiguous(views), {})

    module = small_module()
    sd = module.state_dict()
    assert hasattr(sd, "_metadata")
    save_both(out, "module", sd)
    write("module", contiguous(sd), {})

    # TorchVision's reference scripts save {"model": ..., "optimizer": ..., "args": ..., "epoch": ...}.
    opt = torch.optim.SGD(module.parameters(), lr=0.1, momentum=0.9)
    module.train()
    module(torch.randn(2, 3, 9, 9, generator=g)).sum().backward()
    opt.step()
    module.eval()
    nested = {
        "model": module.state_dict(),
        "optimizer": opt.state_dict(),
        "args": argparse.Namespace(lr=0.1, model="mobilenet_v3_small", epochs=600),
        "epoch": 3,
    }
    save_both(out, "nested", nested)
    write("nested", contiguous(nested["model"]), {})
    save_both(out, "no_state_dict", {"epoch": 3, "notes": "no weights here", "history": [1.0, 0.5]})

    # A real-size network: MobileNetV3-Small's state dict, both formats.
    from torchvision.models import mobilenet_v3_small

    net = randomize(mobilenet_v3_small(), 11).eval()
    save_both(out, "mnv3_small", net.state_dict())
    write("mnv3_small", contiguous(net.state_dict()), {})

    # The zip container re-packed with deflate (torch never compresses, but zip readers must cope).
    with zipfile.ZipFile(os.path.join(out, "module_zip.pth")) as src, zipfile.ZipFile(os.path.join(out, "module_deflated.pth"), "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))

    # Hostile files: a module-level call via GLOBAL (protocol 2), and via STACK_GLOBAL (protocol 4).
    torch.save({"w": torch.ones(2), "x": Evil(os.system, "echo pwned")}, os.path.join(out, "evil_system_zip.pth"))
    torch.save({"x": Evil(os.system, "echo pwned")}, os.path.join(out, "evil_system_legacy.pth"), _use_new_zipfile_serialization=False)
    torch.save({"x": Evil(eval, "1+1")}, os.path.join(out, "evil_eval_zip.pth"), pickle_protocol=4)

    # .npy files written by numpy itself.
    rng = np.random.default_rng(5)
    arrays = {
        "f32": rng.standard_normal((3, 4)).astype(np.float32),
        "f64": rng.standard_normal((2, 3, 2)),
        "i64": rng.integers(-(2**50), 2**50, (5,), dtype=np.int64),
        "i32": rng.integers(-(2**30), 2**30, (2, 2), dtype=np.int32),
        "u8": rng.integers(0, 256, (4, 3), dtype=np.uint8),
        "f16": rng.standard_normal((3,)).astype(np.float16),
        "bool": rng.random((2, 3)) > 0.5,
        "scalar": np.array(2.5, dtype=np.float32),
        "empty": np.zeros((0, 4), dtype=np.float32),
    }
    for name, arr in arrays.items():
        np.save(os.path.join(out, f"npy_{name}.npy"), arr)
    fortran = np.asfortranarray(rng.standard_normal((4, 5, 3)).astype(np.float32))
    assert fortran.flags.f_contiguous and not fortran.flags.c_contiguous
    np.save(os.path.join(out, "npy_fortran.npy"), fortran)
    arrays["fortran"] = fortran
    arrays["big_f4"] = rng.standard_normal((3, 2)).astype(">f4")
    np.save(os.path.join(out, "npy_big_f4.npy"), arrays["big_f4"])
    arrays["big_i8"] = rng.integers(-(2**40), 2**40, (4,)).astype(">i8")
    np.save(os.path.join(out, "npy_big_i8.npy"), arrays["big_i8"])
    arrays["v2"] = rng.standard_normal((2, 2)).astype(np.float32)
    with open(os.path.join(out, "npy_v2.npy"), "wb") as f:
        np.lib.format.write_array(f, arrays["v2"], version=(2, 0))
    write("npy_expected", {k: v.astype(v.dtype.newbyteorder("="), order="C") for k, v in arrays.items()}, {})
