"""TorchVision oracle: writes parity fixtures for the TypeScript packages.

Run with Debian's interpreter, which has python3-torchvision:
    /usr/bin/python3 tools/reference/oracle.py SUITE OUT_DIR

Each case is one safetensors file: `input`, `output` (and named intermediates), the module's
`state_dict` under `state.`, and metadata `config` (JSON) plus the torch/torchvision versions.
Weights are seeded random with randomised BatchNorm statistics; nothing here ever reads our own
outputs.
"""
import importlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402

from common import versions, write_safetensors  # noqa: E402

SUITES = ["layers", "checkpoints", "transforms", "backbone", "classify", "segmentation", "segment_pipeline", "detection", "retinanet", "trained", "quantize", "quantize_trained", "train", "augment", "datasets", "grad", "qat"]


def main(argv):
    if len(argv) != 3 or argv[1] not in SUITES:
        sys.exit(f"usage: oracle.py SUITE OUT_DIR  (SUITE: {', '.join(SUITES)})")
    suite, out = argv[1], argv[2]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    meta_common = versions()

    def write(name, tensors, metadata):
        write_safetensors(os.path.join(out, name + ".safetensors"), tensors, {**meta_common, **metadata})

    build = importlib.import_module(f"suite_{suite}").build
    # Suites that write files other than safetensors cases (e.g. .pth, .npy) take the directory too.
    if build.__code__.co_argcount >= 2:
        build(write, out)
    else:
        build(write)


if __name__ == "__main__":
    main(sys.argv)
