"""benchmarks/gpu_time_estimate.py's arithmetic: a step takes the larger of its compute and launch
times, plus its waits and SVD/eigh calls, and a run is the epochs' sum."""
import argparse
import importlib.util
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("gpu_time_estimate",
                                              Path(__file__).parents[1] / "benchmarks/gpu_time_estimate.py")
estimate = importlib.util.module_from_spec(spec)
spec.loader.exec_module(estimate)

ASSUMED = dict(epochs=10, batch=100, train_images=1000, test_images=1000, peak_tflops=1.0, efficiency=0.5,
               launch_us=10.0, wait_us=100.0, linalg_ms=1.0)
FLOPS = {"train": 1e9, "test": 0.0}  # 1 GFLOP a training image: 2 ms each at 0.5 TFLOPS, 0.2 s a step of 100


def epoch_s(step, **assumed):
    counts = {"step": step, "test_batch": {"kernels": 0, "reads": 0, "linalg": 0},
              "epoch": {"kernels": 0, "reads": 0, "linalg": 0}}
    return estimate.run_time(counts, FLOPS, argparse.Namespace(**{**ASSUMED, **assumed}))


def test_compute_bound_steps_take_their_compute_time_and_launch_bound_ones_their_launches():
    quiet = {"kernels": 100, "reads": 0, "linalg": 0}  # 1 ms of launches a step, under its 0.2 s of compute
    assert epoch_s(quiet)["epoch_s"] == pytest.approx(10 * 0.2)
    busy = {"kernels": 100_000, "reads": 0, "linalg": 0}  # 1 s of launches a step
    assert epoch_s(busy)["epoch_s"] == pytest.approx(10 * 1.0)
    assert epoch_s(busy)["run_minutes"] == pytest.approx(10 * 10 * 1.0 / 60)


def test_waits_and_svd_calls_add_to_every_step():
    r = epoch_s({"kernels": 100, "reads": 2, "linalg": 3})
    assert r["epoch_s"] == pytest.approx(10 * (0.2 + 2 * 100e-6 + 3 * 1e-3))
    assert (r["steps_per_epoch"], r["host_waits_per_step"], r["svd_eigh_calls_per_step"]) == (10, 2, 3)
