"""Dense and decomposed networks timed side by side in every runtime and memory format asked
for: per batch size, one group of interleaved rounds over every (network, runtime, format), so
that each speedup is a paired comparison (trp.timing). Returns the measured part of a
trp.runtime/2 document (schema in trp.timing)."""
from collections.abc import Callable

import torch
from torch import nn

from ..lowrank import model_cost
from ..timing import (CONFIDENCE, MIN_RUN_TIME, RESAMPLES, ROUNDS, interleaved, paired_speedup, pinned_threads,
                      summary_row)
from .ort import SETTINGS as ORT_SETTINGS
from .runtimes import Unavailable, check, formats, prepare, versions


def _calls(networks, runtimes, memory_formats, x, threads, skipped):
    """{(label, runtime, format): call}, a runtime and format kept only where every network runs."""
    calls = {}
    for rt in runtimes:
        for fmt in formats(rt, memory_formats):
            try:
                calls.update({(label, rt, fmt): prepare(net, rt, x, fmt, threads) for label, net in networks.items()})
            except Unavailable as e:
                skipped.setdefault(rt, str(e))
    return calls


def measure_networks(networks: dict[str, nn.Module], input_size, batch_sizes=(1, 128), runtimes=("eager",),
                     memory_formats=("contiguous", "channels_last"), threads: int | None = None, rounds: int = ROUNDS,
                     min_run_time: float = MIN_RUN_TIME, warmup: int = 3, device="cpu", baseline: str = "baseline",
                     seed: int = 0, progress: Callable[[str], None] | None = None) -> dict:
    """{"variants", "runtimes", "runtime_versions", "timing"} of trp.runtime/2 for `networks`
    ({label: eval-mode network}, one labelled `baseline`) at `input_size` (C, H, W). Each call
    gets `min_run_time` seconds over `rounds` rounds per batch size. The primary runtime (the
    variants' "rows") is the first runtime and format that ran. Each row also records
    max_output_difference: the largest |output - eager output| of that network on the input.
    `progress` is told, at each batch size, what is timed and for about how long."""
    check(runtimes, memory_formats)
    if baseline not in networks:
        raise ValueError(f"no network labelled {baseline!r} among {list(networks)}")
    device = torch.device(device)
    networks = {k: n.to(device).eval() for k, n in networks.items()}
    macs = {k: model_cost(n, input_size)["conv_macs"] for k, n in networks.items()}
    variants = {k: {"label": k, "conv_macs": macs[k], "mac_speedup": macs[baseline] / macs[k], "rows": [],
                    "runtime_rows": []} for k in networks}
    skipped, ran = {}, set()
    generator = torch.Generator().manual_seed(seed)
    with pinned_threads(threads) as n_threads:
        for b in batch_sizes:
            x = torch.randn(b, *input_size, generator=generator).to(device)
            with torch.inference_mode():
                reference = {k: net(x) for k, net in networks.items()}
            calls = _calls(networks, runtimes, memory_formats, x, n_threads, skipped)
            if not calls:
                raise Unavailable(f"no runtime could run here: {skipped}")
            ran.update(rt for _, rt, _ in calls)
            if progress is not None:
                progress(f"timing batch size {b}: {len(calls)} network/runtime/format calls in {rounds} interleaved "
                         f"rounds, about {min_run_time:g} s of timing each ({len(calls) * min_run_time:.0f} s or more)")
            samples = interleaved(calls, rounds, min_run_time, warmup)
            primary = next(iter(calls))[1:]
            for (label, rt, fmt), s in samples.items():
                row = {**summary_row(s, b, input_size, device, n_threads), "runtime": rt, "memory_format": fmt}
                same = paired_speedup(samples[(baseline, rt, fmt)].times, s.times, seed=seed)
                row.update(speedup=same["speedup"], speedup_ci=same["ci"], faster=same["faster"],
                           realised_fraction=same["speedup"] / variants[label]["mac_speedup"],
                           vs_primary=paired_speedup(samples[(baseline, *primary)].times, s.times, seed=seed),
                           max_output_difference=(calls[(label, rt, fmt)]().float() - reference[label]).abs().max().item())
                variants[label]["runtime_rows"].append(row)
                if (rt, fmt) == primary:
                    variants[label]["rows"].append(row)
            del calls
    return {"variants": list(variants.values()),
            "runtimes": {rt: {"available": rt in ran, "reason": skipped.get(rt)} for rt in runtimes},
            "runtime_versions": versions(),
            "timing": {"method": "interleaved rounds, each starting one call later (trp.timing.interleaved)",
                       "rounds": rounds, "min_run_time_s": min_run_time, "warmup": warmup, "threads": n_threads,
                       "speedup": "baseline median / variant median, same runtime, format and batch size",
                       "interval": f"paired bootstrap over the rounds, {RESAMPLES} resamples",
                       "confidence": CONFIDENCE, "onnxruntime_session": ORT_SETTINGS}}
