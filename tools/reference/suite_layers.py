"""Fixtures for @mnv3/layers: every block on random weights, NCHW in and out."""
from functools import partial

import torch
from torch import nn
from torchvision.models.mobilenetv3 import InvertedResidual, InvertedResidualConfig
from torchvision.ops.misc import Conv2dNormActivation, FrozenBatchNorm2d, SqueezeExcitation

from common import randomize, seeded_input, state_entries

ACT = {None: None, "relu": nn.ReLU, "relu6": nn.ReLU6, "hardswish": nn.Hardswish}

CONV_CASES = [
    # name, in, out, kernel, stride, dilation, groups, activation, norm eps (None: no norm), size
    ("k3_s1_relu", 8, 16, 3, 1, 1, 1, "relu", 1e-5, 9),
    ("k3_s2_hardswish", 3, 16, 3, 2, 1, 1, "hardswish", 1e-3, 11),
    ("k1_none", 16, 24, 1, 1, 1, 1, None, 1e-3, 8),
    ("k3_s2_dw_relu6", 24, 24, 3, 2, 1, 24, "relu6", 1e-5, 10),
    ("k5_s2_dw_hardswish", 24, 24, 5, 2, 1, 24, "hardswish", 1e-3, 13),
    ("k5_d2_dw_hardswish", 32, 32, 5, 1, 2, 32, "hardswish", 1e-3, 12),
    ("k3_d2_relu", 8, 8, 3, 1, 2, 1, "relu", 1e-5, 9),
    ("k3_groups2_relu", 8, 12, 3, 1, 1, 2, "relu", 1e-5, 7),
    ("k3_nonorm_relu", 8, 16, 3, 1, 1, 1, "relu", None, 9),
]

IR_CASES = [
    # name, (input, kernel, expanded, out, use_se, activation, stride, dilation), width_mult, size
    ("no_expand_residual", (16, 3, 16, 16, False, "RE", 1, 1), 1.0, 12),
    ("no_expand_se_s2", (16, 3, 16, 16, True, "RE", 2, 1), 1.0, 12),
    ("expand_s2", (16, 3, 64, 24, False, "RE", 2, 1), 1.0, 13),
    ("expand_se_residual_k5", (40, 5, 120, 40, True, "RE", 1, 1), 1.0, 9),
    ("expand_hs_s2", (40, 3, 240, 80, False, "HS", 2, 1), 1.0, 9),
    ("se_hs_k5_s2", (112, 5, 672, 160, True, "HS", 2, 1), 1.0, 8),
    ("dilated_se_hs_k5", (112, 5, 672, 160, True, "HS", 2, 2), 1.0, 8),
    ("dilated_residual", (160, 5, 960, 160, True, "HS", 1, 2), 0.5, 7),
    ("width_075", (24, 5, 96, 40, True, "HS", 2, 1), 0.75, 10),
]


def cases():
    for i, (name, cin, cout, k, s, d, g, act, eps, size) in enumerate(CONV_CASES):
        norm = None if eps is None else partial(nn.BatchNorm2d, eps=eps)
        m = Conv2dNormActivation(cin, cout, kernel_size=k, stride=s, dilation=d, groups=g, norm_layer=norm, activation_layer=ACT[act])
        config = dict(kind="conv_norm_act", inChannels=cin, outChannels=cout, kernelSize=k, stride=s, dilation=d, groups=g, activation=act, eps=eps)
        yield f"conv_norm_act_{name}", config, m, (2, cin, size, size), 100 + i

    for i, (name, row, wm, size) in enumerate(IR_CASES):
        cnf = InvertedResidualConfig(*row, width_mult=wm)
        m = InvertedResidual(cnf, partial(nn.BatchNorm2d, eps=0.001, momentum=0.01))
        config = dict(kind="inverted_residual", row=list(row), widthMult=wm)
        yield f"inverted_residual_{name}", config, m, (2, cnf.input_channels, size, size), 200 + i

    for i, scale in enumerate(["hardsigmoid", "sigmoid"]):
        m = SqueezeExcitation(32, 8, scale_activation=nn.Hardsigmoid if scale == "hardsigmoid" else nn.Sigmoid)
        yield f"squeeze_excitation_{scale}", dict(kind="squeeze_excitation", inputChannels=32, squeezeChannels=8, scaleActivation=scale), m, (2, 32, 5, 6), 300 + i

    yield "frozen_batch_norm", dict(kind="frozen_batch_norm", numFeatures=12), FrozenBatchNorm2d(12), (2, 12, 4, 5), 400
    yield "linear", dict(kind="linear", inFeatures=20, outFeatures=7), nn.Linear(20, 7), (3, 20), 401
    yield "hardswish", dict(kind="activation", activation="hardswish"), nn.Hardswish(), (2, 3, 5, 7), 402
    yield "hardsigmoid", dict(kind="activation", activation="hardsigmoid"), nn.Hardsigmoid(), (2, 3, 5, 7), 403


def build(write):
    for name, config, module, shape, seed in cases():
        randomize(module, seed).eval()
        x = seeded_input(shape, seed) * (4.0 if config["kind"] == "activation" else 1.0)
        with torch.no_grad():
            y = module(x)
        write(name, {"input": x, "output": y, **state_entries(module)}, {"config": config})
