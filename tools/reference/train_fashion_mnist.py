"""The Fashion-MNIST recipes trained by PyTorch 1.13 / TorchVision 0.14 themselves: the yardstick for
`mnv3 train`'s accuracy (issue 13). Each of our trainer's parts equals torch's in the fixture tests;
this runs the whole recipe in torch, so that a long run of ours can be set beside torch's own.

It is TorchVision's references/classification/train.py loop (v0.14: RMSprop with eps 0.0316 and
alpha 0.9, label smoothing, `set_weight_decay`, the warm-up + main scheduler as `SequentialLR`, the
EMA of `utils.ExponentialMovingAverage` with train.py's decay adjustment, updated every
--model-ema-steps iterations and reset during warm-up) with what the Fashion-MNIST recipes add, as
`@mnv3/train-recipes` defines them:
- data: Fashion-MNIST's train set minus its last --val-size images to train, those to validate,
  t10k to test once at the end; Resize(64) → RandomCrop(64, padding) → RandomHorizontalFlip →
  [policy on RGB] → float → Normalize(ImageNet) → RandomErasing, on uint8 tensors; evaluation is
  Resize(64) + CenterCrop(64) + Normalize;
- stochastic depth, which TorchVision's MobileNetV3 lacks: `stochastic_depth(branch, p_i, 'row')`
  before each residual add, p_i = p · i / (number of blocks) for block i (EfficientNet's rule);
- timm's LR noise per epoch (`suite_train._timm_noise`), on the noiseless scheduled lr;
- the average of the model's last N checkpoints that improved val acc@1.

Usage (our `runs/noaa60-re5` command, in torch):
  /usr/bin/python3 tools/reference/train_fashion_mnist.py --epochs 60 --lr-scheduler cosineannealinglr \
    --lr-warmup-epochs 2 --model-ema-decay 0.9998 --lr-noise 18,54 --random-erase 0.5 --output-dir runs/torch60-re5
Writes history.json (a line per epoch in log.txt too), model_<epoch>.pth, checkpoint.pth (train.py's
format; --resume continues from it, with fresh data-loader randomness) and test.json.
"""
import argparse
import io
import json
import os
import sys
import time
import warnings

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import models
from torchvision.models.mobilenetv3 import InvertedResidual
from torchvision.ops import stochastic_depth
from torchvision.transforms import AutoAugment, AutoAugmentPolicy, InterpolationMode, RandomErasing, TrivialAugmentWide
from torchvision.transforms import functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from suite_train import _ema_decay, _timm_noise  # noqa: E402
from suite_trained import idx  # noqa: E402

MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]
SIZE = 64
RECIPE = "mobilenet_v3_small-fashion-mnist-full (PyTorch 1.13)"


class FashionMNIST(Dataset):
    def __init__(self, images, labels, train, args):
        self.images, self.labels, self.train = images, labels, train
        self.padding = args.random_crop_padding
        self.policy = None
        if train and args.auto_augment == "imagenet":
            self.policy = AutoAugment(AutoAugmentPolicy.IMAGENET, interpolation=InterpolationMode.BILINEAR)
        elif train and args.auto_augment == "ta_wide":
            self.policy = TrivialAugmentWide(interpolation=InterpolationMode.BILINEAR)
        self.erase = RandomErasing(p=args.random_erase) if train and args.random_erase > 0 else None

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        x = F.resize(self.images[i][None], [SIZE, SIZE], InterpolationMode.BILINEAR)
        if self.train:
            if self.padding > 0:
                x = F.pad(x, [self.padding] * 4)
                top, left = torch.randint(0, 2 * self.padding + 1, (2,)).tolist()
                x = F.crop(x, top, left, SIZE, SIZE)
            if torch.rand(1).item() < 0.5:
                x = F.hflip(x)
        x = x.expand(3, SIZE, SIZE)
        if self.policy is not None:
            x = self.policy(x.contiguous())
        x = F.normalize(F.convert_image_dtype(x, torch.float), MEAN, STD)
        if self.erase is not None:
            x = self.erase(x)
        return x, self.labels[i]


class StochasticDepthInvertedResidual(InvertedResidual):
    """TorchVision's block with `stochastic_depth(branch, sd_prob, 'row')` before the residual add."""

    def forward(self, x):
        result = self.block(x)
        if self.use_res_connect:
            result = stochastic_depth(result, self.sd_prob, "row", self.training) + x
        return result


def add_stochastic_depth(model, p):
    # A class swap, not a patched forward: AveragedModel's deepcopy must give the EMA its own blocks.
    blocks = [m for m in model.features if isinstance(m, InvertedResidual)]
    for i, block in enumerate(blocks):
        block.__class__ = StochasticDepthInvertedResidual
        block.sd_prob = p * i / len(blocks)


class ExponentialMovingAverage(torch.optim.swa_utils.AveragedModel):
    """references/classification/utils.py's."""

    def __init__(self, model, decay):
        def ema_avg(avg_model_param, model_param, num_averaged):
            return decay * avg_model_param + (1 - decay) * model_param

        super().__init__(model, "cpu", ema_avg, use_buffers=True)


def write_atomic(path, data):
    """The whole file or the previous one: a temporary sibling, then a rename."""
    with open(path + ".tmp", "wb") as f:
        f.write(data)
    os.replace(path + ".tmp", path)


def evaluate(model, loader, criterion):
    """acc@1, acc@5 and the loss by the training criterion (train.py's evaluate: label smoothing included)."""
    model.eval()
    correct1 = correct5 = total = 0
    loss = 0.0
    with torch.inference_mode():
        for x, y in loader:
            out = model(x.contiguous(memory_format=torch.channels_last))
            loss += criterion(out, y).item() * len(y)
            c1, c5 = hits(out, y)
            correct1, correct5, total = correct1 + c1, correct5 + c5, total + len(y)
    return {"acc1": 100 * correct1 / total, "acc5": 100 * correct5 / total, "loss": loss / total}


def hits(out, y):
    """Top-1 and top-5 hits in a batch (train.py's utils.accuracy, as counts)."""
    top5 = out.topk(5, 1).indices == y[:, None]
    return top5[:, 0].sum().item(), top5.any(1).sum().item()


def average(files):
    """The reference's average_checkpoints: floats summed in order then divided, integers floor-divided."""
    acc = None
    for f in files:
        sd = torch.load(f, map_location="cpu")["model"]
        acc = {k: v.clone() for k, v in sd.items()} if acc is None else {k: acc[k] + v for k, v in sd.items()}
    return {k: v / len(files) if v.is_floating_point() else v // len(files) for k, v in acc.items()}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=0.008)
    p.add_argument("--wd", type=float, default=1e-5)
    p.add_argument("--lr-scheduler", default="steplr", choices=["steplr", "cosineannealinglr"])
    p.add_argument("--lr-step-size", type=int, default=1)
    p.add_argument("--lr-gamma", type=float, default=0.7606)
    p.add_argument("--lr-warmup-epochs", type=int, default=0)
    p.add_argument("--lr-warmup-decay", type=float, default=0.01)
    p.add_argument("--lr-noise", default="9,27", help="START,END epochs of timm's LR noise (67%%, seed 42), or 'none'")
    p.add_argument("--label-smoothing", type=float, default=0.1)
    p.add_argument("--stochastic-depth-prob", type=float, default=0.1)
    p.add_argument("--auto-augment", default="none", choices=["none", "imagenet", "ta_wide"])
    p.add_argument("--random-erase", type=float, default=0.2)
    p.add_argument("--random-crop-padding", type=int, default=4)
    p.add_argument("--model-ema-steps", type=int, default=32)
    p.add_argument("--model-ema-decay", type=float, default=0.99998)
    p.add_argument("--average-last-improved", type=int, default=3)
    p.add_argument("--val-size", type=int, default=10_000)
    p.add_argument("--limit", type=int, default=None, help="use only the first N images of each split (a smoke run)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch's intra-op threads (one step ~ one core)")
    p.add_argument("--workers", type=int, default=1)
    p.add_argument("--output-dir", required=True)
    p.add_argument("--resume", action="store_true", help="continue from OUTPUT_DIR/checkpoint.pth")
    args = p.parse_args()
    warnings.filterwarnings("ignore", category=UserWarning)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    os.makedirs(args.output_dir, exist_ok=True)

    images = torch.from_numpy(idx("train-images-idx3-ubyte.gz").copy())
    labels = torch.from_numpy(idx("train-labels-idx1-ubyte.gz").copy()).long()
    cut = len(labels) - args.val_size
    test_images = torch.from_numpy(idx("t10k-images-idx3-ubyte.gz").copy())
    test_labels = torch.from_numpy(idx("t10k-labels-idx1-ubyte.gz").copy()).long()
    n = args.limit
    train_set = FashionMNIST(images[:cut][:n], labels[:cut][:n], True, args)
    loader = DataLoader(train_set, batch_size=args.batch_size, shuffle=True, num_workers=args.workers, drop_last=False,
                        generator=torch.Generator().manual_seed(args.seed), persistent_workers=args.workers > 0)
    val_loader = DataLoader(FashionMNIST(images[cut:][:n], labels[cut:][:n], False, args), batch_size=256)
    test_loader = DataLoader(FashionMNIST(test_images[:n], test_labels[:n], False, args), batch_size=256)

    model = models.mobilenet_v3_small(num_classes=10)
    add_stochastic_depth(model, args.stochastic_depth_prob)
    model = model.to(memory_format=torch.channels_last)
    criterion = nn.CrossEntropyLoss(label_smoothing=args.label_smoothing)
    optimizer = torch.optim.RMSprop(model.parameters(), lr=args.lr, momentum=0.9, weight_decay=args.wd, eps=0.0316, alpha=0.9)
    warm = args.lr_warmup_epochs
    if args.lr_scheduler == "steplr":
        main_sched = torch.optim.lr_scheduler.StepLR(optimizer, step_size=args.lr_step_size, gamma=args.lr_gamma)
    else:
        main_sched = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=args.epochs - warm, eta_min=0.0)
    if warm > 0:
        warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor=args.lr_warmup_decay, total_iters=warm)
        scheduler = torch.optim.lr_scheduler.SequentialLR(optimizer, schedulers=[warmup, main_sched], milestones=[warm])
    else:
        scheduler = main_sched
    model_ema = ExponentialMovingAverage(model, _ema_decay(args.model_ema_decay, args.model_ema_steps, args.batch_size, args.epochs))
    noise_range = None if args.lr_noise == "none" else [int(t) for t in args.lr_noise.split(",")]

    history, start = [], 0
    ckpt_path = os.path.join(args.output_dir, "checkpoint.pth")
    if args.resume:
        ckpt = torch.load(ckpt_path, map_location="cpu")
        if ckpt["args"]["epochs"] != args.epochs:
            sys.exit(f"--resume: the checkpoint's run has {ckpt['args']['epochs']} epochs, not {args.epochs}")
        model.load_state_dict(ckpt["model"])
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["lr_scheduler"])
        model_ema.load_state_dict(ckpt["model_ema"])
        start = ckpt["epoch"] + 1
        with open(os.path.join(args.output_dir, "history.json")) as f:
            history = json.load(f)["epochs"][:start]
        # Fresh randomness for the epochs left (the loader's order and the augmentation draws).
        torch.manual_seed(args.seed + start)
        loader.generator.manual_seed(args.seed + start)

    for epoch in range(start, args.epochs):
        # The group's lr is the scheduler's, noiseless (it is restored before each scheduler step:
        # torch's chainable schedulers read it, timm's noise must not compound).
        lr = optimizer.param_groups[0]["lr"]
        noise = _timm_noise(epoch, 42, "normal", 0.67) if noise_range and noise_range[0] <= epoch < noise_range[1] else 0.0
        for g in optimizer.param_groups:
            g["lr"] = lr + lr * noise
        t0 = time.time()
        model.train()
        seen = correct1 = correct5 = 0
        loss_sum = 0.0
        for i, (x, y) in enumerate(loader):
            out = model(x.contiguous(memory_format=torch.channels_last))
            loss = criterion(out, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            if i % args.model_ema_steps == 0:
                model_ema.update_parameters(model)
                if epoch < warm:
                    model_ema.n_averaged.fill_(0)
            seen += len(y)
            loss_sum += loss.item() * len(y)
            c1, c5 = hits(out.detach(), y)
            correct1, correct5 = correct1 + c1, correct5 + c5
        seconds = time.time() - t0
        for g in optimizer.param_groups:
            g["lr"] = lr
        scheduler.step()
        val, ema = evaluate(model, val_loader, criterion), evaluate(model_ema.module, val_loader, criterion)
        # An epoch record of @mnv3/train-recipes' history (mnv3's charts and parseHistory read it).
        record = {"epoch": epoch, "lr": lr + lr * noise, "trainLoss": loss_sum / seen, "trainAcc1": 100 * correct1 / seen,
                  "trainAcc5": 100 * correct5 / seen, "imgPerSec": seen / seconds, "valLoss": val["loss"], "valAcc1": val["acc1"],
                  "valAcc5": val["acc5"], "emaAcc1": ema["acc1"], "emaAcc5": ema["acc5"], "seconds": seconds}
        history.append(record)
        ckpt = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "lr_scheduler": scheduler.state_dict(),
                "epoch": epoch, "args": vars(args), "model_ema": model_ema.state_dict()}
        buf = io.BytesIO()
        torch.save(ckpt, buf)  # serialised once, written twice
        for name in (f"model_{epoch}.pth", "checkpoint.pth"):
            write_atomic(os.path.join(args.output_dir, name), buf.getvalue())
        write_atomic(os.path.join(args.output_dir, "history.json"),
                     json.dumps({"format": "mnv3-train-history", "version": 1, "recipe": RECIPE, "epochs": history}, indent=1).encode())
        line = " ".join(f"{k} {v:.5g}" if isinstance(v, float) else f"{k} {v}" for k, v in record.items())
        with open(os.path.join(args.output_dir, "log.txt"), "a") as f:
            f.write(line + "\n")
        print(line, flush=True)

    best, improved = -1.0, []
    for r in history:
        if r["valAcc1"] > best:
            best = r["valAcc1"]
            improved.append(r["epoch"])
    result = {"args": vars(args), "test": evaluate(model, test_loader, criterion), "testEma": evaluate(model_ema.module, test_loader, criterion)}
    if args.average_last_improved > 0:
        epochs = improved[-args.average_last_improved:]
        avg_model = models.mobilenet_v3_small(num_classes=10)
        avg_model.load_state_dict(average([os.path.join(args.output_dir, f"model_{e}.pth") for e in epochs]))
        result["averaged"] = {"epochs": epochs, "val": evaluate(avg_model, val_loader, criterion), "test": evaluate(avg_model, test_loader, criterion)}
    write_atomic(os.path.join(args.output_dir, "test.json"), json.dumps(result, indent=2).encode())
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
