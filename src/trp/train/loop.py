"""One training loop for every method: SGD with momentum, step LR, optional bf16 autocast,
TRP and the nuclear norm plugged in as a RankRegularizer. It does no file I/O: the caller
passes the state to resume from and a `save` callback that receives a complete training state
after every epoch. Loss and accuracy are accumulated on the device and read once per epoch."""
import contextlib
import json
import math
import time
from typing import Callable

import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..config import TrainConfig
from .regularizer import RankRegularizer

CHECK_EVERY = 20  # steps between host reads of the non-finite flag (at most this many steps late)


class NonFiniteError(RuntimeError):
    """Training diverged: a loss or weight became NaN or infinite."""


def autocast(device: torch.device, precision: str):
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@torch.no_grad()
def evaluate(model, loader, device: torch.device, all_reduce: Callable[[torch.Tensor], None] | None = None,
             progress: str | None = None) -> dict:
    """Top-1 accuracy (%), mean cross-entropy and, for 5 classes or more, top-5 accuracy (%), in
    fp32. With `all_reduce` (an in-place sum over processes), each process evaluates its shard of
    the data and the counts are summed. `progress`: a progress bar over the batches, so named."""
    was_training = model.training
    model.eval()
    sums = torch.zeros(4, dtype=torch.float64, device=device)  # top-1 hits, top-5 hits, summed loss, images
    classes = 0
    for x, y in tqdm(loader, desc=progress, disable=progress is None, leave=False):
        out = model(x)
        classes = out.shape[1]
        sums[0] += (out.argmax(1) == y).sum()
        if classes >= 5:
            sums[1] += (out.topk(5, 1).indices == y[:, None]).any(1).sum()
        sums[2] += F.cross_entropy(out.float(), y, reduction="sum")
        sums[3] += y.numel()
    model.train(was_training)
    if all_reduce is not None:
        all_reduce(sums)
    top1, top5, loss, total = sums.tolist()
    result = {"top1": 100.0 * top1 / total, "loss": loss / total}
    if classes >= 5:
        result["top5"] = 100.0 * top5 / total
    return result


def make_optimizer(model, cfg: TrainConfig):
    opt = torch.optim.SGD(model.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return opt, torch.optim.lr_scheduler.MultiStepLR(opt, cfg.milestones, cfg.gamma)


def _check_finite(first_bad: torch.Tensor, model, state: dict, steps_per_epoch: int, weights: bool = True) -> None:
    """Raise NonFiniteError if a loss so far was non-finite (`first_bad` holds the first such
    step, on the device) or, with `weights`, if a weight is. One read from the device."""
    flags = [first_bad, _nonfinite_weights(model).to(first_bad.dtype)] if weights else [first_bad]
    step, *bad_weights = torch.stack(flags).tolist()
    if step >= 0:
        raise NonFiniteError(f"non-finite loss at step {step} (epoch {step // steps_per_epoch + 1}); the run "
                             "diverged (try a lower lr); the last good checkpoint is kept")
    if any(bad_weights):
        raise NonFiniteError(f"non-finite weights after step {state['step']} (epoch {state['epoch'] + 1}); "
                             "the last good checkpoint is kept")


def _nonfinite_weights(model) -> torch.Tensor:
    """Whether any parameter holds a NaN or inf, as a bool tensor on the device: 0 * w is 0 where w is
    finite and NaN where it is not, so the L1 norms of the 0 * w are all 0 exactly when every weight is
    finite (two multi-tensor kernels on a GPU, whatever the number of parameters)."""
    params = [p.detach() for p in model.parameters()]
    return ~torch.stack(torch._foreach_norm(torch._foreach_mul(params, 0.0), 1)).eq(0).all()


def out_of_time(deadline: float, epoch_seconds: float, device: torch.device,
                all_reduce: Callable[[torch.Tensor], None] | None = None) -> bool:
    """Whether the next epoch, taking `epoch_seconds` like the last, would end after `deadline` (a
    time.monotonic() value). With `all_reduce` (an in-place sum over processes) the processes
    decide together: all stop when any of them would overrun, so all stop after the same epoch
    (each has its own clock and epoch time; every process must call this at the same points)."""
    late = time.monotonic() + epoch_seconds > deadline
    if all_reduce is None:
        return late
    votes = torch.tensor([float(late)], dtype=torch.float64, device=device)
    all_reduce(votes)
    return votes.item() > 0


def sgd_step(model, x: torch.Tensor, y: torch.Tensor, opt, regularizer: RankRegularizer | None, device: torch.device,
             precision: str) -> tuple[torch.Tensor, torch.Tensor]:
    """One training step after the regularizer's projection (before_forward): forward and loss under
    the precision's autocast, backward, the nuclear-norm sub-gradient and the rank log's gradient
    norm (after_backward), the SGD update. Returns (logits, loss). An lr whose update the weights'
    float type cannot hold (lr=1e39 in fp32) is an OverflowError. benchmarks/train_step.py times this."""
    with autocast(device, precision):
        out = model(x)
        loss = F.cross_entropy(out, y)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    try:
        if regularizer is not None:
            regularizer.after_backward(opt.param_groups[0]["lr"])
        opt.step()
    except RuntimeError as e:
        if "overflow" not in str(e):
            raise
        raise OverflowError(f"lr {opt.param_groups[0]['lr']:g} overflows the weights' float type") from None
    return out, loss


def fit(model, cfg: TrainConfig, train_loader, test_loader, generator: torch.Generator, device: torch.device,
        regularizer: RankRegularizer | None = None, resume: dict | None = None,
        save: Callable[[dict], None] | None = None, progress: bool = True, deadline: float | None = None,
        all_reduce: Callable[[torch.Tensor], None] | None = None) -> dict:
    """Train for cfg.epochs (or cfg.max_steps) from `resume` (a state given to `save` earlier) or
    from scratch. After every epoch `save(training_state)` is called. With `deadline` (a
    time.monotonic() value) training stops after the last epoch that is expected to end before it,
    but trains at least one epoch per call, so a limit shorter than an epoch still progresses;
    the returned state then has "finished": False (under `all_reduce`, on every process after the
    same epoch: see out_of_time). Raises NonFiniteError on divergence, before
    anything of the diverged epoch is saved. Data-parallel training passes `all_reduce` (an
    in-place sum over processes): the epoch's training and test figures are then summed over them;
    a train_loader with `set_epoch` (a sampler shared out across processes) is told each epoch."""
    opt, sched = make_optimizer(model, cfg)
    state = {"epoch": 0, "step": 0, "history": [], "train_seconds": 0.0}
    if resume is not None:
        model.load_state_dict(resume["model"])
        opt.load_state_dict(resume["optimizer"])
        sched.load_state_dict(resume["scheduler"])
        generator.set_state(resume["generator"])
        if regularizer is not None:
            regularizer.load_state_dict(resume["regularizer"])
        state = resume["state"]
    model.train()
    step_model = torch.compile(model) if cfg.compile else model  # the same parameters; checkpoints stay eager
    steps_per_epoch = len(train_loader)
    # the epochs and steps this run trains: max_steps may end it before cfg.epochs
    epochs = cfg.epochs if cfg.max_steps is None else min(cfg.epochs, math.ceil(cfg.max_steps / steps_per_epoch))
    first = state["epoch"]
    for epoch in range(first, cfg.epochs):
        if cfg.max_steps is not None and state["step"] >= cfg.max_steps:
            break
        if deadline is not None and epoch > first and \
                out_of_time(deadline, state["history"][-1]["seconds"], device, all_reduce):
            return {**state, "finished": False}
        t0 = time.perf_counter()
        lr = opt.param_groups[0]["lr"]  # the rate this epoch trains at (the scheduler steps after it)
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        correct = torch.zeros((), dtype=torch.int64, device=device)
        first_bad = torch.full((), -1, dtype=torch.int64, device=device)
        seen = 0
        if hasattr(train_loader, "set_epoch"):
            train_loader.set_epoch(epoch)
        steps = steps_per_epoch if cfg.max_steps is None else min(steps_per_epoch, cfg.max_steps - state["step"])
        bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{epochs}", total=steps, disable=not progress, leave=False)
        for i, (x, y) in enumerate(bar):
            if cfg.max_steps is not None and state["step"] >= cfg.max_steps:
                break
            if regularizer is not None:
                if regularizer.projects_at(i if cfg.counter == "epoch" else state["step"]):
                    _check_finite(first_bad, model, state, steps_per_epoch)  # an SVD of NaN weights fails
                regularizer.before_forward(i if cfg.counter == "epoch" else state["step"], state["step"])
            try:
                out, loss = sgd_step(step_model, x, y, opt, regularizer, device, cfg.precision)
            except OverflowError as e:
                raise NonFiniteError(f"non-finite update at step {state['step']} (epoch {epoch + 1}): {e}; the run "
                                     "diverged (try a lower lr); the last good checkpoint is kept") from None
            detached = loss.detach()
            first_bad = torch.where((first_bad < 0) & ~torch.isfinite(detached), state["step"], first_bad)
            state["step"] += 1
            loss_sum += detached.double() * y.numel()
            correct += (out.argmax(1) == y).sum()
            seen += y.numel()
            if state["step"] % CHECK_EVERY == 0:
                _check_finite(first_bad, model, state, steps_per_epoch, weights=False)
                if progress:
                    bar.set_postfix(loss=f"{loss_sum.item() / seen:.3f}", lr=f"{sched.get_last_lr()[0]:.3g}")
        _check_finite(first_bad, model, state, steps_per_epoch)
        sched.step()
        seconds = time.perf_counter() - t0
        state["train_seconds"] += seconds
        test = evaluate(model, test_loader, device, all_reduce, f"epoch {epoch + 1}/{epochs}: test" if progress else None)
        if all_reduce is not None:
            totals = torch.stack([loss_sum, correct.double(), loss_sum.new_tensor(float(seen))])
            all_reduce(totals)
            loss_sum, correct, seen = totals[0], totals[1], int(totals[2].item())
        if not math.isfinite(test["loss"]):
            raise NonFiniteError(f"non-finite test loss after epoch {epoch + 1} (step {state['step']}); the run diverged "
                                 "(try a lower lr); the last good checkpoint is kept")
        state["history"].append({"epoch": epoch + 1, "train_loss": loss_sum.item() / seen,
                                 "train_top1": 100.0 * correct.item() / seen, "test_top1": test["top1"],
                                 "test_loss": test["loss"], "lr": lr,
                                 "seconds": seconds, "images_per_s": seen / seconds})
        state["epoch"] = epoch + 1
        print(json.dumps(state["history"][-1]), flush=True)
        if save is not None:
            save({"model": model.state_dict(), "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
                  "generator": generator.get_state(), "state": state,
                  "regularizer": regularizer.state_dict() if regularizer is not None else None})
    return {**state, "finished": True}


def training_summary(state: dict, t0: float, reg=None) -> dict:
    """A record's "training": fit()'s finished `state` (epochs, steps, history), started at perf_counter `t0`."""
    return {"epochs": state["epoch"], "steps": state["step"], "train_seconds": state["train_seconds"],
            "images_per_s": sum(h["images_per_s"] for h in state["history"]) / len(state["history"]),
            "wall_seconds_this_process": time.perf_counter() - t0, "history": state["history"],
            "projections": reg.projections if reg else 0}
