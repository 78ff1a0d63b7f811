"""Expected GPU time of one paper-profile CIFAR-10 training (plain SGD, TRP and TRP+Nu, both
schemes) from first principles. An ESTIMATE, to be replaced by a measurement: `bash
scripts/gpu_check.sh run` trains the same five Table-1 runs on a GPU and times them.

python benchmarks/gpu_time_estimate.py                   # ResNet-20, 164 epochs, an H100 SXM in fp32

Counted here, on the CPU, from the code that trains: trp.train.loop.fit (the loader's augmentation,
sgd_step, the projections and their rank log, the finiteness checks, the test pass) runs a few short
epochs under trp.lowrank.host.DeviceWork, which counts per training step, per test batch and per
epoch the kernels launched, the SVD/eigh calls and the host reads (each a wait for the GPU); torch's
FlopCounterMode counts the FLOPs of one training step and one test forward (convolutions and the FC
layer; BN, ReLU and the SVDs are not counted). SGD takes its multi-tensor (foreach) path, as torch
does by default on a GPU.

Assumed (options, printed with the result): the GPU's fp32 peak and the fraction of it that these
small convolutions reach, the host's time to launch one kernel in eager mode, the cost of one wait
for the GPU, and one SVD/eigh call's time on the GPU (cuSOLVER, its status read included). A step
takes the larger of its compute time and its launch time (the host queues kernels while the GPU
runs), plus its waits and its SVD/eigh calls; the test pass likewise.
"""
import argparse
import contextlib
import io
import json
import math

import torch
from torch.utils.flop_counter import FlopCounterMode

from trp import models
from trp.config import TrainConfig
from trp.data.cifar10 import TensorLoader
from trp.lowrank import find_sites
from trp.lowrank.host import DeviceWork
from trp.stages.inputs import EVAL_BATCH
from trp.train import RankRegularizer, fit
from trp.train import loop

VARIANTS = {"plain": dict(method="baseline"),
            "TRP1 (channel)": dict(method="trp", scheme="channel"),
            "TRP1+Nu (channel)": dict(method="trp", scheme="channel", lam=3e-4),
            "TRP2 (spatial)": dict(method="trp", scheme="spatial"),
            "TRP2+Nu (spatial)": dict(method="trp", scheme="spatial", lam=3e-4)}
COUNT_BATCH = 4  # images per batch in the counting runs: kernels, waits and SVD calls do not depend on it


trp_optimizer = loop.make_optimizer


def foreach_optimizer(model, cfg):
    """trp's optimizer with SGD's multi-tensor path, which torch takes by default on a GPU."""
    opt, sched = trp_optimizer(model, cfg)
    for group in opt.param_groups:
        group["foreach"] = True
    return opt, sched


def count_epoch(cfg: TrainConfig, train_batches: int, test_batches: int) -> DeviceWork:
    """DeviceWork's counts of one fit() epoch of `train_batches` steps and `test_batches` test batches
    (random images, COUNT_BATCH per batch), the rank log on as `trp train` has it."""
    torch.manual_seed(0)
    model = models.build(cfg.model)
    g = torch.Generator().manual_seed(0)

    def loader(batches, train):
        n = batches * COUNT_BATCH
        images = torch.randint(0, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
        return TensorLoader(images, torch.randint(0, 10, (n,), generator=g), COUNT_BATCH, train, generator=g)

    reg = None
    if cfg.method != "baseline":
        sites = find_sites(model, models.input_size(cfg.model), cfg.scheme, exclude=(models.stem(cfg.model),))
        reg = RankRegularizer.from_config(cfg, sites, log=lambda record: None)
    train, test = loader(train_batches, True), loader(test_batches, False)
    with DeviceWork() as work, contextlib.redirect_stdout(io.StringIO()):  # fit prints the epoch's figures
        fit(model, cfg, train, test, g, torch.device("cpu"), reg, progress=False)
    return work


def per_unit_counts(cfg: TrainConfig) -> dict:
    """{"step"|"test_batch"|"epoch": {kernels, linalg, reads}}: per training step (projections every
    m steps included), per test batch, and per epoch besides, from three epochs that differ in length
    by whole projection periods and by one test batch."""
    steps = 2 * cfg.m
    base, longer, more_test = (count_epoch(cfg, steps, 1), count_epoch(cfg, 2 * steps, 1), count_epoch(cfg, steps, 2))
    out = {}
    for key in ("kernels", "linalg", "reads"):
        step = (getattr(longer, key) - getattr(base, key)) / steps
        test_batch = getattr(more_test, key) - getattr(base, key)
        out.setdefault("step", {})[key] = step
        out.setdefault("test_batch", {})[key] = test_batch
        out.setdefault("epoch", {})[key] = getattr(base, key) - steps * step - test_batch
    return out


def flops_per_image(name: str) -> dict:
    """FLOPs of one training image (forward and backward) and of one test image (forward), by torch's
    FlopCounterMode over a batch of two."""
    torch.manual_seed(0)
    model = models.build(name)
    x, y = torch.randn(2, *models.input_size(name)), torch.randint(0, 10, (2,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with FlopCounterMode(display=False) as train:
        loop.sgd_step(model, x, y, opt, None, torch.device("cpu"), "fp32")
    model.eval()
    with FlopCounterMode(display=False) as test, torch.no_grad():
        model(x)
    return {"train": train.get_total_flops() / 2, "test": test.get_total_flops() / 2}


def run_time(counts: dict, flops: dict, a) -> dict:
    """Seconds of one training under the assumptions in `a`, with what they come from."""
    achieved = a.peak_tflops * 1e12 * a.efficiency
    steps = math.ceil(a.train_images / a.batch)
    test_batches = math.ceil(a.test_images / EVAL_BATCH)

    def seconds(unit: dict, compute_s: float, n: int) -> float:
        launch = n * unit["kernels"] * a.launch_us * 1e-6
        return max(compute_s, launch) + n * (unit["reads"] * a.wait_us * 1e-6 + unit["linalg"] * a.linalg_ms * 1e-3)

    epoch = (seconds(counts["step"], a.train_images * flops["train"] / achieved, steps)
             + seconds(counts["test_batch"], a.test_images * flops["test"] / achieved, test_batches)
             + seconds(counts["epoch"], 0.0, 1))
    return {"steps_per_epoch": steps, "kernels_per_step": counts["step"]["kernels"],
            "host_waits_per_step": counts["step"]["reads"], "svd_eigh_calls_per_step": counts["step"]["linalg"],
            "train_compute_s_per_epoch": a.train_images * flops["train"] / achieved,
            "train_launch_s_per_epoch": steps * counts["step"]["kernels"] * a.launch_us * 1e-6,
            "epoch_s": epoch, "run_minutes": a.epochs * epoch / 60}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="resnet20")
    ap.add_argument("--epochs", type=int, default=164)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--train-images", type=int, default=50000)
    ap.add_argument("--test-images", type=int, default=10000)
    ap.add_argument("--peak-tflops", type=float, default=67.0, help="fp32 (not TF32) peak; 67: H100 SXM")
    ap.add_argument("--efficiency", type=float, default=0.25,
                    help="assumed fraction of the peak that ResNet's small convolutions reach at this batch")
    ap.add_argument("--launch-us", type=float, default=8.0, help="assumed host time per kernel launch, eager")
    ap.add_argument("--wait-us", type=float, default=20.0, help="assumed cost of one wait for the GPU (host read)")
    ap.add_argument("--linalg-ms", type=float, default=1.0,
                    help="assumed time of one batched SVD or eigh call on the GPU, its status read included")
    a = ap.parse_args()
    torch.set_num_threads(1)
    loop.make_optimizer = foreach_optimizer  # the one fit() builds its optimizer with
    flops = flops_per_image(a.model)
    rows = {}
    for name, v in VARIANTS.items():
        cfg = TrainConfig(model=a.model, e=0.02, m=20, epochs=1, batch_size=COUNT_BATCH, channels_last=False, **v)
        rows[name] = run_time(per_unit_counts(cfg), flops, a)
        print(f"{name:18s} {rows[name]['run_minutes']:6.1f} min  (per step: {rows[name]['kernels_per_step']:.0f} kernels, "
              f"{rows[name]['host_waits_per_step']:.2f} host waits, {rows[name]['svd_eigh_calls_per_step']:.2f} SVD/eigh "
              f"calls; per epoch: {rows[name]['steps_per_epoch']} steps, compute {rows[name]['train_compute_s_per_epoch']:.2f} s, "
              f"launches {rows[name]['train_launch_s_per_epoch']:.2f} s)", flush=True)
    print(json.dumps({"estimate": True, "assumptions": vars(a), "flops_per_image": flops, "runs": rows,
                      "five_runs_hours": sum(r["run_minutes"] for r in rows.values()) / 60}, indent=1))


if __name__ == "__main__":
    main()
