"""Fixtures for @mnv3/quantize: TorchVision's quantized MobileNetV3 on the QNNPACK engine.

QAT cases (`qat_<arch>`), as `torchvision.models.quantization.mobilenet_v3_large(quantize=True)`
builds them: `_replace_relu`, `fuse_model(is_qat=True)`, `get_default_qat_qconfig('qnnpack')`,
`prepare_qat`; seeded random weights with calibrated BatchNorm statistics; the fake-quant observers
run on varied images in eval mode. The saved `state.*` is that QAT-prepared `state_dict` (the layout
of TorchVision's IMAGENET1K_QNNPACK_V1 checkpoint; also written as `<case>.pth`). Large has its
observers disabled afterwards (as TorchVision's QAT recipe leaves them); Small keeps them enabled,
so `convert` observes each fused weight once more. Then `convert` on the qnnpack engine, and:
- `q.<module>.*`: every quantized conv/linear's int8 weight (`int_repr`), weight scale, float bias,
  the int32 bias qnnpack prepacks (quantized with input scale x weight scale), input and output
  scale / zero point;
- per input size: `input_<size>` (float NCHW), `quant_<size>` (QuantStub output, uint8),
  `features.<i>_<size>` (each block's quantized output, uint8 NCHW), `pool_<size>`,
  `classifier.<i>_<size>` and `output_<size>` (dequantized logits), with each tensor's scale and
  zero point as `<name>.scale` / `<name>.zero_point`.

Observer cases (`observers`): batches fed to HistogramObserver, MinMaxObserver and
MovingAverageMinMaxObserver as get_default_qconfig('qnnpack') configures them, with the min / max /
histogram after every batch and the final scale / zero point.

PTQ cases (`ptq_<arch>`): TorchVision's reference `--post-training-quantize` flow (fuse_model in
eval, get_default_qconfig('qnnpack'), prepare, calibration batches, convert) from the float
`state_dict` saved here, with every observer's scale / zero point and the converted model's outputs.
"""
import copy
import os

import torch
from torch.ao import quantization as tq
from torchvision.models.quantization import mobilenetv3 as qmnv3

from common import calibrate_batchnorm, randomize, varied_input

ARCHS = ["mobilenet_v3_large", "mobilenet_v3_small"]
SIZES = [(224, 224, 8), (160, 192, 2), (96, 96, 2), (17, 20, 2)]


def _float_model(arch, seed):
    settings, last_channel = qmnv3._mobilenet_v3_conf(arch)
    model = qmnv3.QuantizableMobileNetV3(settings, last_channel, block=qmnv3.QuantizableInvertedResidual)
    qmnv3._replace_relu(model)
    calibrate_batchnorm(randomize(model, seed), (8, 3, 224, 224), seed)
    return model.eval()


def _record_quantized(model, x, size, out):
    """Runs the converted model, recording the QuantStub output, each block, the pool and the classifier."""
    names = {"quant": model.quant, "pool": model.avgpool}
    for i, m in enumerate(model.features):
        names[f"features.{i}"] = m
    for i in (0, 1, 3):
        names[f"classifier.{i}"] = model.classifier[i]
    handles = []
    seen = {}

    def hook(name):
        def fn(_m, _inp, y):
            seen[name] = y

        return fn

    for name, m in names.items():
        handles.append(m.register_forward_hook(hook(name)))
    y = model(x)
    for h in handles:
        h.remove()
    for name, q in seen.items():
        out[f"{name}_{size}"] = q.int_repr().contiguous()
        out[f"{name}.scale"] = torch.tensor([q.q_scale()], dtype=torch.float64)
        out[f"{name}.zero_point"] = torch.tensor([q.q_zero_point()], dtype=torch.int64)
    out[f"output_{size}"] = y


def _record_qparams(model, x, out):
    """Every quantized conv / linear: int8 weights, scales, float and int32 biases, in/out qparams."""
    inputs = {}
    handles = []
    for name, m in model.named_modules():
        if isinstance(m, (torch.ao.nn.quantized.Conv2d, torch.ao.nn.quantized.Linear)):
            handles.append(m.register_forward_pre_hook(lambda m, inp, name=name: inputs.setdefault(name, inp[0])))
    model(x)
    for h in handles:
        h.remove()
    for name, m in model.named_modules():
        if name not in inputs:
            continue
        w = m.weight()
        b = m.bias()
        in_scale = inputs[name].q_scale()
        out[f"q.{name}.weight"] = w.int_repr()
        out[f"q.{name}.weight_scale"] = torch.tensor([w.q_scale()], dtype=torch.float64)
        out[f"q.{name}.bias"] = b
        # What qnnpack's prepack does with the float bias (quant_utils::QuantizeBias).
        out[f"q.{name}.bias_int32"] = torch.quantize_per_tensor(b, w.q_scale() * in_scale, 0, torch.qint32).int_repr()
        out[f"q.{name}.input_scale"] = torch.tensor([in_scale], dtype=torch.float64)
        out[f"q.{name}.input_zero_point"] = torch.tensor([inputs[name].q_zero_point()], dtype=torch.int64)
        out[f"q.{name}.scale"] = torch.tensor([m.scale], dtype=torch.float64)
        out[f"q.{name}.zero_point"] = torch.tensor([m.zero_point], dtype=torch.int64)


@torch.no_grad()
def _qat_case(arch, seed, disable_observers):
    model = _float_model(arch, seed)
    model.train()
    model.fuse_model(is_qat=True)
    model.qconfig = tq.get_default_qat_qconfig("qnnpack")
    tq.prepare_qat(model, inplace=True)
    model.eval()  # BatchNorm keeps its statistics; the fake-quant observers still update
    for i in range(3):
        model(varied_input((4, 3, 224, 224), seed + 31 * (i + 1)))
    if disable_observers:
        model.apply(tq.disable_observer)
    state = copy.deepcopy(model.state_dict())
    qmodel = copy.deepcopy(model)
    tq.convert(qmodel, inplace=True)
    qmodel.eval()
    tensors = {}
    for h, w, n in SIZES:
        x = varied_input((n, 3, h, w), seed + h * 7 + w)
        tensors[f"input_{h}x{w}"] = x
        _record_quantized(qmodel, x, f"{h}x{w}", tensors)
    _record_qparams(qmodel, tensors["input_96x96"], tensors)
    return state, tensors


def _observer_cases():
    g = torch.Generator().manual_seed(77)
    batches = [
        torch.randn((4, 8, 6, 6), generator=g) * 0.3,  # within (-1, 1): histc's int() range is [0, 0]
        torch.randn((4, 8, 6, 6), generator=g) * 2.5 + 0.7,
        torch.rand((4, 8, 6, 6), generator=g) * 6.0,  # one-sided
        torch.randn((4, 8, 6, 6), generator=g) * 1.2 - 3.1,
        torch.randn((2, 16, 5, 7), generator=g).pow(3) * 0.8,  # heavy tails
    ]
    observers = {
        "histogram": lambda: tq.HistogramObserver(reduce_range=False),  # get_default_qconfig('qnnpack')
        "minmax": lambda: tq.MinMaxObserver(),
        "minmax_symmetric_qint8": lambda: tq.MinMaxObserver(dtype=torch.qint8, qscheme=torch.per_tensor_symmetric),
        "moving_average": lambda: tq.MovingAverageMinMaxObserver(),
    }
    tensors = {f"batch{i}": b for i, b in enumerate(batches)}
    for name, make in observers.items():
        obs = make()
        for i, b in enumerate(batches):
            obs(b)
            tensors[f"{name}.min_val.{i}"] = obs.min_val.clone().reshape(1)
            tensors[f"{name}.max_val.{i}"] = obs.max_val.clone().reshape(1)
            if name == "histogram":
                tensors[f"{name}.histogram.{i}"] = obs.histogram.clone()
                scale, zp = obs.calculate_qparams()
                tensors[f"{name}.scale.{i}"] = scale.clone()
                tensors[f"{name}.zero_point.{i}"] = zp.clone()
        scale, zp = obs.calculate_qparams()
        tensors[f"{name}.scale"] = scale
        tensors[f"{name}.zero_point"] = zp.to(torch.int64)
    return tensors


@torch.no_grad()
def _ptq_case(arch, seed):
    model = _float_model(arch, seed)
    float_state = copy.deepcopy(model.state_dict())
    model.fuse_model(is_qat=False)
    model.qconfig = tq.get_default_qconfig("qnnpack")
    tq.prepare(model, inplace=True)
    tensors = {}
    for i in range(2):
        x = varied_input((2, 3, 96, 96), seed + 13 * (i + 1))
        tensors[f"calibration{i}"] = x
        model(x)
    observed = {}
    for name, m in model.named_modules():
        app = getattr(m, "activation_post_process", None)
        if isinstance(app, tq.HistogramObserver):
            s, z = app.calculate_qparams()
            observed[name] = app
            tensors[f"obs.{name}.min_val"] = app.min_val.reshape(1)
            tensors[f"obs.{name}.max_val"] = app.max_val.reshape(1)
            tensors[f"obs.{name}.scale"] = s
            tensors[f"obs.{name}.zero_point"] = z.to(torch.int64)
    tq.convert(model, inplace=True)
    for h, w, n in [(96, 96, 4), (64, 80, 2)]:
        x = varied_input((n, 3, h, w), seed + h + w)
        tensors[f"input_{h}x{w}"] = x
        _record_quantized(model, x, f"{h}x{w}", tensors)
    _record_qparams(model, tensors["input_96x96"], tensors)
    return float_state, tensors


def build(write, out):
    torch.backends.quantized.engine = "qnnpack"
    for i, arch in enumerate(ARCHS):
        seed = 5000 + i
        disable = arch == "mobilenet_v3_large"
        state, tensors = _qat_case(arch, seed, disable)
        torch.save(state, os.path.join(out, f"qat_{arch}.pth"))
        config = dict(model=arch, observersDisabled=disable, sizes=[[h, w, n] for h, w, n in SIZES])
        write(f"qat_{arch}", {**tensors, **{"state." + k: v for k, v in state.items()}}, {"config": config})

    write("observers", _observer_cases(), {"config": dict(batches=5)})

    for i, arch in enumerate(ARCHS):
        seed = 6000 + i
        float_state, tensors = _ptq_case(arch, seed)
        config = dict(model=arch, sizes=[[96, 96, 4], [64, 80, 2]])
        write(f"ptq_{arch}", {**tensors, **{"state." + k: v for k, v in float_state.items()}}, {"config": config})

