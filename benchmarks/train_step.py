"""Training step time of TRP and TRP+Nu relative to plain SGD, measured in one run.

python benchmarks/train_step.py --models resnet20 resnet56 --out results/benchmarks/train_step_cpu.json
Each variant trains on random CIFAR-shaped batches; variants are interleaved round-robin over
several rounds and the median step time per variant is reported, with ratios to plain training.
With --compile the same variants are also timed through torch.compile (the `compile` config key), and with
--svd-cpu TRP and TRP+Nu also with the projections' SVDs on the CPU (`svd_device: cpu`), against the same
eager plain step. On a GPU each row also lists, per variant, what makes a step between two projections
wait for the GPU (torch.cuda.set_sync_debug_mode): the loop is meant to have no such wait.
"""
import argparse
import json
import statistics
import time
import warnings

import torch

from trp import models
from trp.artifacts import atomic_write_text
from trp.lowrank import find_sites
from trp.artifacts.provenance import device_name, git_commit, numerics, versions
from trp.config import PRECISIONS, ConfigError
from trp.stages.inputs import resolve_device
from trp.train import RankRegularizer
from trp.train.loop import sgd_step

VARIANTS = {"plain": dict(project=False, lam=0.0), "trp": dict(project=True, lam=0.0),
            "trp+nu": dict(project=True, lam=3e-4)}


def setup(name, scheme, variant, device, batch, channels_last=True, compiled=False, svd_device=None):
    """(model, regularizer, optimizer, x, y) of one variant; the model compiled with `compiled`."""
    torch.manual_seed(0)
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = models.build(name).to(device, memory_format=fmt)
    sites = find_sites(model, models.input_size(name), scheme, exclude=(models.stem(name),))
    v = VARIANTS[variant]
    # the rank log is on, as in `trp train` (its records and G = max ||lr grad|| are part of the cost)
    reg = RankRegularizer(sites, scheme, v["project"], 0.02, 20, v["lam"], log=lambda record: None,
                          svd_device=svd_device) \
        if variant != "plain" else None
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=1e-4)
    x = torch.randn(batch, 3, 32, 32, device=device).contiguous(memory_format=fmt)
    y = torch.randint(0, 10, (batch,), device=device)
    return (torch.compile(model) if compiled else model), reg, opt, x, y


def step(state, i, precision, device):
    """Step i as `trp train` takes it: the projection where one is due, then trp.train.loop.sgd_step."""
    model, reg, opt, x, y = state
    if reg is not None:
        reg.before_forward(i, i)
    sgd_step(model, x, y, opt, reg, device, precision)


def steps(state, n, start, precision, device):
    t0 = time.perf_counter()
    for i in range(start, start + n):
        step(state, i, precision, device)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return (time.perf_counter() - t0) / n


def host_syncs(state, i, precision, device) -> list[str]:
    """What makes step i wait for the GPU: the messages torch.cuda.set_sync_debug_mode("warn") gives
    (reads of a device value on the host, such as an error check); [] on a CPU."""
    if device.type != "cuda":
        return []
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            step(state, i, precision, device)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return [str(w.message).splitlines()[0] for w in caught]


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--models", nargs="+", default=["resnet20", "resnet56"])
    ap.add_argument("--schemes", nargs="+", default=["channel", "spatial"])
    ap.add_argument("--precision", default="bf16", choices=PRECISIONS, help="as trp train's (fp32: IEEE fp32)")
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=20, help="steps per round (one TRP period at m=20)")
    ap.add_argument("--compile", action="store_true", help="also time every variant through torch.compile")
    ap.add_argument("--svd-cpu", action="store_true", help="also time TRP and TRP+Nu with the SVDs on the CPU")
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    try:
        device = resolve_device("auto", a.precision)  # and its numerics, as trp train sets them
    except ConfigError as e:
        raise SystemExit(f"train_step: {e}") from None
    rows = []
    for name in a.models:
        for scheme in a.schemes:
            states = {v: setup(name, scheme, v, device, a.batch) for v in VARIANTS}
            if a.compile:
                states |= {f"{v} compiled": setup(name, scheme, v, device, a.batch, compiled=True) for v in VARIANTS}
            if a.svd_cpu:
                states |= {f"{v} svd-cpu": setup(name, scheme, v, device, a.batch, svd_device="cpu")
                           for v in ("trp", "trp+nu")}
            for v, s in states.items():
                steps(s, 3, 1, a.precision, device)  # warm-up and compilation (projection skipped: step 1..3)
            times = {v: [] for v in states}
            for r in range(a.rounds):
                for v, s in states.items():
                    times[v].append(steps(s, a.steps, r * a.steps, a.precision, device))
            med = {v: statistics.median(t) for v, t in times.items()}
            step_between_projections = 20 * (a.rounds * a.steps // 20 + 1) + 1  # past the timed steps; m = 20
            row = {"model": name, "scheme": scheme, "batch": a.batch, "precision": a.precision,
                   "step_s": med, "step_s_range": {v: [min(t), max(t)] for v, t in times.items()},
                   "images_per_s": {v: a.batch / t for v, t in med.items()},
                   "ratio_to_plain": {v: med[v] / med["plain"] for v in med},
                   "host_syncs_between_projections": {v: host_syncs(s, step_between_projections, a.precision, device)
                                                      for v, s in states.items()}}
            print(json.dumps(row), flush=True)
            rows.append(row)
    atomic_write_text(a.out, json.dumps({"device": device_name(device), "numerics": numerics(), "versions": versions(),
                                         "git": git_commit(),
                                         "rounds": a.rounds, "steps": a.steps, "m": 20, "lam": 3e-4, "e": 0.02,
                                         "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
