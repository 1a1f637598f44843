"""Benchmark peers made by TorchVision: the same seeded random weights as a state dict (for our
models), an ONNX export (for ONNX Runtime), and a PyTorch CPU timing server.

    /usr/bin/python3 tools/reference/bench_peers.py export MODEL H W OUT_DIR
        writes OUT_DIR/MODEL.pth and OUT_DIR/MODEL.onnx (input NCHW [1,3,H,W], named "input")
    /usr/bin/python3 tools/reference/bench_peers.py serve MODEL H W THREADS
        reads one command per line from stdin: "run" times one forward pass and prints its
        milliseconds; "quit" exits. Used by the benchmark to interleave PyTorch with the others.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
from torchvision import models  # noqa: E402

from common import calibrate_batchnorm, randomize  # noqa: E402

CLASSIFIERS = ["mobilenet_v3_large", "mobilenet_v3_small", "mobilenet_v2", "resnet18", "resnet50"]


def build(name, h, w):
    if name not in CLASSIFIERS:
        sys.exit(f"unknown model {name}; valid: {', '.join(CLASSIFIERS)}")
    model = getattr(models, name)()
    calibrate_batchnorm(randomize(model, 4242), (2, 3, h, w), 4242, batches=1)
    return model.eval()


def main(argv):
    torch.manual_seed(0)
    cmd, name, h, w = argv[1], argv[2], int(argv[3]), int(argv[4])
    if cmd == "export":
        out = argv[5]
        os.makedirs(out, exist_ok=True)
        model = build(name, h, w)
        torch.save(model.state_dict(), os.path.join(out, name + ".pth"))
        torch.onnx.export(model, torch.zeros(1, 3, h, w), os.path.join(out, name + ".onnx"), opset_version=13,
                          input_names=["input"], output_names=["output"])
    elif cmd == "serve":
        torch.set_num_threads(int(argv[5]))
        model = build(name, h, w)
        x = torch.randn(1, 3, h, w)
        print("ready", flush=True)
        with torch.no_grad():
            for line in sys.stdin:
                if line.strip() != "run":
                    break
                t0 = time.perf_counter()
                model(x)
                print((time.perf_counter() - t0) * 1000, flush=True)
    else:
        sys.exit("usage: bench_peers.py export|serve MODEL H W ...")


if __name__ == "__main__":
    main(sys.argv)
