"""Loads a state dict our TypeScript models saved into TorchVision's model and runs it in eval mode.

    /usr/bin/python3 tools/reference/eval_state_dict.py MODEL NUM_CLASSES STATE.safetensors INPUT.npy OUT.npy

The safetensors file is what `Module.stateDict()` wrote (after training in train mode); it must load
strictly (`load_state_dict(strict=True)`); INPUT is float32 NCHW, OUT the logits. The training tests
of @mnv3/backbone use it to prove that torch loads what we save and gets our eval outputs.
"""
import json
import struct
import sys

import numpy as np
import torch
from torchvision import models

_DTYPES = {"F32": np.float32, "I64": np.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    body = raw[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        arr = np.frombuffer(body[a:b], dtype=_DTYPES[info["dtype"]]).reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


def main(argv):
    model_name, num_classes, state_path, input_path, out_path = argv[1:]
    torch.set_num_threads(1)
    model = getattr(models, model_name)(num_classes=int(num_classes))
    model.load_state_dict(read_safetensors(state_path), strict=True)
    model.eval()
    with torch.no_grad():
        y = model(torch.from_numpy(np.load(input_path)))
    np.save(out_path, y.numpy())


if __name__ == "__main__":
    main(sys.argv)
