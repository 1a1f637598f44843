"""Benchmark peers made by TorchVision: the same seeded random weights as a state dict (for our
models), an ONNX export (for ONNX Runtime), and a PyTorch CPU timing server.

    /usr/bin/python3 tools/reference/bench_peers.py export MODEL SHAPE OUT_DIR
        writes OUT_DIR/weights.pth and OUT_DIR/model.onnx; SHAPE is the input, e.g. 1,3,224,224
        (a detection model takes one image, 3,H,W)
    /usr/bin/python3 tools/reference/bench_peers.py serve MODEL SHAPE THREADS
        reads one command per line from stdin: "run" times one forward pass and prints its
        milliseconds; "quit" exits. Used by the benchmark to interleave PyTorch with the others.

MODEL is a TorchVision name, with "@520" / "@320" for the segmentation models' input size.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torch  # noqa: E402
from torchvision import models  # noqa: E402
from torchvision.models import detection, segmentation  # noqa: E402

from common import calibrate_batchnorm, randomize  # noqa: E402
from suite_segmentation import fcn_mobilenet_v3_large  # noqa: E402

CLASSIFIERS = ["mobilenet_v3_large", "mobilenet_v3_small", "mobilenet_v2", "resnet18", "resnet50"]
SEGMENTERS = {
    "lraspp_mobilenet_v3_large": lambda: segmentation.lraspp_mobilenet_v3_large(weights=None, weights_backbone=None),
    "deeplabv3_mobilenet_v3_large": lambda: segmentation.deeplabv3_mobilenet_v3_large(weights=None, weights_backbone=None),
    "fcn_mobilenet_v3_large": fcn_mobilenet_v3_large,
    "deeplabv3_resnet50": lambda: segmentation.deeplabv3_resnet50(weights=None, weights_backbone=None),
    "fcn_resnet50": lambda: segmentation.fcn_resnet50(weights=None, weights_backbone=None),
}
DETECTORS = {
    "fasterrcnn_mobilenet_v3_large_fpn": detection.fasterrcnn_mobilenet_v3_large_fpn,
    "fasterrcnn_mobilenet_v3_large_320_fpn": detection.fasterrcnn_mobilenet_v3_large_320_fpn,
    "fasterrcnn_resnet50_fpn": detection.fasterrcnn_resnet50_fpn,
    "retinanet_resnet50_fpn": detection.retinanet_resnet50_fpn,
}


def build(name):
    base = name.split("@")[0]
    if base in CLASSIFIERS:
        model = getattr(models, base)()
    elif base in SEGMENTERS:
        model = SEGMENTERS[base]()
    elif base in DETECTORS:
        model = DETECTORS[base](weights=None, weights_backbone=None)
        randomize(model, 4242)
        calibrate_batchnorm(model.backbone.body, (2, 3, 320, 320), 4242, batches=1)
        return model.eval()
    else:
        sys.exit(f"unknown model {name}; valid: {', '.join(CLASSIFIERS + list(SEGMENTERS) + list(DETECTORS))}")
    calibrate_batchnorm(randomize(model, 4242), (2, 3, 224, 224), 4242, batches=1)
    return model.eval()


def bench_input(shape):
    """Values in [0, 1), the same formula as the TypeScript side's benchInput."""
    n = 1
    for d in shape:
        n *= d
    s, out = 12345, []
    for _ in range(n):
        s = (s * 1103515245 + 12345) % 4294967296
        out.append(s / 4294967296)
    return torch.tensor(out, dtype=torch.float32).reshape(shape)


def call(model, x):
    return model([x]) if x.dim() == 3 else model(x)


def main(argv):
    torch.manual_seed(0)
    cmd, name, shape = argv[1], argv[2], [int(v) for v in argv[3].split(",")]
    model = build(name)
    x = bench_input(shape)
    if cmd == "export":
        out = argv[4]
        os.makedirs(out, exist_ok=True)
        torch.save(model.state_dict(), os.path.join(out, "weights.pth"))
        args = ([x],) if x.dim() == 3 else x
        torch.onnx.export(model, args, os.path.join(out, "model.onnx"), opset_version=13, input_names=["input"])
    elif cmd == "serve":
        torch.set_num_threads(int(argv[4]))
        print("ready", flush=True)
        with torch.no_grad():
            for line in sys.stdin:
                if line.strip() != "run":
                    break
                t0 = time.perf_counter()
                call(model, x)
                print((time.perf_counter() - t0) * 1000, flush=True)
    else:
        sys.exit("usage: bench_peers.py export|serve MODEL SHAPE ...")


if __name__ == "__main__":
    main(sys.argv)
