"""Wall-clock inference latency (Sec. 4.7, Table 4) with torch.utils.benchmark.

A runtime JSON (written by `trp latency`, read by trp.report.table4) is:

    {"schema": "trp.runtime/1",
     "model": "resnet18",                       # model name (trp.models)
     "variants": [{"label": "baseline" | "TRP1+Nu" | ...,   # method keys of trp.report.paper
                   "conv_macs": int,            # conv MACs of this variant (trp.lowrank.model_cost)
                   "mac_speedup": float,        # dense conv MACs / this variant's (1.0 for baseline)
                   "rows": [...]}],             # latency(...) of this variant, one row per batch size
     "provenance": {...}}                       # trp.artifacts.record(...), checkpoint *_sha256 included

Each row of latency(): batch_size, input_size, median_s / iqr_s / mean_s (seconds per batch),
median_ms_per_image / iqr_ms_per_image / mean_ms_per_image, measurements (timed blocks),
number_per_run (forwards per block), device (trp.artifacts.provenance.device_name), threads.
"""
import torch
from torch.utils import benchmark

from .artifacts.provenance import device_name


def latency(model: torch.nn.Module, input_size, batch_sizes=(1, 128), device="cpu", min_run_time: float = 1.0,
            threads: int | None = None, warmup: int = 3) -> list[dict]:
    """Median / IQR / mean forward time of `model` in eval mode under inference_mode, per batch size."""
    device = torch.device(device)
    old_threads = torch.get_num_threads()
    if threads:
        torch.set_num_threads(threads)
    try:
        model = model.to(device).eval()
        n_threads = torch.get_num_threads()
        rows = []
        for b in batch_sizes:
            x = torch.randn(b, *input_size, device=device)
            with torch.inference_mode():
                for _ in range(warmup):
                    model(x)
                # Timer synchronizes CUDA around each block; num_threads defaults to 1 there, so pass ours.
                timer = benchmark.Timer("model(x)", globals={"model": model, "x": x}, num_threads=n_threads)
                m = timer.blocked_autorange(min_run_time=min_run_time)
            rows.append({"batch_size": b, "input_size": list(input_size),
                         "median_s": m.median, "iqr_s": m.iqr, "mean_s": m.mean,
                         "median_ms_per_image": 1e3 * m.median / b, "iqr_ms_per_image": 1e3 * m.iqr / b,
                         "mean_ms_per_image": 1e3 * m.mean / b, "measurements": len(m.times),
                         "number_per_run": m.number_per_run, "device": device_name(device), "threads": n_threads})
        return rows
    finally:
        torch.set_num_threads(old_threads)
