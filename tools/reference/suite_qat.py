"""Fixtures for @mnv3/quantize/qat: quantization-aware training as torch 1.13 runs it.

`fake_quant`: torch.fake_quantize_per_tensor_affine forward and gradient at and around the clamp
boundaries and at half-way points (round half to even); a fused observer + fake quant
(FusedMovingAvgObsFakeQuantize of get_default_qat_qconfig('qnnpack'): activations quint8 affine,
weights qint8 per-tensor symmetric) fed batches in turn, with output, gradient, min / max / scale /
zero point after each; ChooseQuantizationParams' edge cases (all zero, one-sided, tiny ranges).

`model_small`: a float QuantizableMobileNetV3-Small (seeded random weights, calibrated BatchNorm
statistics, 10 classes, `state.*` the float state_dict), then fuse_model(is_qat=True) + prepare_qat
with the qnnpack QAT qconfig (`prepared.*`: its state_dict before any data). Dropout p set to 0 (its
masks are random). Then, in train mode, 3 SGD steps (lr 0.05, cross-entropy) on 2×3×64×64 inputs:
`step<k>.output` (logits), `step<k>.loss`, `step<k>.grad.<param>` (every parameter's gradient) and,
after the step, `step<k>.state.*` (weights, observers, BatchNorm running statistics). A fourth step
with observers disabled and BatchNorm frozen (`step3.*`). Then eval mode: `eval.output` and
`eval.state.*` (observers still run in eval mode until disabled: here they are). Then
`torch.ao.quantization.convert` on the qnnpack engine: `int8.output` (dequantized logits) and
`int8.quant_scale` etc. on `eval.input`.
"""
import copy

import torch
import torch.nn.functional as F
from torch.ao import quantization as tq
from torchvision.models.quantization import mobilenetv3 as qmnv3

from common import calibrate_batchnorm, randomize, varied_input


def _fake_quant_cases(write):
    t = {}
    # Boundaries: levels just inside / outside [qmin, qmax], half-way points, zero.
    scale, zp = 0.05, 7
    lv = torch.tensor([-8.5, -7.5, -7.0, -6.5, -0.5, 0.0, 0.5, 1.5, 2.5, 247.5, 248.0, 248.5, 249.0, 300.0, -300.0])
    x = torch.cat([lv * scale, torch.randn(200, generator=torch.Generator().manual_seed(1)) * 6.0])
    x.requires_grad_(True)
    y = torch.fake_quantize_per_tensor_affine(x, scale, zp, 0, 255)
    g = torch.linspace(-1, 1, x.numel())
    (y * g).sum().backward()
    t.update({"affine.x": x.detach(), "affine.y": y.detach(), "affine.dy": g, "affine.dx": x.grad.clone()})
    t["affine.scale"] = torch.tensor([scale], dtype=torch.float32)
    t["affine.zero_point"] = torch.tensor([zp], dtype=torch.int64)

    # The fused observer + fake quant, batch after batch (activation and weight qconfigs).
    gen = torch.Generator().manual_seed(5)
    batches = [
        torch.randn((2, 3, 5, 5), generator=gen) * 2.0 + 0.3,
        torch.rand((2, 3, 5, 5), generator=gen) * 4.0,  # one-sided
        torch.randn((2, 3, 5, 5), generator=gen) * 0.5 - 2.0,
        torch.randn((2, 3, 5, 5), generator=gen).pow(3),
    ]
    qconfig = tq.get_default_qat_qconfig("qnnpack")
    for kind, make in (("act", qconfig.activation), ("wt", qconfig.weight)):
        fq = make()
        for i, b in enumerate(batches):
            if i == 3:
                fq.disable_observer()
            xb = b.clone().requires_grad_(True)
            yb = fq(xb)
            gb = torch.linspace(-1, 1, xb.numel()).reshape(xb.shape)
            (yb * gb).sum().backward()
            p = f"fused.{kind}.{i}"
            t.update({f"{p}.x": b, f"{p}.y": yb.detach(), f"{p}.dy": gb, f"{p}.dx": xb.grad.clone()})
            ob = fq.activation_post_process
            t.update({f"{p}.min_val": ob.min_val.clone(), f"{p}.max_val": ob.max_val.clone(), f"{p}.scale": fq.scale.clone(), f"{p}.zero_point": fq.zero_point.clone()})

    # ChooseQuantizationParams edge cases: one observation of a constant-range tensor each.
    ranges = [(0.0, 0.0), (0.5, 2.0), (-3.0, -0.25), (-1e-6, 2e-6), (0.0, 1e-5), (-1e-5, 0.0), (-0.3, 7.1), (-2.5, 0.01), (-1e-3, 1e-3), (1e-7, 1e-6)]
    mins, maxs, ascale, azp, wscale, wzp = [], [], [], [], [], []
    for lo, hi in ranges:
        xr = torch.tensor([lo, hi], dtype=torch.float32)
        for make, sc, z in ((qconfig.activation, ascale, azp), (qconfig.weight, wscale, wzp)):
            fq = make()
            fq(xr)
            sc.append(float(fq.scale[0]))
            z.append(int(fq.zero_point[0]))
        mins.append(lo)
        maxs.append(hi)
    t["qparams.min"] = torch.tensor(mins, dtype=torch.float32)
    t["qparams.max"] = torch.tensor(maxs, dtype=torch.float32)
    t["qparams.act_scale"] = torch.tensor(ascale, dtype=torch.float32)
    t["qparams.act_zero_point"] = torch.tensor(azp, dtype=torch.int64)
    t["qparams.wt_scale"] = torch.tensor(wscale, dtype=torch.float32)
    t["qparams.wt_zero_point"] = torch.tensor(wzp, dtype=torch.int64)
    write("fake_quant", t, {})


def _state(prefix, model):
    return {f"{prefix}.{k}": v.detach().clone() for k, v in model.state_dict().items()}


def _model_case(write, out_dir):
    seed = 11
    settings, last_channel = qmnv3._mobilenet_v3_conf("mobilenet_v3_small")
    model = qmnv3.QuantizableMobileNetV3(settings, last_channel, block=qmnv3.QuantizableInvertedResidual, num_classes=10)
    qmnv3._replace_relu(model)
    with torch.no_grad():
        randomize(model, seed)
    calibrate_batchnorm(model, (8, 3, 64, 64), seed)
    t = {f"state.{k}": v.clone() for k, v in model.state_dict().items()}
    # TorchVision's QAT flow (references/classification/train_quantization.py).
    model.train()
    model.fuse_model(is_qat=True)
    model.qconfig = tq.get_default_qat_qconfig("qnnpack")
    tq.prepare_qat(model, inplace=True)
    model.classifier[2].p = 0.0
    t.update(_state("prepared", model))
    torch.save(model.state_dict(), f"{out_dir}/prepared_small.pth")
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    for k in range(4):
        if k == 3:
            model.apply(tq.disable_observer)
            model.apply(torch.nn.intrinsic.qat.freeze_bn_stats)
        x = varied_input((2, 3, 64, 64), seed + 101 * (k + 1))
        labels = torch.tensor([k % 10, (3 * k + 1) % 10])
        model.train()
        opt.zero_grad()
        y = model(x)
        loss = F.cross_entropy(y, labels)
        loss.backward()
        t[f"step{k}.input"] = x
        t[f"step{k}.labels"] = labels
        t[f"step{k}.output"] = y.detach().clone()
        t[f"step{k}.loss"] = loss.detach().reshape(1)
        for n, p in model.named_parameters():
            t[f"step{k}.grad.{n}"] = p.grad.clone()
        opt.step()
        t.update(_state(f"step{k}.state", model))
    # Observers back on for eval (as the reference evaluates before disabling them); BN stays frozen.
    model.apply(tq.enable_observer)
    model.eval()
    x = varied_input((2, 3, 64, 64), seed + 999)
    t["eval.input"] = x
    with torch.no_grad():
        t["eval.output"] = model(x).clone()
    t.update(_state("eval.state", model))
    torch.backends.quantized.engine = "qnnpack"
    qmodel = copy.deepcopy(model)
    tq.convert(qmodel, inplace=True)
    qmodel.eval()
    with torch.no_grad():
        t["int8.output"] = qmodel(x)
    write("model_small", t, {})


def build(write, out_dir):
    torch.manual_seed(0)
    _fake_quant_cases(write)
    _model_case(write, out_dir)
