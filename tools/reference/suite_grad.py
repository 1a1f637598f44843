"""Fixtures for @mnv3/layers' training path (`@mnv3/layers/train`): torch autograd's gradients.

- `conv_*` / `dw_*`: one convolution (dense or depthwise), seeded input `x`, weight `w` (OIHW),
  upstream gradient `dy`; torch's `dx` and `dw` (NCHW / OIHW).
- `act_*`: an activation's backward on inputs that include its kinks (±3, 0, 6), within the first
  64 elements, where torch's CPU kernels take their vectorised loop (torch 1.13's hardswish
  backward gives 1 at x = 3 there, 3/2 in the scalar tail of the last < 16 elements).
- `bn_*`: `nn.BatchNorm2d` in train mode: output, `dx`, `dweight`, `dbias` and the running
  statistics after the forward (momentum 0.01 and None).
- `block_*`: Conv2dNormActivation / InvertedResidual blocks in train mode (BatchNorm eps 0.001,
  momentum 0.01 as MobileNetV3's): output, input and parameter gradients, buffers after.
- `model_*`: MobileNetV3-Small (dropout 0) in train mode, one forward and backward of a mean
  cross-entropy loss on seeded labels: logits, loss, every parameter's gradient, buffers after.

Gradients are written under `grad.<name>`, buffers after the forward under `after.<key>`, the
state before under `state.<key>`.
"""
from functools import partial

import torch
from torch import nn
import torch.nn.functional as F
from torchvision import models
from torchvision.models.mobilenetv3 import InvertedResidual, InvertedResidualConfig
from torchvision.ops.misc import Conv2dNormActivation

from common import randomize, seeded_input, state_entries, varied_input

CONV_CASES = [
    # name, in, out, kernel, stride, padding, dilation, (h, w)
    ("k1_s1", 13, 21, 1, 1, 0, 1, (7, 9)),
    ("k1_s1_wide", 40, 96, 1, 1, 0, 1, (5, 6)),
    ("k1_s2", 12, 10, 1, 2, 0, 1, (9, 7)),
    ("k3_s1", 6, 11, 3, 1, 1, 1, (8, 7)),
    ("k3_s2", 3, 16, 3, 2, 1, 1, (11, 13)),
    ("k3_s2_even", 5, 9, 3, 2, 1, 1, (10, 12)),
    ("k5_s1", 7, 5, 5, 1, 2, 1, (9, 8)),
    ("k5_s2", 9, 13, 5, 2, 2, 1, (13, 11)),
    ("k3_d2", 8, 12, 3, 1, 2, 2, (9, 10)),
    ("k3_s1_p0", 4, 6, 3, 1, 0, 1, (7, 8)),
]

DW_CASES = [
    # name, channels, kernel, stride, padding, dilation, (h, w)
    ("k3_s1", 21, 3, 1, 1, 1, (9, 8)),
    ("k3_s2", 18, 3, 2, 1, 1, (11, 10)),
    ("k5_s1", 35, 5, 1, 2, 1, (8, 9)),
    ("k5_s2", 17, 5, 2, 2, 1, (13, 12)),
    ("k5_s2_even", 8, 5, 2, 2, 1, (12, 14)),
    ("k3_d2", 13, 3, 1, 2, 2, (9, 9)),
    ("k5_d2", 24, 5, 1, 4, 2, (11, 10)),
    ("k3_s1_c1", 1, 3, 1, 1, 1, (5, 6)),
]

BLOCK_CASES = [
    # name, kind, args, input shape
    ("cna_k3_s2_hs", "cna", (3, 16, 3, 2, 1, "hardswish"), (4, 3, 17, 15)),
    ("cna_k1_relu", "cna", (16, 24, 1, 1, 1, "relu"), (3, 16, 6, 7)),
    ("cna_dw_k5_s2_hs", "cna", (24, 24, 5, 2, 24, "hardswish"), (3, 24, 11, 10)),
    ("cna_relu6", "cna", (8, 12, 3, 1, 1, "relu6"), (2, 8, 7, 7)),
    ("ir_se_s2_re", "ir", (16, 3, 16, 16, True, "RE", 2, 1), (4, 16, 12, 12)),
    ("ir_expand_residual", "ir", (24, 3, 88, 24, False, "RE", 1, 1), (3, 24, 9, 8)),
    ("ir_se_hs_k5_residual", "ir", (40, 5, 240, 40, True, "HS", 1, 1), (2, 40, 7, 7)),
    ("ir_dilated_se_hs", "ir", (48, 5, 288, 96, True, "HS", 2, 2), (2, 48, 8, 8)),
]

ACT = {"relu": nn.ReLU, "relu6": nn.ReLU6, "hardswish": nn.Hardswish, "hardsigmoid": nn.Hardsigmoid}


def _grads(named):
    return {f"grad.{k}": p.grad.detach().clone() for k, p in named if p.grad is not None}


def _buffers_after(module):
    return {f"after.{k}": v.detach().clone() for k, v in module.state_dict().items() if "running" in k or "num_batches" in k}


def build(write):
    for i, (name, cin, cout, k, s, p, d, (h, w)) in enumerate(CONV_CASES):
        seed = 100 + i
        x = seeded_input((2, cin, h, w), seed).requires_grad_()
        wt = (seeded_input((cout, cin, k, k), seed + 1) * (1.0 / (cin * k * k)) ** 0.5).requires_grad_()
        y = F.conv2d(x, wt, stride=s, padding=p, dilation=d)
        dy = seeded_input(tuple(y.shape), seed + 2)
        y.backward(dy)
        config = dict(kind="conv", inChannels=cin, outChannels=cout, kernelSize=k, stride=s, padding=p, dilation=d, groups=1)
        write(f"conv_{name}", {"x": x, "w": wt, "dy": dy, "y": y, "dx": x.grad, "dw": wt.grad}, {"config": config})

    for i, (name, c, k, s, p, d, (h, w)) in enumerate(DW_CASES):
        seed = 200 + i
        x = seeded_input((2, c, h, w), seed).requires_grad_()
        wt = (seeded_input((c, 1, k, k), seed + 1) * (1.0 / (k * k)) ** 0.5).requires_grad_()
        y = F.conv2d(x, wt, stride=s, padding=p, dilation=d, groups=c)
        dy = seeded_input(tuple(y.shape), seed + 2)
        y.backward(dy)
        config = dict(kind="conv", inChannels=c, outChannels=c, kernelSize=k, stride=s, padding=p, dilation=d, groups=c)
        write(f"dw_{name}", {"x": x, "w": wt, "dy": dy, "y": y, "dx": x.grad, "dw": wt.grad}, {"config": config})

    # Activations: random values plus the kinks, exactly.
    for i, act in enumerate(ACT):
        kinks = torch.tensor([-3.0, 3.0, 0.0, 6.0, -1.0, 2.5, -3.5, 7.0])
        x = torch.cat([kinks, seeded_input((61,), 300 + i) * 4]).reshape(3, 23).requires_grad_()
        y = ACT[act]()(x)
        dy = seeded_input((3, 23), 310 + i)
        y.backward(dy)
        write(f"act_{act}", {"x": x, "dy": dy, "y": y, "dx": x.grad}, {"config": dict(kind="activation", activation=act)})

    # name, momentum, shape, input scale, input offset (a mean far from 0 tests the variance's cancellation)
    bn_cases = [("m001", 0.01, (4, 13, 5, 6), 2.0, 0.5), ("m01", 0.1, (3, 20, 4, 4), 2.0, 0.5), ("cumulative", None, (2, 7, 3, 5), 2.0, 0.5), ("offset", 0.01, (8, 12, 9, 9), 0.05, 30.0)]
    for i, (name, momentum, shape, scale, offset) in enumerate(bn_cases):
        bn = randomize(nn.BatchNorm2d(shape[1], eps=1e-3, momentum=momentum), 400 + i).train()
        state = state_entries(bn)
        state = {k: v.clone() for k, v in state.items()}
        x = (seeded_input(shape, 410 + i) * scale + offset).requires_grad_()
        y = bn(x)
        dy = seeded_input(tuple(y.shape), 420 + i)
        y.backward(dy)
        tensors = {"x": x, "dy": dy, "y": y, "dx": x.grad, **state, **_grads(bn.named_parameters()), **_buffers_after(bn)}
        write(f"bn_{name}", tensors, {"config": dict(kind="batch_norm", numFeatures=shape[1], eps=1e-3, momentum=momentum)})

    norm = partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)
    for i, (name, kind, args, shape) in enumerate(BLOCK_CASES):
        seed = 500 + i
        if kind == "cna":
            cin, cout, k, s, g, act = args
            m = Conv2dNormActivation(cin, cout, kernel_size=k, stride=s, groups=g, norm_layer=norm, activation_layer=ACT[act])
            config = dict(kind="conv_norm_act", inChannels=cin, outChannels=cout, kernelSize=k, stride=s, groups=g, activation=act)
        else:
            m = InvertedResidual(InvertedResidualConfig(*args, width_mult=1.0), norm)
            config = dict(kind="inverted_residual", row=list(args))
        randomize(m, seed).train()
        state = {k: v.clone() for k, v in state_entries(m).items()}
        x = varied_input(shape, seed).requires_grad_()
        y = m(x)
        dy = seeded_input(tuple(y.shape), seed + 1)
        y.backward(dy)
        tensors = {"x": x, "dy": dy, "y": y, "dx": x.grad, **state, **_grads(m.named_parameters()), **_buffers_after(m)}
        write(f"block_{name}", tensors, {"config": config})

    for i, (name, batch, size, classes) in enumerate([("small_64", 8, 64, 10), ("small_48_b4", 4, 48, 7)]):
        seed = 600 + i
        model = randomize(models.mobilenet_v3_small(num_classes=classes, dropout=0.0), seed).train()
        state = {k: v.clone() for k, v in state_entries(model).items()}
        x = varied_input((batch, 3, size, size), seed)
        labels = torch.randint(0, classes, (batch,), generator=torch.Generator().manual_seed(seed))
        logits = model(x)
        loss = F.cross_entropy(logits, labels)
        loss.backward()
        tensors = {"x": x, "labels": labels, "logits": logits, "loss": loss, **state, **_grads(model.named_parameters()), **_buffers_after(model)}
        write(f"model_{name}", tensors, {"config": dict(kind="model", model="mobilenet_v3_small", numClasses=classes)})
