"""Per-layer latency table, measured once per device and runtime and cached as JSON: for each
decomposable conv of a model at its own input size, the dense conv and its two-conv form at
candidate ranks, timed in interleaved rounds (trp.timing). Latency does not depend on the
weights' values, so the model's random initial weights are used.

    {"schema": "trp.layer_latency/1", "model", "scheme", "runtime", "memory_format", "batch_size",
     "threads", "device", "versions", "multiple", "max_candidates", "rounds", "min_run_time_s",   # the cache key
     "layers": {name: {"in_channels", "out_channels", "kernel_size", "stride", "in_hw", "out_hw",
                       "full_rank", "break_even", "dense_s": seconds per forward of the batch,
                       "ranks": [r, ...], "rank_s": [seconds, ...]}}}
"""
from pathlib import Path

import numpy as np
import torch

from .. import models
from ..artifacts import read_json, write_json
from ..artifacts.provenance import device_name
from ..lowrank import decompose_conv, find_sites, to_matrix
from ..lowrank.svd import batched_svd
from ..timing import interleaved, pinned_threads
from .runtimes import check, prepare, versions

SCHEMA = "trp.layer_latency/1"


def candidate_ranks(limit: int, multiple: int = 8, max_count: int = 16) -> list[int]:
    """The multiples of `multiple` up to `limit` and `limit` itself (at least 1), at most
    `max_count` of them (evenly spaced, the smallest and `limit` kept)."""
    if limit < 1 or multiple < 1 or max_count < 2:
        raise ValueError("candidate_ranks needs limit >= 1, multiple >= 1 and max_count >= 2")
    ranks = sorted(set(range(multiple, limit + 1, multiple)) | {limit})
    if len(ranks) > max_count:
        ranks = sorted({ranks[int(round(i))] for i in np.linspace(0, len(ranks) - 1, max_count)})
    return ranks


def _key(model_arch, scheme, runtime, memory_format, batch_size, threads, device, multiple, max_candidates, rounds,
         min_run_time) -> dict:
    return {"schema": SCHEMA, "model": model_arch, "scheme": scheme, "runtime": runtime, "memory_format": memory_format,
            "batch_size": batch_size, "threads": threads, "device": device_name(device), "versions": versions(),
            "multiple": multiple, "max_candidates": max_candidates, "rounds": rounds, "min_run_time_s": min_run_time}


def layer_latency_table(model_arch: str, scheme: str, runtime: str = "eager", memory_format: str = "contiguous",
                        batch_size: int = 1, threads: int | None = None, multiple: int = 8, max_candidates: int = 16,
                        rounds: int = 5, min_run_time: float = 0.2, cache=None, device="cpu") -> dict:
    """The table of `model_arch`'s sites (trp.models: every 1x1 and 3x3 conv but the stem) under
    `scheme`, timed in `runtime`; candidate ranks from `candidate_ranks(break_even, multiple,
    max_candidates)`. With `cache` (a path): returned from there when its key (everything but the
    layers) matches, else measured and written there."""
    check([runtime], [memory_format])
    device = torch.device(device)
    with pinned_threads(threads) as n_threads:
        key = _key(model_arch, scheme, runtime, memory_format, batch_size, n_threads, device, multiple, max_candidates,
                   rounds, min_run_time)
        if cache is not None and Path(cache).exists():
            cached = read_json(cache)
            if {k: cached.get(k) for k in key} == key and isinstance(cached.get("layers"), dict):
                return cached
        torch.manual_seed(0)
        model = models.build(model_arch).to(device).eval()
        layers = {}
        sites = find_sites(model, models.input_size(model_arch), scheme, models.kernels(model_arch),
                           exclude=(models.stem(model_arch),))
        svds = batched_svd([to_matrix(s.conv.weight, scheme) for s in sites])  # once per layer, not per rank
        for s, svd in zip(sites, svds):
            x = torch.randn(batch_size, s.conv.in_channels, *s.in_hw, device=device)
            ranks = candidate_ranks(max(1, s.break_even), multiple, max_candidates)
            forms = {"dense": s.conv, **{r: decompose_conv(s.conv, r, scheme, svd) for r in ranks}}
            calls = {k: prepare(m, runtime, x, memory_format, n_threads) for k, m in forms.items()}
            median = {k: float(np.median(v.times)) for k, v in interleaved(calls, rounds, min_run_time).items()}
            layers[s.name] = {"in_channels": s.conv.in_channels, "out_channels": s.conv.out_channels,
                              "kernel_size": list(s.conv.kernel_size), "stride": list(s.conv.stride),
                              "in_hw": list(s.in_hw), "out_hw": list(s.out_hw), "full_rank": s.full_rank,
                              "break_even": s.break_even, "dense_s": median["dense"], "ranks": ranks,
                              "rank_s": [median[r] for r in ranks]}
    table = {**key, "layers": layers}
    if cache is not None:
        write_json(cache, table)
    return table
