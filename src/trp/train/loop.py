"""One training loop for every method: SGD with momentum, step LR, optional bf16 autocast,
TRP and the nuclear norm plugged in as a RankRegularizer; resumable from its last checkpoint."""
import contextlib
import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..checkpoint import atomic_save, load
from ..config import TrainConfig
from .regularizer import RankRegularizer


def autocast(device: torch.device, precision: str):
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def evaluate(model, loader, device: torch.device) -> dict:
    """Top-1 accuracy (%) and mean cross-entropy, in fp32."""
    was_training = model.training
    model.eval()
    correct = total = 0
    loss = 0.0
    for x, y in loader:
        out = model(x)
        loss += F.cross_entropy(out.float(), y, reduction="sum").item()
        correct += (out.argmax(1) == y).sum().item()
        total += y.numel()
    model.train(was_training)
    return {"top1": 100.0 * correct / total, "loss": loss / total}


def fit(model, cfg: TrainConfig, train_loader, test_loader, generator: torch.Generator, device: torch.device,
        workdir: Path, regularizer: RankRegularizer | None = None, progress: bool = True, on_resume=None) -> dict:
    """Train for cfg.epochs; checkpoint (atomically) after every epoch to workdir/last.pt and
    resume from it if present. Returns the history and timing."""
    workdir = Path(workdir)
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, cfg.milestones, cfg.gamma)
    state = {"epoch": 0, "step": 0, "history": [], "train_seconds": 0.0}
    ckpt = workdir / "last.pt"
    if ckpt.exists():
        saved = load(ckpt, map_location=device)
        model.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        sched.load_state_dict(saved["scheduler"])
        generator.set_state(saved["generator"])
        if regularizer is not None:
            regularizer.load_state_dict(saved["regularizer"])
        state = saved["state"]
        if on_resume is not None:
            on_resume(state["step"])
    model.train()
    for epoch in range(state["epoch"], cfg.epochs):
        if cfg.max_steps is not None and state["step"] >= cfg.max_steps:
            break
        t0 = time.perf_counter()
        loss_sum = correct = seen = 0
        bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{cfg.epochs}", disable=not progress, leave=False)
        for i, (x, y) in enumerate(bar):
            if cfg.max_steps is not None and state["step"] >= cfg.max_steps:
                break
            if regularizer is not None:
                regularizer.before_forward(i if cfg.counter == "epoch" else state["step"], state["step"])
            with autocast(device, cfg.precision):
                out = model(x)
                loss = F.cross_entropy(out, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            if regularizer is not None:
                regularizer.after_backward()
            opt.step()
            state["step"] += 1
            loss_sum += loss.item() * y.numel()
            correct += (out.argmax(1) == y).sum().item()
            seen += y.numel()
            if i % 20 == 0:
                bar.set_postfix(loss=f"{loss_sum / seen:.3f}", lr=f"{sched.get_last_lr()[0]:.3g}")
        sched.step()
        seconds = time.perf_counter() - t0
        state["train_seconds"] += seconds
        test = evaluate(model, test_loader, device)
        state["history"].append({"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_top1": 100.0 * correct / seen,
                                 "test_top1": test["top1"], "test_loss": test["loss"], "lr": opt.param_groups[0]["lr"],
                                 "seconds": seconds, "images_per_s": seen / seconds})
        state["epoch"] = epoch + 1
        print(json.dumps(state["history"][-1]), flush=True)
        atomic_save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                     "generator": generator.get_state(), "state": state,
                     "regularizer": regularizer.state_dict() if regularizer is not None else None}, ckpt)
    return state
