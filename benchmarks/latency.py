"""Table 4 (Sec. 4.7) on the paper's model: how much of the MAC speedup of a decomposed network each
inference runtime realises, measured, with confidence intervals.

    python benchmarks/latency.py --out results/benchmarks/latency_cpu.json            # full run, quiet machine
    python benchmarks/latency.py --quick --out /tmp/latency_quick.json                # smoke check, < 1 minute
    python benchmarks/latency.py --resnet20 TRP1=runs/trp1/decomposed.pt TRP2=runs/trp2/decomposed.pt \\
        [--resnet20 baseline=runs/base/model.pt] ...                                   # also ResNet-20 TRP networks

ResNet-18 (224x224, trp.models.build("resnet18")) is decomposed at the paper's conv-MAC speedups,
2.23x channel (TRP1+Nu) and 3.18x spatial (TRP2+Nu), with ranks from the budget allocator
(trp.cobla.budget_ranks, as budgeted TRP computes the budget: stages.train.budget_allocator) and the
dense fallback of every decomposed network (stages.compress.final_ranks). Its weights are random:
latency does not depend on the weights' values, only on the shapes and ranks. ResNet-20 networks
are read from checkpoints (weights only, no code runs); without a baseline checkpoint the dense
ResNet-20 is built with random weights. With --latency-aware (the default of the full run), each
decomposed network also gets a latency-aware variant, from the per-layer latency table
(trp.deploy.layer_table, measured in --table-runtime, cached under --table-cache): every layer
whose decomposed form is not faster stays dense; ResNet-18's ranks are first rounded to multiples
of --multiple (default 8, the nearest: aligned channel counts run much faster in ONNX Runtime's
blocked layouts); a checkpoint's ranks are zero-padded up to those multiples and its slow layers
turned back into dense convs (trp.deploy.pad_ranks, recompose: the same outputs).

Every network of one model is timed in every runtime (eager, folded = eager with BN folded,
compile = torch.compile/inductor, onnxruntime) and memory format, in interleaved rounds with pinned
threads (trp.deploy.measure_networks, trp.timing). Runtimes that cannot run here are skipped with
the reason recorded. The full run takes several minutes on 2 CPU cores (torch.compile compiles
each network once per batch size and format); run it on a quiet machine: timings taken while other
work runs are noisy.

Output JSON (--out):

    {"schema": "trp.latency_benchmark/1", "quick": bool, "note": str,
     "device": str, "threads": int, "versions": {...},               # trp.artifacts.provenance + runtimes
     "models": {"resnet18" | <resnet20 arch>: {                      # a trp.runtime/2 document (trp.timing)
         "model", "variants", "runtimes", "runtime_versions", "timing",
         "ranks": {label: {layer: rank}}, "target_speedup": {label: paper MAC speedup}}},
     "best": [{"model", "variant", "batch_size", "mac_speedup", "runtime", "memory_format",
               "median_ms_per_image", "speedup", "speedup_ci", "faster", "realised_fraction",
               "realised_ci"}],                               # per variant and batch size: the runtime
                                                              # with the best lower bound of the speedup
     "targets": [{"model", "variant", "batch_size", "threshold", "mac_speedup", "speedup",
                  "realised_fraction", "realised_ci", "met", "met_with_confidence"}],                     # met: point estimate; with confidence:
                                                                      # the interval's lower bound
     "provenance": {...}}                                            # trp.artifacts.record(settings, ...)

speedup = dense median / variant median in the same runtime, memory format and batch size;
realised_fraction = speedup / MAC speedup (conv MACs, trp.lowrank.model_cost): a variant that keeps
more layers dense has a smaller MAC speedup, so read it beside the speedup itself. Targets: at batch 1
the best runtime realises >= 0.9 of the MAC ratio for ResNet-18 at the paper's spatial speedup and
>= 0.8 for ResNet-20's TRP networks.
"""
import argparse
import copy
import sys

import torch

from trp import models
from trp.artifacts import ArtifactError, load_network, record, write_json
from trp.artifacts.provenance import device_name, versions
from trp.cli import POSITIVE_INT, label_path, number
from trp.config import TrainConfig
from trp.deploy import (MEMORY_FORMATS, RUNTIMES, keep_faster, layer_latency_table, measure_networks, pad_ranks,
                        recompose, round_ranks, versions as runtime_versions)
from trp.deploy.latency_aware import ROUNDING
from trp.lowrank import LowRankConv2d, decompose_model
from trp.report.verdict import target_verdict
from trp.stages.compress import final_ranks
from trp.stages.inputs import sites_of
from trp.stages.train import budget_allocator
from trp.timing import pinned_threads

PAPER = {"TRP1+Nu (channel)": ("channel", 2.23), "TRP2+Nu (spatial)": ("spatial", 3.18)}  # Table 2 conv-MAC speedups
NOTE = ("ResNet-18 has random weights: latency depends on the shapes and ranks only. Ranks from the budget allocator "
        "at the paper's conv-MAC speedups; ResNet-20 networks from the given checkpoints.")
TARGETS = [("resnet18", "TRP2+Nu (spatial)", 0.9), ("resnet20", "", 0.8)]  # variant labels starting so
QUICK = dict(batch_sizes=[1], runtimes=["eager", "folded", "onnxruntime"], memory_formats=["contiguous"], rounds=5,
             min_run_time=0.4)
FULL = dict(batch_sizes=[1, 16], runtimes=list(RUNTIMES), memory_formats=list(MEMORY_FORMATS), rounds=15,
            min_run_time=2.0)


def resnet18_networks(args) -> tuple[dict, dict, dict]:
    """{label: network}, {label: ranks}, {label: paper MAC speedup} of the dense ResNet-18 and its
    decompositions at the paper's speedups (and their latency-aware variants)."""
    torch.manual_seed(0)
    dense = models.build("resnet18").eval()
    networks, ranks, targets = {"baseline": dense}, {}, {}
    for label, (scheme, target) in PAPER.items():
        sites = sites_of(dense, "resnet18", scheme)
        cfg = TrainConfig(model="resnet18", method="trp", scheme=scheme, target_speedup=target)
        keep, _ = final_ranks(sites, scheme, cfg.e, ranks=budget_allocator(cfg, dense, sites)(sites))
        variants = {label: keep}
        if args.latency_aware:  # rounded to multiples, dense where not faster, never past break-even
            rounded = round_ranks(keep, {s.name: s.full_rank for s in sites}, args.multiple, args.rounding)
            faster, _ = keep_faster(rounded, table("resnet18", scheme, args))
            variants[f"{label} latency-aware"], _ = final_ranks(sites, scheme, cfg.e, ranks=faster)
        for name, r in variants.items():
            networks[name], ranks[name], targets[name] = decompose_model(copy.deepcopy(dense), r, scheme), r, target
    return networks, ranks, targets


def checkpoint_networks(args) -> tuple[str, dict, dict]:
    """The networks of the --resnet20 checkpoints (and, with --latency-aware, each decomposed one
    with its ranks zero-padded to multiples of --multiple and the layers not faster decomposed
    turned back into dense convs: the same outputs)."""
    loaded = {label: load_network(path) for label, path in args.resnet20}  # all read (and checked) before any timing
    archs = {rec["arch"] for _, rec in loaded.values()}
    if len(archs) != 1:
        raise ArtifactError(f"--resnet20 checkpoints hold different models: {sorted(archs)}")
    arch = archs.pop()
    torch.manual_seed(0)
    networks = {"baseline": models.build(arch).eval()}  # replaced by a baseline checkpoint where one is given
    ranks = {}
    for label, (net, rec) in loaded.items():
        networks[label], ranks[label] = net.eval(), low_ranks(net)
        if args.latency_aware and ranks[label]:
            padded = pad_ranks(copy.deepcopy(net), args.multiple)
            keep, slow = keep_faster(low_ranks(padded), table(arch, rec["scheme"], args))
            networks[f"{label} latency-aware"], ranks[f"{label} latency-aware"] = recompose(padded, slow).eval(), keep
    return arch, networks, ranks


def low_ranks(net) -> dict[str, int]:
    return {n: m.rank for n, m in net.named_modules() if isinstance(m, LowRankConv2d)}


def table(arch: str, scheme: str, args) -> dict:
    """The per-layer latency table of `arch` under `scheme` in --table-runtime (cached)."""
    return layer_latency_table(arch, scheme, args.table_runtime, threads=args.threads, multiple=args.multiple,
                               cache=f"{args.table_cache}/{arch}-{scheme}-{args.table_runtime}.json")


def best_rows(model: str, doc: dict) -> list[dict]:
    """Per decomposed variant and batch size, the runtime whose speedup has the highest lower
    confidence bound (the largest point estimate of many noisy ones would flatter the best)."""
    out = []
    for v in doc["variants"]:
        if v["label"] == "baseline":
            continue
        for b in sorted({r["batch_size"] for r in v["runtime_rows"]}):
            r = max((r for r in v["runtime_rows"] if r["batch_size"] == b), key=lambda r: r["speedup_ci"][0])
            out.append({"model": model, "variant": v["label"], "batch_size": b, "mac_speedup": v["mac_speedup"],
                        "runtime": r["runtime"], "memory_format": r["memory_format"],
                        "median_ms_per_image": r["median_ms_per_image"], "speedup": r["speedup"],
                        "speedup_ci": r["speedup_ci"], "faster": r["faster"], "realised_fraction": r["realised_fraction"],
                        "realised_ci": [c / v["mac_speedup"] for c in r["speedup_ci"]]})
    return out


def targets(best: list[dict]) -> list[dict]:
    """The targets at batch 1: met by the point estimate, and met with confidence (lower bound)."""
    out = []
    for model, variant, threshold in TARGETS:
        for b in best:
            if b["batch_size"] == 1 and b["model"] == model and b["variant"].startswith(variant):
                out.append({"model": b["model"], "variant": b["variant"], "batch_size": 1, "threshold": threshold,
                            "mac_speedup": b["mac_speedup"], "speedup": b["speedup"],
                            "realised_fraction": b["realised_fraction"], "realised_ci": b["realised_ci"],
                            "met": b["realised_fraction"] >= threshold, "met_with_confidence": b["realised_ci"][0] >= threshold})
    return out


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help=f"smoke check in under a minute: {QUICK}")
    ap.add_argument("--out", default="results/benchmarks/latency_cpu.json")
    ap.add_argument("--resnet20", nargs="+", action="extend", type=label_path, default=[], metavar="LABEL=PATH",
                    help="ResNet-20 checkpoints (decomposed.pt; baseline=model.pt optional)")
    ap.add_argument("--batch-sizes", nargs="+", type=POSITIVE_INT)
    ap.add_argument("--runtimes", nargs="+", choices=RUNTIMES)
    ap.add_argument("--memory-formats", nargs="+", choices=MEMORY_FORMATS)
    ap.add_argument("--rounds", type=POSITIVE_INT)
    ap.add_argument("--min-run-time", type=number(0, lo_open=True), help="seconds of timing per network, runtime and batch size")
    ap.add_argument("--threads", type=POSITIVE_INT, default=torch.get_num_threads(),
                    help="intra-op threads (default: %(default)s)")
    ap.add_argument("--latency-aware", action=argparse.BooleanOptionalAction, default=None,
                    help="add latency-aware ResNet-18 variants (default: on, off with --quick)")
    ap.add_argument("--multiple", type=POSITIVE_INT, default=8,
                    help="latency-aware ranks: ResNet-18 rounded, checkpoints zero-padded, to multiples of this")
    ap.add_argument("--rounding", choices=ROUNDING, default="nearest",
                    help="direction of that rounding (nearest keeps the MAC budget closest)")
    ap.add_argument("--table-runtime", choices=RUNTIMES, default="folded", help="runtime of the per-layer latency table")
    ap.add_argument("--table-cache", default="results/benchmarks/layer_latency", help="folder of cached latency tables")
    args = ap.parse_args(argv)
    for k, v in (QUICK if args.quick else FULL).items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    if args.latency_aware is None:
        args.latency_aware = not args.quick
    labels = [label for label, _ in args.resnet20]
    if len(set(labels)) < len(labels):
        ap.error("each --resnet20 label must be given once")
    return args


def main(argv=None) -> None:
    args = parse(argv)
    timing = {k: getattr(args, k) for k in ("batch_sizes", "runtimes", "memory_formats", "threads", "rounds",
                                            "min_run_time")}
    with pinned_threads(args.threads):
        try:
            plans = [(*checkpoint_networks(args), {})] if args.resnet20 else []  # bad files fail before ResNet-18
            plans.insert(0, ("resnet18", *resnet18_networks(args)))
        except (ArtifactError, ValueError) as e:
            sys.exit(f"latency.py: error: {e}")
        docs = {}
        for arch, networks, ranks, target in plans:
            print(f"timing {arch}: {list(networks)}", file=sys.stderr, flush=True)
            docs[arch] = {"model": arch, **measure_networks(networks, models.input_size(arch), **timing),
                          "ranks": ranks, "target_speedup": target}
        best = [b for arch, doc in docs.items() for b in best_rows(arch, doc)]
        out = {"schema": "trp.latency_benchmark/1", "quick": args.quick, "note": NOTE, "device": device_name("cpu"),
               "threads": args.threads, "versions": {**versions(), **runtime_versions()}, "models": docs, "best": best,
               "targets": targets(best),
               "provenance": record({**timing, "resnet20": args.resnet20, "latency_aware": args.latency_aware,
                                  "multiple": args.multiple, "rounding": args.rounding}, "cpu", None)}
    write_json(args.out, out)
    for b in best:
        print(f"{b['model']:9s} {b['variant']:32s} b{b['batch_size']:<4d} MAC {b['mac_speedup']:.2f}x  best {b['runtime']}/"
              f"{b['memory_format']}: {b['speedup']:.2f}x [{b['speedup_ci'][0]:.2f}, {b['speedup_ci'][1]:.2f}] "
              f"faster={b['faster']} realised {b['realised_fraction']:.2f}")
    for t in out["targets"]:
        print(f"target {t['model']} {t['variant']} b1 >= {t['threshold']}: {t['realised_fraction']:.2f} "
              f"[{t['realised_ci'][0]:.2f}, {t['realised_ci'][1]:.2f}] of MAC {t['mac_speedup']:.2f}x ({target_verdict(t)})")
    print(f"wrote {args.out} (timings on a busy machine are noisy)")


if __name__ == "__main__":
    main()
