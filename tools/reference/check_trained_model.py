"""Loads a train.py-format checkpoint written by @mnv3/train-recipes' trainer into TorchVision's own
classification model (torch 1.13), in eval mode, and prints its logits on an input.

Usage: /usr/bin/python3 tools/reference/check_trained_model.py CKPT.pth MODEL NUM_CLASSES INPUT.f32 N H W [model|model_ema]

INPUT.f32 holds float32 NCHW images (N×3×H×W, little-endian). The checkpoint's entry (`model`, or
`model_ema` with its `module.` prefix and `n_averaged` dropped) is loaded with strict=True, as
train.py's --resume and --test-only do. Prints JSON: {"logits": [[...], ...], "epoch": k, "keys": n}.
"""
import json
import sys

import numpy as np
import torch
import torchvision


def main():
    ckpt_path, model_name, num_classes, input_path, n, h, w = sys.argv[1:8]
    entry = sys.argv[8] if len(sys.argv) > 8 else "model"
    ckpt = torch.load(ckpt_path, map_location="cpu")
    state = ckpt[entry]
    if entry == "model_ema":
        state = {k[len("module."):]: v for k, v in state.items() if k.startswith("module.")}
    model = torchvision.models.__dict__[model_name](num_classes=int(num_classes))
    model.load_state_dict(state, strict=True)
    model.eval()
    x = torch.from_numpy(np.fromfile(input_path, dtype="<f4").reshape(int(n), 3, int(h), int(w)).copy())
    with torch.no_grad():
        logits = model(x)
    print(json.dumps({"logits": logits.tolist(), "epoch": int(ckpt["epoch"]), "keys": len(state)}))


if __name__ == "__main__":
    main()
