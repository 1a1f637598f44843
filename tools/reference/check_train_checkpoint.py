"""Resumes a train.py-format checkpoint written by @mnv3/train-recipes in torch 1.13, as TorchVision's
references/classification/train.py (0.14) does with --resume, then runs one more step in torch.

Usage: python3 check_train_checkpoint.py CKPT.pth GRADS.pth PARAM_NAMES_JSON OUT.pth

GRADS.pth holds a list with one dict of gradients (name → tensor, optimiser order) per iteration of
the epoch that follows the checkpoint.

- builds a module with the checkpoint's `model` tensors (parameters: the names in PARAM_NAMES_JSON, in
  optimiser order; every other entry a buffer) and loads `model` strictly;
- builds the optimiser, the LR scheduler and the EMA from the checkpoint's `args` exactly as train.py's
  main() does, and calls their load_state_dict with the checkpoint's entries;
- checks our entries have the keys and Python types of the state_dicts torch's own objects produce;
- then trains the next epoch as train.py does, one iteration per entry of GRADS.pth: gradients set,
  optimizer.step(), EMA update_parameters every model_ema_steps iterations (n_averaged reset during
  warm-up), then lr_scheduler.step(); and torch.saves the parameters, optimizer state_dict,
  scheduler state_dict, last lr and EMA state to OUT.pth (the golden the test compares with).
Prints a JSON summary.
"""
import collections
import json
import sys

import torch
from torch import nn


class ExponentialMovingAverage(torch.optim.swa_utils.AveragedModel):
    """TorchVision references/classification/utils.py's EMA."""

    def __init__(self, model, decay, device="cpu"):
        def ema_avg(avg_model_param, model_param, num_averaged):
            return decay * avg_model_param + (1 - decay) * model_param

        super().__init__(model, device, ema_avg, use_buffers=True)


def build_module(state, param_names):
    root = nn.Module()
    for name, t in state.items():
        *path, leaf = name.split(".")
        m = root
        for p in path:
            if not hasattr(m, p):
                m.add_module(p, nn.Module())
            m = getattr(m, p)
        if name in param_names:
            m.register_parameter(leaf, nn.Parameter(torch.zeros_like(t)))
        else:
            m.register_buffer(leaf, torch.zeros_like(t))
    return root


def type_mismatches(ours, theirs, path):
    """Keys missing or extra, and values whose Python type differs (int vs float), recursively."""
    out = []
    if isinstance(theirs, dict):
        if set(ours) != set(theirs):
            out.append(f"{path}: keys {sorted(map(str, ours))} vs torch {sorted(map(str, theirs))}")
        for k in set(ours) & set(theirs):
            out += type_mismatches(ours[k], theirs[k], f"{path}[{k!r}]")
    elif isinstance(theirs, list):
        for i, (a, b) in enumerate(zip(ours, theirs)):
            out += type_mismatches(a, b, f"{path}[{i}]")
    elif not isinstance(theirs, torch.Tensor) and type(ours) is not type(theirs) and theirs is not None and ours is not None:
        out.append(f"{path}: {type(ours).__name__} vs torch {type(theirs).__name__}")
    return out


def main():
    ckpt_path, grads_path, names_path, out_path = sys.argv[1:5]
    ckpt = torch.load(ckpt_path, map_location="cpu")
    grads = torch.load(grads_path, map_location="cpu")
    with open(names_path) as f:
        param_names = json.load(f)
    args = ckpt["args"]
    model = build_module(ckpt["model"], set(param_names))
    assert [n for n, _ in model.named_parameters()] == param_names or sorted(n for n, _ in model.named_parameters()) == sorted(param_names)
    model.load_state_dict(ckpt["model"], strict=True)
    named = dict(model.named_parameters())
    parameters = [named[n] for n in param_names]

    # train.py main(): optimiser, scheduler and EMA from args (norm_weight_decay is None here).
    opt_name = args.opt.lower()
    if opt_name.startswith("sgd"):
        optimizer = torch.optim.SGD(parameters, lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay, nesterov="nesterov" in opt_name)
    elif opt_name == "rmsprop":
        optimizer = torch.optim.RMSprop(parameters, lr=args.lr, momentum=args.momentum, weight_decay=args.weight_decay, eps=0.0316, alpha=0.9)
    elif opt_name == "adamw":
        optimizer = torch.optim.AdamW(parameters, lr=args.lr, weight_decay=args.weight_decay)
    args.lr_scheduler = args.lr_scheduler.lower()
    if args.lr_scheduler == "steplr":
        main_lr_scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=args.lr_step_size, gamma=args.lr_gamma)
    elif args.lr_scheduler == "cosineannealinglr":
        main_lr_scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs - args.lr_warmup_epochs, eta_min=args.lr_min)
    elif args.lr_scheduler == "exponentiallr":
        main_lr_scheduler = torch.optim.lr_scheduler.ExponentialLR(optimizer, gamma=args.lr_gamma)
    if args.lr_warmup_epochs > 0:
        if args.lr_warmup_method == "linear":
            warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=args.lr_warmup_decay, total_iters=args.lr_warmup_epochs)
        else:
            warmup = torch.optim.lr_scheduler.ConstantLR(optimizer, factor=args.lr_warmup_decay, total_iters=args.lr_warmup_epochs)
        lr_scheduler = torch.optim.lr_scheduler.SequentialLR(optimizer, schedulers=[warmup, main_lr_scheduler], milestones=[args.lr_warmup_epochs])
    else:
        lr_scheduler = main_lr_scheduler
    model_ema = None
    if args.model_ema:
        adjust = args.world_size * args.batch_size * args.model_ema_steps / args.epochs
        alpha = min(1.0, (1.0 - args.model_ema_decay) * adjust)
        model_ema = ExponentialMovingAverage(model, decay=1.0 - alpha)

    # What torch's own objects write (after one step, so that the state exists), to compare keys
    # and Python types with ours; then the checkpoint's parameters are put back.
    for p, g in zip(parameters, grads[0].values()):
        p.grad = g.clone()
    torch_sched = dict(lr_scheduler.state_dict())
    optimizer.step()
    torch_opt = optimizer.state_dict()
    mismatches = type_mismatches(ckpt["optimizer"], torch_opt, "optimizer")
    mismatches += type_mismatches(ckpt["lr_scheduler"], torch_sched, "lr_scheduler")
    model.load_state_dict(ckpt["model"], strict=True)

    # train.py --resume
    optimizer.load_state_dict(ckpt["optimizer"])
    lr_scheduler.load_state_dict(ckpt["lr_scheduler"])
    start_epoch = ckpt["epoch"] + 1
    if model_ema:
        model_ema.load_state_dict(ckpt["model_ema"])
    lr_after_load = [g["lr"] for g in optimizer.param_groups]

    # The next epoch, as train_one_epoch then lr_scheduler.step().
    epoch = start_epoch
    for i, step_grads in enumerate(grads):
        optimizer.zero_grad()
        for p, g in zip(parameters, step_grads.values()):
            p.grad = g.clone()
        optimizer.step()
        if model_ema and i % args.model_ema_steps == 0:
            model_ema.update_parameters(model)
            if epoch < args.lr_warmup_epochs:
                model_ema.n_averaged.fill_(0)
    lr_scheduler.step()

    out = {
        "params": collections.OrderedDict((n, named[n].detach().clone()) for n in param_names),
        "optimizer": optimizer.state_dict(),
        "lr_scheduler": lr_scheduler.state_dict(),
        "last_lr": lr_scheduler.get_last_lr(),
    }
    if model_ema:
        out["model_ema"] = model_ema.state_dict()
    torch.save(out, out_path)
    print(json.dumps({
        "torch": torch.__version__,
        "start_epoch": start_epoch,
        "optimizer": type(optimizer).__name__,
        "scheduler": type(lr_scheduler).__name__,
        "ema": model_ema is not None,
        "lr_after_load": lr_after_load,
        "mismatches": mismatches,
        "args_recipe": getattr(args, "recipe", None),
    }))


if __name__ == "__main__":
    main()
