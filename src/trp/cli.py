"""Command line: trp prepare-data | train | decompose | allocate | finetune | evaluate | latency (see --help)."""
import argparse
import json
import os
import sys
from pathlib import Path

from .config import ConfigError, load_config


def _common_data(p):
    p.add_argument("--data", required=True, help="prepared CIFAR-10 arrays (.npz) from `trp prepare-data`")


def _outputs(p, what):
    p.add_argument("--out", required=True, help=f"directory for metrics.json{what}")
    p.add_argument("--checkpoints", help="directory for the .pt files (default: --out)")


def cmd_prepare_data(a):
    from .data import prepare

    print(json.dumps(prepare(a.archive, a.out, a.download_dir), indent=1))


def cmd_train(a):
    from .run import train_run

    overrides = list(a.set)
    if a.target_speedup or a.budget_from:
        overrides.append(f"target_speedup={a.target_speedup or budget_speedup(a.budget_from)}")
    cfg = load_config(a.config, overrides)
    m = train_run(cfg, a.data, a.out, a.checkpoints, progress=not a.no_progress)
    print(json.dumps({k: m[k] for k in ("accuracy", "speedup") if k in m}))


def budget_speedup(metrics_json) -> float:
    """The conv-MAC speedup a run reached (its metrics.json), used as a budget."""
    return float(json.loads(Path(metrics_json).read_text())["speedup"]["conv"])


def cmd_allocate(a):
    from .cobla import allocate_cli

    target = a.target_speedup or (budget_speedup(a.budget_from) if a.budget_from else None)
    if target is None and a.max_params is None:
        raise ValueError("give --target-speedup, --budget-from or --max-params")
    res = allocate_cli(a.checkpoint, a.scheme, target, a.max_params, a.data, a.out, a.method, a.sample,
                       maxiter=a.maxiter)
    print(json.dumps({k: res[k] for k in ("speedup", "macs", "params", "method")}))


def cmd_decompose(a):
    from .tools import decompose_checkpoint

    ranks = json.loads(Path(a.ranks).read_text())["ranks"] if a.ranks else None
    m = decompose_checkpoint(a.checkpoint, a.scheme, a.e, a.data, a.out, a.checkpoints, rule=a.rule, threshold=a.threshold,
                             ranks=ranks, test_subset=a.test_subset)
    print(json.dumps({k: m[k] for k in ("accuracy", "speedup")}))


def cmd_finetune(a):
    from .tools import finetune

    m = finetune(a.checkpoint, load_config(a.config, a.set), a.data, a.out, a.checkpoints, progress=not a.no_progress)
    print(json.dumps({k: m[k] for k in ("accuracy", "speedup")}))


def cmd_evaluate(a):
    from .tools import evaluate_checkpoint

    print(json.dumps(evaluate_checkpoint(a.checkpoint, a.data, a.test_subset)))


def cmd_latency(a):
    from .tools import latency_report

    pairs = dict(item.split("=", 1) for item in a.checkpoint)
    report = latency_report(pairs, a.batch_sizes, a.min_run_time, a.out)
    for v in report["variants"]:
        print(v["label"], [round(r["median_ms_per_image"], 3) for r in v["rows"]], "ms/image")


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="trp", description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare-data", help="verify CIFAR-10 by content and write it as one .npz")
    p.add_argument("--archive", default=os.environ.get("TRP_CIFAR_ARCHIVE"),
                   help="local cifar-10-python.tar.gz (default: $TRP_CIFAR_ARCHIVE, else download the official archive)")
    p.add_argument("--out", required=True)
    p.add_argument("--download-dir", default="data/raw")
    p.set_defaults(func=cmd_prepare_data)

    p = sub.add_parser("train", help="train (baseline | trp | nuclear), then decompose and evaluate")
    p.add_argument("--config", help="YAML run config (keys: see trp.config.TrainConfig)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override config keys")
    p.add_argument("--target-speedup", type=float, help="budgeted TRP: reach this conv-MAC speedup")
    p.add_argument("--budget-from", help="budgeted TRP: the speedup another run reached (its metrics.json)")
    _common_data(p)
    _outputs(p, ", ranklog.jsonl (checkpoints: last.pt, resumed from; model.pt; decomposed.pt)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("decompose", help="TSVD a trained dense network into the low-rank network, no fine-tuning")
    p.add_argument("--checkpoint", required=True, help="model.pt written by `trp train`")
    p.add_argument("--scheme", required=True, choices=["channel", "spatial"])
    p.add_argument("--e", type=float, default=0.02, help="energy threshold of Eq. (4)")
    p.add_argument("--rule", default="energy", choices=["energy", "absolute"])
    p.add_argument("--threshold", type=float, default=0.05, help="singular-value threshold of --rule absolute")
    p.add_argument("--ranks", help="JSON with {'ranks': {layer: rank}} (e.g. from `trp allocate`); overrides --e")
    p.add_argument("--test-subset", type=int)
    _common_data(p)
    _outputs(p, " (checkpoints: decomposed.pt)")
    p.set_defaults(func=cmd_decompose)

    p = sub.add_parser("allocate", help="COBLA: per-layer ranks of a trained network under MAC / parameter budgets")
    p.add_argument("--checkpoint", required=True, help="model.pt written by `trp train`")
    p.add_argument("--scheme", required=True, choices=["channel", "spatial"])
    p.add_argument("--target-speedup", type=float, help="MAC budget = dense conv MACs / this")
    p.add_argument("--budget-from", help="use the conv-MAC speedup another run reached (its metrics.json)")
    p.add_argument("--max-params", type=float, help="budget on conv parameters")
    p.add_argument("--method", default="sqp", choices=["sqp", "milp", "energy"],
                   help="sqp: COBLA's relaxation + rounding; milp: exact least-discarded-energy surrogate; "
                        "energy: energy rule tuned to the budget")
    p.add_argument("--sample", type=int, default=2048, help="training images in the COBLA objective")
    p.add_argument("--maxiter", type=int, default=60, help="SLSQP iterations (COBLA: 60-80)")
    p.add_argument("--data", help="prepared CIFAR-10 (.npz); needed by --method sqp")
    p.add_argument("--out", required=True, help="JSON with the ranks (read by `trp decompose --ranks`)")
    p.set_defaults(func=cmd_allocate)

    p = sub.add_parser("finetune", help="fine-tune a decomposed network (decomposed.pt)")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--config")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE")
    _common_data(p)
    _outputs(p, " (checkpoints: last.pt, finetuned.pt)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_finetune)

    p = sub.add_parser("evaluate", help="test accuracy of a model.pt or decomposed.pt")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--test-subset", type=int)
    _common_data(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("latency", help="measured inference time of a baseline and decomposed networks (Table 4)")
    p.add_argument("--checkpoint", nargs="+", required=True, metavar="LABEL=PATH",
                   help="baseline=model.pt and any number of LABEL=decomposed.pt")
    p.add_argument("--batch-sizes", nargs="+", type=int, default=[1, 128])
    p.add_argument("--min-run-time", type=float, default=1.0, help="seconds of timing per model and batch size")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_latency)
    return ap


def main(argv=None) -> int:
    from .data import DataError

    args = parser().parse_args(argv)
    try:
        args.func(args)
    except (ConfigError, DataError, FileNotFoundError, KeyError, ValueError) as e:
        print(f"trp {args.command}: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
