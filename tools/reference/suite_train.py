"""Fixtures for @mnv3/train-recipes: torch 1.13's optimisers, LR schedulers, cross-entropy, the
torch.Generator draws timm's LR noise uses, TorchVision's EMA (AveragedModel, use_buffers=True),
checkpoint averaging and the norm / other parameter split.

Everything here is torch computing: torch.optim (foreach=False, the single-tensor path that
torch 1.13 takes by default), torch.optim.lr_scheduler, F.cross_entropy and its autograd,
torch.Generator, torch.nn.utils.clip_grad_norm_, torch.optim.swa_utils.AveragedModel, torchvision.ops._utils.
split_normalization_params. Two references are formulas computed here in torch float32 because no
installed library has them: RMSprop with TensorFlow's epsilon placement (sqrt(v + eps), the same
update otherwise) and the reference scripts' checkpoint averaging (sum in checkpoint order, then
divide; integers floor-divided).
"""
import argparse
import json
import math
import os
import warnings
from unittest import mock

import torch
import torch.nn.functional as F
from torch import nn
import torchvision.transforms.functional as TF
from torchvision.models import mobilenet_v3_large, mobilenet_v3_small
from torchvision.ops._utils import split_normalization_params

# The noise cases step schedulers without an optimiser step; torch warns about that order.
warnings.filterwarnings("ignore", category=UserWarning, module="torch.optim.lr_scheduler")

SHAPES = [(4, 3), (5,), (2, 3, 2, 2)]
# Gradient scale per parameter: ordinary, tiny (where RMSprop's epsilon dominates), large.
GRAD_SCALES = [1.0, 1e-3, 10.0]
STEPS = 6
MID = 3  # optimiser state saved after this many steps, to test resuming


def _seeded(shape, seed, scale=1.0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(shape, generator=g) * scale


# name, optimiser, group options (one dict per group; "params" are indices into SHAPES),
# lr multiplier applied between steps (a schedule changing group['lr']), steps where a parameter
# has no gradient {step: [param index]}
OPTIM_CASES = [
    ("sgd_plain", "sgd", [dict(params=[0, 1, 2], lr=0.1)], 1.0, {}),
    ("sgd_momentum_wd", "sgd", [dict(params=[0, 1, 2], lr=0.05, momentum=0.9, weight_decay=1e-4)], 0.9, {}),
    ("sgd_nesterov", "sgd", [dict(params=[0, 1, 2], lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)], 1.0, {}),
    ("sgd_dampening_maximize", "sgd", [dict(params=[0, 1, 2], lr=0.02, momentum=0.8, dampening=0.3, maximize=True)], 1.0, {}),
    ("rmsprop_default", "rmsprop", [dict(params=[0, 1, 2], lr=0.01)], 1.0, {}),
    # TorchVision's MobileNetV3 recipe: --opt rmsprop --lr 0.064 --wd 0.00001, alpha 0.9, eps 0.0316, momentum 0.9
    ("rmsprop_recipe", "rmsprop", [dict(params=[0, 1, 2], lr=0.064, alpha=0.9, eps=0.0316, momentum=0.9, weight_decay=1e-5)], 0.973, {}),
    ("rmsprop_centered", "rmsprop", [dict(params=[0, 1, 2], lr=0.01, alpha=0.95, eps=1e-6, momentum=0.5, centered=True, weight_decay=1e-2)], 1.0, {}),
    ("rmsprop_tiny_eps", "rmsprop", [dict(params=[0, 1, 2], lr=0.064, alpha=0.9, eps=1e-8, momentum=0.9)], 1.0, {}),
    ("rmsprop_inside", "rmsprop", [dict(params=[0, 1, 2], lr=0.064, alpha=0.9, eps=1e-3, momentum=0.9, weight_decay=1e-5, eps_placement="inside")], 0.973, {}),
    ("rmsprop_inside_centered", "rmsprop", [dict(params=[0, 1, 2], lr=0.01, alpha=0.9, eps=1e-3, centered=True, eps_placement="inside")], 1.0, {}),
    ("adamw_default", "adamw", [dict(params=[0, 1, 2], lr=1e-3)], 1.0, {}),
    ("adamw_amsgrad", "adamw", [dict(params=[0, 1, 2], lr=3e-3, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.05, amsgrad=True)], 0.9, {}),
    # Parameter groups with their own options, and a parameter with no gradient at some steps.
    ("rmsprop_groups", "rmsprop", [dict(params=[0, 2], lr=0.064, alpha=0.9, eps=0.0316, momentum=0.9, weight_decay=1e-5), dict(params=[1], lr=0.01, weight_decay=0.0)], 1.0, {1: [2], 4: [1]}),
    ("sgd_groups", "sgd", [dict(params=[1], lr=0.1, momentum=0.9), dict(params=[2, 0], lr=0.02, nesterov=True, momentum=0.5, weight_decay=1e-2)], 1.0, {2: [0]}),
    ("adamw_groups", "adamw", [dict(params=[0], weight_decay=0.0), dict(params=[1, 2], lr=1e-2, amsgrad=True)], 1.0, {0: [1]}),
]

OPTIMIZERS = {"sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop, "adamw": torch.optim.AdamW}


class InsideEpsRMSprop(torch.optim.Optimizer):
    """torch 1.13's single-tensor RMSprop with TensorFlow's epsilon placement, sqrt(v + eps), and
    nothing else changed. The reference for epsPlacement 'inside'."""

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum, centered=centered))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            lr, alpha, eps, wd, momentum = group["lr"], group["alpha"], group["eps"], group["weight_decay"], group["momentum"]
            for param in group["params"]:
                if param.grad is None:
                    continue
                grad = param.grad
                state = self.state[param]
                if len(state) == 0:
                    state["step"] = 0
                    state["square_avg"] = torch.zeros_like(param)
                    if momentum > 0:
                        state["momentum_buffer"] = torch.zeros_like(param)
                    if group["centered"]:
                        state["grad_avg"] = torch.zeros_like(param)
                state["step"] += 1
                if wd != 0:
                    grad = grad.add(param, alpha=wd)
                square_avg = state["square_avg"]
                square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
                if group["centered"]:
                    grad_avg = state["grad_avg"]
                    grad_avg.mul_(alpha).add_(grad, alpha=1 - alpha)
                    avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).add_(eps).sqrt_()
                else:
                    avg = square_avg.add(eps).sqrt_()
                if momentum > 0:
                    buf = state["momentum_buffer"]
                    buf.mul_(momentum).addcdiv_(grad, avg)
                    param.add_(buf, alpha=-lr)
                else:
                    param.addcdiv_(grad, avg, value=-lr)


def _json_state_dict(sd, prefix, tensors):
    """torch's optimizer.state_dict() as JSON, tensors replaced by {"tensor": name} (stored apart)."""

    def conv(v, name):
        if isinstance(v, torch.Tensor):
            tensors[name] = v.detach().clone()
            return {"tensor": name, "dtype": str(v.dtype).replace("torch.", ""), "shape": list(v.shape)}
        if isinstance(v, tuple):
            return [conv(x, name) for x in v]
        return v

    state = {str(idx): {k: conv(v, f"{prefix}.{idx}.{k}") for k, v in s.items()} for idx, s in sd["state"].items()}
    groups = [{k: conv(v, "") for k, v in g.items()} for g in sd["param_groups"]]
    return {"state": state, "param_groups": groups}


def optim_cases(write):
    for ci, (name, kind, groups, lr_mult, missing) in enumerate(OPTIM_CASES):
        seed = 1000 + 100 * ci
        params = [nn.Parameter(_seeded(s, seed + i)) for i, s in enumerate(SHAPES)]
        tensors = {f"p0.{i}": p.detach().clone() for i, p in enumerate(params)}
        torch_groups = []
        inside = False
        for g in groups:
            tg = {k: v for k, v in g.items() if k not in ("params", "eps_placement")}
            inside = inside or g.get("eps_placement") == "inside"
            tg["params"] = [params[i] for i in g["params"]]
            if kind in ("sgd",) and "lr" not in tg:
                tg["lr"] = 0.1
            torch_groups.append(tg)
        if inside:
            opt = InsideEpsRMSprop(torch_groups)
        elif kind == "sgd":
            opt = torch.optim.SGD(torch_groups, lr=0.1, foreach=False)
        else:
            opt = OPTIMIZERS[kind](torch_groups, foreach=False)
        meta = {}
        for step in range(1, STEPS + 1):
            for i, p in enumerate(params):
                if i in missing.get(step, []):
                    p.grad = None
                else:
                    p.grad = _seeded(SHAPES[i], seed + 50 + 10 * step + i, GRAD_SCALES[i])
                    tensors[f"g{step}.{i}"] = p.grad.clone()
            opt.step()
            for i, p in enumerate(params):
                tensors[f"p{step}.{i}"] = p.detach().clone()
            if step == MID:
                meta["mid_state_dict"] = _json_state_dict(opt.state_dict(), "mid", tensors)
            if lr_mult != 1.0:
                for g in opt.param_groups:
                    g["lr"] *= lr_mult
        meta["state_dict"] = _json_state_dict(opt.state_dict(), "final", tensors)
        config = dict(optimizer=kind, groups=groups, lrMult=lr_mult, steps=STEPS, mid=MID, shapes=SHAPES, missing={str(k): v for k, v in missing.items()})
        write(f"optim_{name}", tensors, {"config": config, **{k: json.dumps(v) for k, v in meta.items()}})


# ---------------------------------------------------------------------------------------------
# LR schedulers

SCHED_STEPS = 50


def _dummy_optimizer(lrs):
    return torch.optim.SGD([{"params": [nn.Parameter(torch.zeros(1))], "lr": lr} for lr in lrs], lr=lrs[0], momentum=0.9)


def _torchvision_scheduler(opt, a):
    """references/classification/train.py's scheduler construction, from its arguments."""
    if a["lr_scheduler"] == "steplr":
        main = torch.optim.lr_scheduler.StepLR(opt, step_size=a["lr_step_size"], gamma=a["lr_gamma"])
    elif a["lr_scheduler"] == "cosineannealinglr":
        main = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=a["epochs"] - a["lr_warmup_epochs"], eta_min=a["lr_min"])
    else:
        main = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=a["lr_gamma"])
    if a["lr_warmup_epochs"] > 0:
        if a["lr_warmup_method"] == "linear":
            warm = torch.optim.lr_scheduler.LinearLR(opt, start_factor=a["lr_warmup_decay"], total_iters=a["lr_warmup_epochs"])
        else:
            warm = torch.optim.lr_scheduler.ConstantLR(opt, factor=a["lr_warmup_decay"], total_iters=a["lr_warmup_epochs"])
        return torch.optim.lr_scheduler.SequentialLR(opt, schedulers=[warm, main], milestones=[a["lr_warmup_epochs"]])
    return main


def _tv_args(**kw):
    a = dict(lr_scheduler="steplr", lr_step_size=30, lr_gamma=0.1, lr_min=0.0, epochs=SCHED_STEPS, lr_warmup_epochs=0, lr_warmup_method="constant", lr_warmup_decay=0.01)
    a.update(kw)
    return a


LS = torch.optim.lr_scheduler
SCHED_CASES = [
    # name, lrs of the groups, kind, options
    ("step_recipe", [0.064], "StepLR", dict(step_size=2, gamma=0.973)),
    ("step_two_groups", [0.1, 0.01], "StepLR", dict(step_size=7, gamma=0.5)),
    ("exponential", [0.5], "ExponentialLR", dict(gamma=0.9)),
    ("cosine_restart", [0.1], "CosineAnnealingLR", dict(T_max=10, eta_min=1e-4)),
    ("cosine", [0.5, 0.05], "CosineAnnealingLR", dict(T_max=45)),
    ("linear", [0.1], "LinearLR", dict(start_factor=0.01, end_factor=1.0, total_iters=5)),
    ("linear_down", [0.2], "LinearLR", dict(start_factor=0.5, end_factor=0.1, total_iters=8)),
    ("constant", [0.1], "ConstantLR", dict(factor=0.25, total_iters=5)),
    ("tv_steplr_linear", [0.064], "torchvision", _tv_args(lr_step_size=2, lr_gamma=0.973, lr_warmup_epochs=5, lr_warmup_method="linear", lr_warmup_decay=0.01)),
    ("tv_cosine_constant", [0.5], "torchvision", _tv_args(lr_scheduler="cosineannealinglr", lr_warmup_epochs=3, lr_warmup_method="constant", lr_warmup_decay=0.1, lr_min=1e-5, epochs=40)),
    ("tv_cosine_linear", [0.5, 0.1], "torchvision", _tv_args(lr_scheduler="cosineannealinglr", lr_warmup_epochs=5, lr_warmup_method="linear", lr_warmup_decay=0.01, epochs=60)),
    ("tv_exponential_linear", [0.1], "torchvision", _tv_args(lr_scheduler="exponentiallr", lr_gamma=0.95, lr_warmup_epochs=4, lr_warmup_method="linear", lr_warmup_decay=0.1)),
    ("tv_steplr", [0.064], "torchvision", _tv_args(lr_step_size=2, lr_gamma=0.973)),
]

RESUME_AT = 20


def _plain(v):
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def sched_cases(write):
    for name, lrs, kind, opts in SCHED_CASES:
        opt = _dummy_optimizer(lrs)
        sched = _torchvision_scheduler(opt, opts) if kind == "torchvision" else getattr(LS, kind)(opt, **opts)
        seq = [[g["lr"] for g in opt.param_groups]]
        meta = {}
        for step in range(1, SCHED_STEPS + 1):
            opt.step()
            sched.step()
            seq.append([g["lr"] for g in opt.param_groups])
            if step == RESUME_AT:
                meta["resume_state_dict"] = json.dumps(_plain(sched.state_dict()))
        meta["state_dict"] = json.dumps(_plain(sched.state_dict()))
        config = dict(kind=kind, lrs=lrs, options=opts, steps=SCHED_STEPS, resumeAt=RESUME_AT)
        write(f"sched_{name}", {"lr": torch.tensor(seq, dtype=torch.float64)}, {"config": config, **meta})


# ---------------------------------------------------------------------------------------------
# torch.Generator draws and timm's LR noise

GEN_SEEDS = [0, 1, 42, 43, 67, 2**31 - 1, 2**32 + 5, 12345678901]


def generator_cases(write):
    tensors = {}
    for s in GEN_SEEDS:
        g = torch.Generator().manual_seed(s)
        tensors[f"randn1.{s}"] = torch.cat([torch.randn(1, generator=g) for _ in range(9)])
        g = torch.Generator().manual_seed(s)
        tensors[f"rand1.{s}"] = torch.cat([torch.rand(1, generator=g) for _ in range(9)])
        g = torch.Generator().manual_seed(s)
        # One call of 7 values, then one of 5: the serial path (fewer than 16 values), whose
        # normal draws come in pairs with the second one cached in the generator.
        tensors[f"randn7_5.{s}"] = torch.cat([torch.randn(7, generator=g), torch.randn(5, generator=g)])
    write("generator", tensors, {"config": {"seeds": GEN_SEEDS}})


def _timm_noise(t, noise_seed, noise_type, noise_pct):
    """timm.scheduler.Scheduler._calculate_noise (timm's generator usage, with torch's RNG)."""
    g = torch.Generator()
    g.manual_seed(noise_seed + t)
    if noise_type == "normal":
        while True:
            noise = torch.randn(1, generator=g).item()
            if abs(noise) < noise_pct:
                return noise
    return 2 * (torch.rand(1, generator=g).item() - 0.5) * noise_pct


NOISE_CASES = [
    # name, scheduler options (StepLR), noise options
    ("step_normal", dict(step_size=2, gamma=0.973), dict(range_t=[5, 40], type="normal", pct=0.67, seed=42)),
    ("step_normal_tight", dict(step_size=3, gamma=0.9), dict(range_t=10, type="normal", pct=0.1, seed=7)),
    ("step_uniform", dict(step_size=2, gamma=0.973), dict(range_t=[0, 50], type="uniform", pct=0.5, seed=42)),
]


def noise_cases(write):
    for name, sopts, n in NOISE_CASES:
        opt = _dummy_optimizer([0.064])
        sched = LS.StepLR(opt, **sopts)
        seq = [[opt.param_groups[0]["lr"]]]
        noises = [0.0]
        for t in range(1, SCHED_STEPS + 1):
            sched.step()
            lr = opt.param_groups[0]["lr"]
            rng = n["range_t"]
            apply = (rng[0] <= t < rng[1]) if isinstance(rng, list) else t >= rng
            noise = _timm_noise(t, n["seed"], n["type"], n["pct"]) if apply else 0.0
            noises.append(noise)
            seq.append([lr + lr * noise if apply else lr])
        write(f"noise_{name}", {"lr": torch.tensor(seq, dtype=torch.float64), "noise": torch.tensor(noises, dtype=torch.float64)}, {"config": dict(step=sopts, noise=n, steps=SCHED_STEPS)})


# ---------------------------------------------------------------------------------------------
# cross-entropy

CE_CASES = [
    # name, N, C, logit scale, label_smoothing, target kind, ignore rows
    ("index_plain", 6, 10, 3.0, 0.0, "index", []),
    ("index_smooth", 6, 10, 3.0, 0.1, "index", []),
    ("index_smooth_large", 4, 1000, 8.0, 0.1, "index", []),
    ("index_ignore", 7, 5, 2.0, 0.0, "index", [1, 4]),
    ("index_ignore_smooth", 7, 5, 2.0, 0.2, "index", [1, 4]),
    ("prob_plain", 5, 8, 3.0, 0.0, "prob", []),
    ("prob_smooth", 5, 8, 3.0, 0.15, "prob", []),
]


def ce_cases(write):
    for ci, (name, n, c, scale, ls, kind, ignore) in enumerate(CE_CASES):
        logits = _seeded((n, c), 5000 + ci, scale).requires_grad_(True)
        g = torch.Generator().manual_seed(5100 + ci)
        if kind == "index":
            target = torch.randint(0, c, (n,), generator=g)
            for r in ignore:
                target[r] = -100
        else:
            target = torch.softmax(torch.randn((n, c), generator=g) * 2, dim=1)
        loss = F.cross_entropy(logits, target, label_smoothing=ls)
        loss.backward()
        write(f"ce_{name}", {"logits": logits.detach(), "target": target, "loss": loss.detach(), "grad": logits.grad}, {"config": dict(labelSmoothing=ls, target=kind)})


# train.py's --clip-grad-norm: torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm), the
# 2-norm, on gradients of three scales. max_norm below the total clips; far above it the factor is
# clamped to 1.
CLIP_CASES = [("clips", 0.5), ("mildly", 9.0), ("no_clip", 1e3)]


def clip_cases(write):
    for ci, (name, max_norm) in enumerate(CLIP_CASES):
        params = [torch.zeros(s, requires_grad=True) for s in SHAPES]
        tensors = {}
        for i, (p, scale) in enumerate(zip(params, GRAD_SCALES)):
            p.grad = _seeded(p.shape, 5200 + 10 * ci + i, scale * 0.3)
            tensors[f"g.{i}"] = p.grad.clone()
        total = nn.utils.clip_grad_norm_(params, max_norm)
        for i, p in enumerate(params):
            tensors[f"clipped.{i}"] = p.grad
        tensors["total_norm"] = total.reshape(1)
        write(f"clip_{name}", tensors, {"config": dict(maxNorm=max_norm, shapes=[list(s) for s in SHAPES])})


# train.py's --mixup-alpha / --cutmix-alpha: RandomMixup and RandomCutmix, as TorchVision 0.14's
# references/classification/transforms.py has them (BSD-3-Clause, (c) Soumith Chintala 2016; the
# references are not installed with torchvision, so their forward is copied here unchanged but for
# the argument checks). Their draws are replaced (torch._sample_dirichlet, torch.randint) so that
# the test can give ours the same lambda and box centre: the arithmetic is what is checked.
class RandomMixup(torch.nn.Module):
    def __init__(self, num_classes, p=0.5, alpha=1.0, inplace=False):
        super().__init__()
        self.num_classes, self.p, self.alpha, self.inplace = num_classes, p, alpha, inplace

    def forward(self, batch, target):
        if not self.inplace:
            batch = batch.clone()
            target = target.clone()
        if target.ndim == 1:
            target = torch.nn.functional.one_hot(target, num_classes=self.num_classes).to(dtype=batch.dtype)
        if torch.rand(1).item() >= self.p:
            return batch, target
        batch_rolled = batch.roll(1, 0)
        target_rolled = target.roll(1, 0)
        lambda_param = float(torch._sample_dirichlet(torch.tensor([self.alpha, self.alpha]))[0])
        batch_rolled.mul_(1.0 - lambda_param)
        batch.mul_(lambda_param).add_(batch_rolled)
        target_rolled.mul_(1.0 - lambda_param)
        target.mul_(lambda_param).add_(target_rolled)
        return batch, target


class RandomCutmix(torch.nn.Module):
    def __init__(self, num_classes, p=0.5, alpha=1.0, inplace=False):
        super().__init__()
        self.num_classes, self.p, self.alpha, self.inplace = num_classes, p, alpha, inplace

    def forward(self, batch, target):
        if not self.inplace:
            batch = batch.clone()
            target = target.clone()
        if target.ndim == 1:
            target = torch.nn.functional.one_hot(target, num_classes=self.num_classes).to(dtype=batch.dtype)
        if torch.rand(1).item() >= self.p:
            return batch, target
        batch_rolled = batch.roll(1, 0)
        target_rolled = target.roll(1, 0)
        lambda_param = float(torch._sample_dirichlet(torch.tensor([self.alpha, self.alpha]))[0])
        _, H, W = TF.get_dimensions(batch)
        r_x = torch.randint(W, (1,))
        r_y = torch.randint(H, (1,))
        r = 0.5 * math.sqrt(1.0 - lambda_param)
        r_w_half = int(r * W)
        r_h_half = int(r * H)
        x1 = int(torch.clamp(r_x - r_w_half, min=0))
        y1 = int(torch.clamp(r_y - r_h_half, min=0))
        x2 = int(torch.clamp(r_x + r_w_half, max=W))
        y2 = int(torch.clamp(r_y + r_h_half, max=H))
        batch[:, :, y1:y2, x1:x2] = batch_rolled[:, :, y1:y2, x1:x2]
        lambda_param = float(1.0 - (x2 - x1) * (y2 - y1) / (W * H))
        target_rolled.mul_(1.0 - lambda_param)
        target.mul_(lambda_param).add_(target_rolled)
        return batch, target


# name, transform, batch size, lambda drawn, box centre (x, y); images 3×7×7, 4 classes
MIX_CASES = [
    ("mixup", "mixup", 5, 0.3, None),
    ("mixup_one", "mixup", 1, 0.8137, None),
    ("cutmix_clipped", "cutmix", 5, 0.55, (1, 5)),
    ("cutmix_inside", "cutmix", 4, 0.1, (3, 3)),
    ("cutmix_empty", "cutmix", 3, 0.999, (2, 4)),
]


def mix_cases(write):
    for ci, (name, kind, n, lam, centre) in enumerate(MIX_CASES):
        batch = _seeded((n, 3, 7, 7), 5300 + ci)
        target = torch.tensor([0, 2, 2, 3, 1][:n], dtype=torch.int64)
        t = (RandomMixup if kind == "mixup" else RandomCutmix)(4, p=1.0, alpha=0.2)
        draws = iter(torch.tensor([c]) for c in (centre or ()))
        with mock.patch.object(torch, "_sample_dirichlet", lambda a: torch.tensor([lam, 1.0 - lam], dtype=torch.float64)), mock.patch.object(torch, "randint", lambda *a, **k: next(draws)):
            out, soft = t(batch, target)
        write(f"mix_{name}", {"batch": batch, "target": target, "out": out, "soft": soft}, {"config": dict(kind=kind, n=n, lam=lam, centre=list(centre) if centre else None)})


# train.py's --ra-sampler --ra-reps R: RASampler from TorchVision 0.14's
# references/classification/sampler.py (BSD-3-Clause; not installed with torchvision, so copied here
# without its distributed defaults), on 1 to 3 processes as torchrun --nproc_per_node=N runs it; and
# without it, train.py's DistributedSampler (torch's) on N processes. Each case records the epoch's
# permutation (torch.randperm's, which both samplers draw from seed + epoch) and every rank's order;
# the test gives our order the same permutation.
class RASampler(torch.utils.data.Sampler):
    def __init__(self, dataset, num_replicas, rank, shuffle=True, seed=0, repetitions=3):
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.num_samples = int(math.ceil(len(self.dataset) * float(repetitions) / self.num_replicas))
        self.total_size = self.num_samples * self.num_replicas
        self.num_selected_samples = int(math.floor(len(self.dataset) // 256 * 256 / self.num_replicas))
        self.shuffle = shuffle
        self.seed = seed
        self.repetitions = repetitions

    def __iter__(self):
        if self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed + self.epoch)
            indices = torch.randperm(len(self.dataset), generator=g).tolist()
        else:
            indices = list(range(len(self.dataset)))
        indices = [ele for ele in indices for i in range(self.repetitions)]
        indices += indices[: (self.total_size - len(indices))]
        assert len(indices) == self.total_size
        indices = indices[self.rank : self.total_size : self.num_replicas]
        assert len(indices) == self.num_samples
        return iter(indices[: self.num_selected_samples])


# name, dataset size, repetitions (None: DistributedSampler), epoch, processes
SAMPLER_CASES = [
    ("ra_n600_r3", 600, 3, 0, 1),
    ("ra_n1000_r4", 1000, 4, 5, 1),
    ("ra_n256_r2", 256, 2, 1, 1),
    ("ra_n1000_r3_w2", 1000, 3, 2, 2),
    ("ra_n700_r3_w3", 700, 3, 1, 3),
    ("dist_n10_w3", 10, None, 0, 3),
    ("dist_n1001_w2", 1001, None, 4, 2),
    ("dist_n2_w3", 2, None, 1, 3),
]


def sampler_cases(write):
    for name, n, reps, epoch, world in SAMPLER_CASES:
        g = torch.Generator()
        g.manual_seed(epoch)
        tensors = {"perm": torch.randperm(n, generator=g)}
        for rank in range(world):
            if reps is None:
                sampler = torch.utils.data.distributed.DistributedSampler(range(n), num_replicas=world, rank=rank, shuffle=True, seed=0)
                sampler.set_epoch(epoch)
            else:
                sampler = RASampler(range(n), num_replicas=world, rank=rank, shuffle=True, seed=0, repetitions=reps)
                sampler.epoch = epoch
            tensors[f"order{rank}"] = torch.tensor(list(iter(sampler)), dtype=torch.int64)
        write(name, tensors, {"config": dict(n=n, repetitions=reps, world_size=world)})


# ---------------------------------------------------------------------------------------------
# Data parallelism as `torchrun --nproc_per_node=2 train.py` runs it: two processes (gloo), each
# MobileNetV3-Small wrapped in DistributedDataParallel (broadcast_buffers, as train.py leaves it),
# each on its own batch; backward all-reduces the gradients, then clip_grad_norm_ and RMSprop's
# step, as train_one_epoch does. Dropout is off: its masks come from torch's generator, ours from
# our own.
DDP_WORLD = 2
DDP_STEPS = 3
DDP_LR = 0.01
DDP_BATCH = 8
DDP_SIZE = 64


def _ddp_rank(rank, init_file, out_dir, init_state, xs, ys):
    import torch.distributed as dist

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=DDP_WORLD)
    model = mobilenet_v3_small(num_classes=10, dropout=0.0)
    model.load_state_dict(init_state)
    model.train()
    ddp = nn.parallel.DistributedDataParallel(model)
    opt = torch.optim.RMSprop(model.parameters(), lr=DDP_LR, alpha=0.9, eps=0.0316, momentum=0.9, weight_decay=1e-5)
    losses = []
    for step in range(DDP_STEPS):
        loss = F.cross_entropy(ddp(xs[step, rank]), ys[step, rank], label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
    torch.save({"losses": torch.tensor(losses, dtype=torch.float64), "state": model.state_dict()}, os.path.join(out_dir, f"rank{rank}.pt"))
    dist.destroy_process_group()


def ddp_cases(write):
    import tempfile

    import torch.multiprocessing as mp
    from common import randomize

    model = randomize(mobilenet_v3_small(num_classes=10, dropout=0.0), 8100)
    init_state = {k: v.clone() for k, v in model.state_dict().items()}
    xs = _seeded((DDP_STEPS, DDP_WORLD, DDP_BATCH, 3, DDP_SIZE, DDP_SIZE), 8200)
    ys = torch.randint(0, 10, (DDP_STEPS, DDP_WORLD, DDP_BATCH), generator=torch.Generator().manual_seed(8300))
    with tempfile.TemporaryDirectory() as tmp:
        mp.start_processes(_ddp_rank, args=(os.path.join(tmp, "init"), tmp, init_state, xs, ys), nprocs=DDP_WORLD, start_method="fork")
        ranks = [torch.load(os.path.join(tmp, f"rank{r}.pt")) for r in range(DDP_WORLD)]
    tensors = {"x": xs, "y": ys, "loss": torch.stack([r["losses"] for r in ranks])}
    tensors.update({f"init.{k}": v for k, v in init_state.items()})
    # Rank 0's state is the one train.py saves (every rank has its weights; its BatchNorm statistics are broadcast).
    tensors.update({f"final0.{k}": v for k, v in ranks[0]["state"].items()})
    write("ddp_mobilenet_v3_small", tensors, {"config": dict(world_size=DDP_WORLD, steps=DDP_STEPS, lr=DDP_LR, batch_size=DDP_BATCH, image_size=DDP_SIZE, clip_grad_norm=1.0, label_smoothing=0.1)})


# ---------------------------------------------------------------------------------------------
# TorchVision's ExponentialMovingAverage: AveragedModel(model, avg_fn=ema_avg, use_buffers=True)


class SmallNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 4, 3, bias=False)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).mean((2, 3)))


def _ema_decay(decay, steps, batch_size, epochs, world_size=1):
    """train.py's adjustment of --model-ema-decay."""
    adjust = world_size * batch_size * steps / epochs
    alpha = 1.0 - decay
    alpha = min(1.0, alpha * adjust)
    return 1.0 - alpha


EMA_CASES = [
    ("decay_09", 0.9, None),
    # train.py: --model-ema-decay 0.99 --model-ema-steps 4 --batch-size 8 --epochs 10 → decay 1 - 0.01·3.2
    ("recipe_adjusted", _ema_decay(0.99, 4, 8, 10), 2),
]


def ema_cases(write):
    for ci, (name, decay, reset_after) in enumerate(EMA_CASES):
        torch.manual_seed(6000 + ci)
        model = SmallNet()

        def ema_avg(avg_model_param, model_param, num_averaged):
            return decay * avg_model_param + (1 - decay) * model_param

        ema = torch.optim.swa_utils.AveragedModel(model, device="cpu", avg_fn=ema_avg, use_buffers=True)
        tensors = {}
        for step in range(6):
            with torch.no_grad():
                for p in model.parameters():
                    p.add_(torch.randn_like(p) * 0.1)
            model.train()
            model(_seeded((2, 3, 5, 5), 6100 + 10 * ci + step, 2.0))  # moves running stats, num_batches_tracked
            for k, v in model.state_dict().items():
                tensors[f"m{step}.{k}"] = v.clone()
            ema.update_parameters(model)
            if reset_after is not None and step < reset_after:
                ema.n_averaged.fill_(0)  # train.py during the warm-up epochs
            for k, v in ema.state_dict().items():
                tensors[f"e{step}.{k}"] = v.clone()
        write(f"ema_{name}", tensors, {"config": dict(decay=decay, steps=6, resetBefore=reset_after)})


# ---------------------------------------------------------------------------------------------
# average_checkpoints over train.py checkpoints


def checkpoint_cases(write, out):
    torch.manual_seed(7000)
    model = SmallNet()
    opt = torch.optim.RMSprop(model.parameters(), lr=0.064, alpha=0.9, eps=0.0316, momentum=0.9, weight_decay=1e-5)
    sched = LS.StepLR(opt, step_size=2, gamma=0.973)
    args = argparse.Namespace(model="smallnet", opt="rmsprop", lr=0.064, epochs=3)
    paths = []
    states = []
    for epoch in range(3):
        model.train()
        for it in range(2):
            x = _seeded((4, 3, 6, 6), 7100 + 10 * epoch + it, 2.0)
            loss = model(x).square().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        sched.step()
        with torch.no_grad():
            model.bn.running_var.mul_(1 + epoch)  # make the running statistics differ between epochs
        ckpt = {"model": model.state_dict(), "optimizer": opt.state_dict(), "lr_scheduler": sched.state_dict(), "epoch": epoch, "args": args}
        path = os.path.join(out, f"train_model_{epoch}.pth")
        torch.save(ckpt, path)
        paths.append(os.path.basename(path))
        states.append({k: v.clone() for k, v in model.state_dict().items()})
    # The reference average: sum in checkpoint order (float32, integers int64), then divide.
    tensors = {}
    for k in states[0]:
        acc = states[0][k].clone()
        for s in states[1:]:
            acc += s[k]
        if acc.is_floating_point():
            acc.div_(len(states))
        else:
            acc //= len(states)
        tensors[f"avg.{k}"] = acc
    write("checkpoint_average", tensors, {"config": dict(files=paths, firstEpoch=0)})


# ---------------------------------------------------------------------------------------------
# norm / other parameter split (TorchVision's split_normalization_params, used for --norm-weight-decay)


def split_cases(write):
    for name, builder in [("mobilenet_v3_small", mobilenet_v3_small), ("mobilenet_v3_large", mobilenet_v3_large)]:
        model = builder()
        names = {id(p): n for n, p in model.named_parameters()}
        norm, other = split_normalization_params(model)
        write(f"split_{name}", {"dummy": torch.zeros(1)}, {"config": dict(model=name), "norm": json.dumps([names[id(p)] for p in norm]), "other": json.dumps([names[id(p)] for p in other])})


def build(write, out):
    optim_cases(write)
    sched_cases(write)
    generator_cases(write)
    noise_cases(write)
    ce_cases(write)
    clip_cases(write)
    mix_cases(write)
    sampler_cases(write)
    ddp_cases(write)
    ema_cases(write)
    checkpoint_cases(write, out)
    split_cases(write)
