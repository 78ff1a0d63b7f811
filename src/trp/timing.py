"""Wall-clock inference latency (Sec. 4.7, Table 4) that can be trusted: the variants being
compared are timed in interleaved rounds (round-robin, each round starting one variant later)
with pinned threads and a warm-up, so that a slow spell of a busy machine hits every variant
alike; a speedup comes with a paired bootstrap confidence interval over the rounds, and one
whose interval holds 1.0 is reported as "inconclusive". Blocks are timed with
torch.utils.benchmark.Timer (it synchronizes CUDA around each block).

A runtime JSON (written by `trp latency` through trp.deploy.measure_networks, read by
trp.report.table4 and trp.report.cobla) is:

    {"schema": "trp.runtime/2",
     "model": "resnet18",                       # model name (trp.models)
     "variants": [{"label": "baseline" | "TRP1+Nu" | ...,   # method keys of trp.report.paper
                   "conv_macs": int,            # conv MACs of this variant (trp.lowrank.model_cost)
                   "mac_speedup": float,        # dense conv MACs / this variant's (1.0 for baseline)
                   "rows": [...],               # the primary runtime (the first one timed), one row per batch size
                   "runtime_rows": [...]}],     # (/2) every runtime and memory format, one row each per batch size
     "runtimes": {name: {"available": bool, "reason": str | None}},   # (/2) why a runtime was skipped
     "timing": {...},                           # (/2) rounds, warm-up, threads, confidence, ... (measure_networks)
     "provenance": {...}}                       # trp.artifacts.record(...), checkpoint *_sha256 included

Each row: batch_size, input_size, median_s / iqr_s / mean_s (seconds per forward of the batch,
over the rounds), median_ms_per_image / iqr_ms_per_image / mean_ms_per_image, measurements (timed
blocks = rounds), number_per_run (forwards per block), device (trp.artifacts.provenance.device_name),
threads. Schema /2 adds (rows and runtime_rows alike): runtime ("eager", "folded", "compile",
"onnxruntime"), memory_format ("contiguous", "channels_last"), speedup (baseline median / this
median, same runtime, memory format and batch size), speedup_ci ([low, high]), faster (true where
the interval lies above 1, false where below, "inconclusive" where it holds 1), realised_fraction
(speedup / mac_speedup) and vs_primary ({speedup, ci, faster} against the baseline in the primary
runtime and memory format). Schema /1 files have only the first set.
"""
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Hashable

import numpy as np
import torch

from .artifacts.provenance import device_name

ROUNDS = 10  # interleaved timing rounds (the default of trp latency and measure_networks)
MIN_RUN_TIME = 1.0  # seconds of timing per variant and batch size, over all rounds
CALIBRATION = 3  # single timed calls whose median sets a variant's block size
CONFIDENCE = 0.95
RESAMPLES = 2000


@dataclass
class Samples:
    """Seconds per call of one variant, one value per round (each the mean of `number` calls)."""
    times: list[float]
    number: int


def _sync() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def _block(f: Callable[[], object], number: int) -> float:
    """Seconds per call of `number` back-to-back calls, CUDA synchronized around the block."""
    _sync()
    t0 = time.perf_counter()
    for _ in range(number):
        f()
    _sync()
    return (time.perf_counter() - t0) / number


@contextmanager
def pinned_threads(threads: int | None):
    """Torch's intra-op threads set to `threads` (None: left as they are), restored on exit;
    yields the number in force."""
    old = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        yield torch.get_num_threads()
    finally:
        torch.set_num_threads(old)


def interleaved(calls: dict[Hashable, Callable[[], object]], rounds: int = ROUNDS, min_run_time: float = MIN_RUN_TIME,
                warmup: int = 3) -> dict[Hashable, Samples]:
    """Time zero-argument `calls` in `rounds` interleaved rounds, with torch's current number of
    threads (see `pinned_threads`). Each call runs `warmup` times first; its block size (calls
    per timed block) is set, from the median of CALIBRATION single calls, so that its blocks add
    up to about `min_run_time` seconds. Round r times every variant once, starting at the r-th
    (a rotation: no variant always runs first)."""
    if rounds < 1 or min_run_time <= 0 or warmup < 0 or not calls:
        raise ValueError("interleaved needs calls, rounds >= 1, min_run_time > 0 and warmup >= 0")
    for f in calls.values():
        for _ in range(warmup):
            f()
    block = min_run_time / rounds
    one = {k: float(np.median([_block(f, 1) for _ in range(CALIBRATION)])) for k, f in calls.items()}
    number = {k: max(1, round(block / one[k])) for k in calls}
    times = {k: [] for k in calls}
    labels = list(calls)
    for r in range(rounds):
        for k in labels[r % len(labels):] + labels[:r % len(labels)]:
            times[k].append(_block(calls[k], number[k]))
    return {k: Samples(times[k], number[k]) for k in labels}


def summary_row(samples: Samples, batch_size: int, input_size, device, threads: int) -> dict:
    """The trp.runtime row fields of one variant at one batch size."""
    t = np.asarray(samples.times)
    q25, median, q75 = np.percentile(t, [25, 50, 75])
    return {"batch_size": batch_size, "input_size": list(input_size),
            "median_s": float(median), "iqr_s": float(q75 - q25), "mean_s": float(t.mean()),
            "median_ms_per_image": 1e3 * float(median) / batch_size, "iqr_ms_per_image": 1e3 * float(q75 - q25) / batch_size,
            "mean_ms_per_image": 1e3 * float(t.mean()) / batch_size, "measurements": len(t),
            "number_per_run": samples.number, "device": device_name(device), "threads": threads}


def verdict(low: float, high: float) -> bool | str:
    """True where the interval lies above 1 (faster), False where below, else "inconclusive"."""
    return True if low > 1 else False if high < 1 else "inconclusive"


def paired_speedup(base: list[float], other: list[float], confidence: float = CONFIDENCE,
                   resamples: int = RESAMPLES, seed: int = 0) -> dict:
    """median(base) / median(other) with a paired bootstrap interval: the rounds (pairs of one
    base and one other time, timed in the same round) are resampled with replacement."""
    if len(base) != len(other) or not base:
        raise ValueError("paired_speedup needs equally many rounds (at least one) of both")
    b, o = np.asarray(base), np.asarray(other)
    idx = np.random.default_rng(seed).integers(0, len(b), (resamples, len(b)))
    ratios = np.median(b[idx], axis=1) / np.median(o[idx], axis=1)
    alpha = (1 - confidence) / 2
    low, high = (float(v) for v in np.quantile(ratios, [alpha, 1 - alpha]))
    return {"speedup": float(np.median(b) / np.median(o)), "ci": [low, high], "faster": verdict(low, high)}


def latency(model: torch.nn.Module, input_size, batch_sizes=(1, 128), device="cpu", min_run_time: float = 1.0,
            threads: int | None = None, warmup: int = 3, rounds: int = 10) -> list[dict]:
    """Median / IQR / mean forward time of one `model` in eval mode under inference_mode, per
    batch size (trp.runtime rows without the comparison fields)."""
    device = torch.device(device)
    model = model.to(device).eval()
    rows = []
    for b in batch_sizes:
        x = torch.randn(b, *input_size, device=device)

        def forward():
            with torch.inference_mode():
                return model(x)

        with pinned_threads(threads) as n:
            samples = interleaved({"model": forward}, rounds, min_run_time, warmup)["model"]
            rows.append(summary_row(samples, b, input_size, device, n))
    return rows
