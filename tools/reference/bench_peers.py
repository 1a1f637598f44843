"""Benchmark peers made by TorchVision: the same seeded random weights as a state dict (for our
models), an ONNX export (for ONNX Runtime), and a PyTorch CPU timing server.

    /usr/bin/python3 tools/reference/bench_peers.py export MODEL SHAPE OUT_DIR
        writes OUT_DIR/weights.pth and OUT_DIR/model.onnx; SHAPE is the input, e.g. 1,3,224,224
        (a detection model takes one image, 3,H,W)
    /usr/bin/python3 tools/reference/bench_peers.py serve MODEL SHAPE THREADS
        reads one command per line from stdin: "run" times one forward pass and prints its
        milliseconds; "quit" exits. Used by the benchmark to interleave PyTorch with the others.

MODEL is a TorchVision name, with "@520" / "@320" for the segmentation models' input size and
"@int8" for TorchVision's quantized MobileNetV3 (mobilenet_v3_large@int8, mobilenet_v3_small@int8):
`QuantizableMobileNetV3` with the same seeded random weights and calibrated BatchNorm, fused and
QAT-prepared for the qnnpack engine as `torchvision.models.quantization.mobilenet_v3_large(
quantize=True)` builds it, its observers run on varied images, then disabled (TorchVision's
checkpoint layout). `export` writes that QAT-prepared state_dict as weights.pth (what our loader
reads and converts) and a statically quantized QDQ ONNX model of the converted int8 model as
model.onnx (see `export_qdq`); `serve` times torch's own converted model on the qnnpack engine.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import copy  # noqa: E402

import torch  # noqa: E402
from torch.ao import quantization as tq  # noqa: E402
from torchvision import models  # noqa: E402
from torchvision.models import detection, segmentation  # noqa: E402
from torchvision.models.quantization import mobilenetv3 as qmnv3  # noqa: E402

from common import calibrate_batchnorm, randomize, varied_input  # noqa: E402
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


QUANTIZED = ["mobilenet_v3_large", "mobilenet_v3_small"]


@torch.no_grad()
def build_int8(base, seed=4242):
    """The QAT-prepared model (observers calibrated, then disabled) and torch's converted int8 model."""
    if base not in QUANTIZED:
        sys.exit(f"no quantized build of {base}; valid: {', '.join(f'{q}@int8' for q in QUANTIZED)}")
    torch.backends.quantized.engine = "qnnpack"
    settings, last_channel = qmnv3._mobilenet_v3_conf(base)
    model = qmnv3.QuantizableMobileNetV3(settings, last_channel, block=qmnv3.QuantizableInvertedResidual)
    qmnv3._replace_relu(model)
    calibrate_batchnorm(randomize(model, seed), (2, 3, 224, 224), seed, batches=1)
    model.train()
    model.fuse_model(is_qat=True)
    model.qconfig = tq.get_default_qat_qconfig("qnnpack")
    tq.prepare_qat(model, inplace=True)
    model.eval()
    for i in range(2):
        model(varied_input((4, 3, 224, 224), seed + 31 * (i + 1)))
    model.apply(tq.disable_observer)
    converted = tq.convert(copy.deepcopy(model).eval(), inplace=False)
    return model, converted.eval()


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


def export_qdq(converted, x, path):
    """The converted int8 model as a statically quantized QDQ ONNX model: torch 1.13's exporter
    unpacks every quantized op of the converted model (opset 13) into DequantizeLinear → float op →
    QuantizeLinear with the op's own scales and zero points (quantized Conv / Linear → Conv / Gemm
    on dequantized int8 weights and int32 bias, hardswish → HardSigmoid·x, the SE's and block's
    FloatFunctional mul / add → Mul / Add), which ONNX Runtime fuses back into its QLinear kernels."""
    torch.onnx.export(converted, x, path, opset_version=13, input_names=["input"])


def main(argv):
    torch.manual_seed(0)
    cmd, name, shape = argv[1], argv[2], [int(v) for v in argv[3].split(",")]
    x = bench_input(shape)
    if name.endswith("@int8"):
        qat, converted = build_int8(name.split("@")[0])
        if cmd == "export":
            out = argv[4]
            os.makedirs(out, exist_ok=True)
            torch.save(qat.state_dict(), os.path.join(out, "weights.pth"))
            export_qdq(converted, x, os.path.join(out, "model.onnx"))
            return
        model = converted
    else:
        model = build(name)
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
