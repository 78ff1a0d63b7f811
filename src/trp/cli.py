"""Command line: trp prepare-data | train | decompose | allocate | finetune | evaluate | latency | render.

A user error (bad value, missing or wrong file, a run directory holding another run) is one line,
`trp <command>: error: <what is wrong and what to do>`, exit status 2, before any work where the
input allows. A diverged run exits 3; a run stopped by --time-limit after a checkpoint exits 75
(run the same command again to resume). Internal bugs keep their traceback."""
import argparse
import errno
import importlib
import json
import math
import os
import sys

from .artifacts import ArtifactError, dumps, staged_rendering
from .artifacts.checkpoints import MAX_SIDE, MIN_SIDE
from .artifacts.records import read_run
from .cli_parser import Parser
from .deploy.runtimes import MEMORY_FORMATS, RUNTIMES
from .config import DEVICES, ConfigError, TrainConfig, load_values
from .config_help import config_keys_help
from .data import SAMPLE, DataError
from .data.imagenet import CROP
from .lowrank import SCHEMES
from .report.run_table import read_run_table
from .stages.compress import RANK_RULES
from .stages.finetune import IGNORES as FINETUNE_IGNORES
from .stages.inputs import ImageNet, profile_settings
from .stages.train import EXIT_RESUMABLE
from .timing import MIN_RUN_TIME, ROUNDS
from .train import NonFiniteError

USER_ERRORS = (ConfigError, DataError, ArtifactError)  # trp.cobla's InfeasibleBudget is a ConfigError
# a full or read-only disk, a quota: the machine's state, not a bug (what was written before is kept)
DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS)
EXIT_DIVERGED = 3
DEFAULTS = TrainConfig()
RENDERERS = ("table1", "table4", "fig2", "fig3", "theorem2", "claims", "cobla", "imagenet", "budget")


def number(lo=None, hi=None, integer=False, lo_open=False, hi_open=False):
    """An argparse type: a finite number (an integer if `integer`) within [lo, hi] (open at lo if
    lo_open, at hi if hi_open)."""
    def parse(text):
        try:
            x = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'an integer' if integer else 'a number'}, got {text!r}") from None
        low_ok = lo is None or (x > lo if lo_open else x >= lo)
        high_ok = hi is None or (x < hi if hi_open else x <= hi)
        if not math.isfinite(x) or not low_ok or not high_ok:
            bound = f"{'>' if lo_open else '>='} {lo}" if hi is None else \
                f"in {'(' if lo_open else '['}{lo}, {hi}{')' if hi_open else ']'}"
            raise argparse.ArgumentTypeError(f"must be finite and {bound}, got {text}")
        return x
    return parse


POSITIVE_INT = number(1, integer=True)
SPEEDUP = number(1, lo_open=True)
ENERGY = number(0, 1, lo_open=True, hi_open=True)


def label_path(text):
    label, sep, path = text.partition("=")
    if not sep or not label or not path:
        raise argparse.ArgumentTypeError(f"expected LABEL=PATH, got {text!r}")
    return label, path


def budget_speedup(metrics_json) -> float:
    """The conv-MAC speedup a run reached (speedup.conv of its run record), used as a budget."""
    value = read_run(metrics_json)["speedup"]["conv"]
    if not value > 1:
        raise ArtifactError(f"{metrics_json}: its conv speedup {value} is not > 1, so it cannot set a budget")
    return value


def cmd_prepare_data(a):
    from .stages.prepare import prepare_data

    print(dumps(prepare_data(a.archive, a.out, a.download_dir, a.overwrite)))


def dataset(a, profile: dict):
    """What --data is: CIFAR-10's prepared .npz, or, where the profile's dataset is imagenet, an ImageNet folder
    read with --workers (default: the profile's workers) and --image-size. ImageNet's options are refused
    elsewhere."""
    if profile.get("dataset") == "imagenet":
        return ImageNet(a.data, profile["workers"] if a.workers is None else a.workers, a.image_size or CROP)
    given = [flag for flag, value in (("--weights", getattr(a, "weights", None)), ("--workers", a.workers),
                                      ("--image-size", a.image_size)) if value is not None]
    if given:
        raise ConfigError(f"{', '.join(given)} apply to ImageNet data: give --profile config/imagenet.yaml (or "
                          "another profile whose dataset is imagenet)")
    return a.data


def finished(command: str, m: dict) -> int | None:
    """A run stopped by its time limit: said once (by rank 0 under torchrun), exit 75. Else the record's
    accuracy and speedup, printed where the record was written (rank 0, or the only process)."""
    if not m["finished"]:  # every process stopped after the same epoch
        if os.environ.get("RANK", "0") == "0":
            print(f"trp {command}: time limit reached after epoch {m['epoch']}; checkpoint saved, run the same "
                  "command again to resume", file=sys.stderr)
        return EXIT_RESUMABLE
    if "accuracy" in m:
        print(json.dumps({k: m[k] for k in ("accuracy", "speedup") if k in m}))
    return None


def cmd_train(a):
    from .stages.train import train_run

    profile, values = profile_settings(a.profile)
    data = dataset(a, profile)
    overrides = list(a.set)
    if a.target_speedup is not None or a.budget_from:
        if "target_speedup" in {**values, **load_values(a.config, a.set)}:
            raise ConfigError(f"{'--target-speedup' if a.budget_from is None else '--budget-from'} and the config "
                              "key target_speedup both set the budget; give one of them")
        overrides.append(f"target_speedup={a.target_speedup or budget_speedup(a.budget_from)}")
    m = train_run(TrainConfig.from_dict({**values, **load_values(a.config, overrides)}), data, a.out, a.checkpoints,
                  progress=not a.no_progress, overwrite=a.overwrite, time_limit_minutes=a.time_limit,
                  deterministic=a.deterministic, inputs=(a.budget_from,), weights=a.weights)
    return finished("train", m)


def cmd_allocate(a):
    from .stages.allocate import allocate_checkpoint

    if a.latency_speedup is not None and a.latency_table is None:
        raise ConfigError("--latency-speedup needs --latency-table (a layer latency JSON of this model and scheme)")
    target = a.target_speedup or (budget_speedup(a.budget_from) if a.budget_from else None)
    if target is None and a.max_params is None and a.latency_speedup is None:
        raise ConfigError("give a budget: --target-speedup, --budget-from, --max-params or --latency-speedup")
    if a.method == "sqp" and a.data is None:
        raise ConfigError("method 'sqp' needs the prepared data (--data) for its training sample")
    res = allocate_checkpoint(a.checkpoint, a.scheme, target, a.max_params, a.data, a.out, a.method, a.sample,
                              maxiter=a.maxiter, latency_table=a.latency_table, latency_speedup=a.latency_speedup,
                              overwrite=a.overwrite)
    keys = ("speedup", "macs", "params", "method") + (("latency_speedup",) if a.latency_table else ())
    print(json.dumps({k: res[k] for k in keys}))


def cmd_decompose(a):
    from .stages.decompose import decompose_checkpoint

    m = decompose_checkpoint(a.checkpoint, a.scheme, a.e, dataset(a, profile_settings(a.profile)[0]), a.out,
                             a.checkpoints, rule=a.rule, threshold=a.threshold, ranks_file=a.ranks,
                             test_subset=a.test_subset, device=a.device, overwrite=a.overwrite)
    print(json.dumps({k: m[k] for k in ("accuracy", "speedup")}))


def cmd_finetune(a):
    from .stages.finetune import finetune

    profile, settings = profile_settings(a.profile, finetuning=True)
    values = load_values(a.config, a.set)
    ignored = sorted(set(values) & FINETUNE_IGNORES)
    if ignored:
        raise ConfigError(f"trp finetune takes the network, its scheme and ranks from --checkpoint and trains it "
                          f"without a regulariser, so it would ignore {', '.join(ignored)}; leave them out")
    m = finetune(a.checkpoint, TrainConfig.from_dict({**settings, **values}), dataset(a, profile), a.out,
                 a.checkpoints, progress=not a.no_progress, overwrite=a.overwrite, deterministic=a.deterministic,
                 time_limit_minutes=a.time_limit)
    return finished("finetune", m)


def cmd_evaluate(a):
    from .stages.evaluate import evaluate_checkpoint

    print(json.dumps(evaluate_checkpoint(a.checkpoint, a.data, a.test_subset)))


def cmd_latency(a):
    from .stages.latency import latency_report

    pairs = dict(a.checkpoint)
    if len(pairs) < len(a.checkpoint):
        raise ConfigError("each --checkpoint label must be given once")
    report = latency_report(pairs, a.batch_sizes, a.min_run_time, a.out, runtimes=a.runtimes,
                            memory_formats=a.memory_formats, rounds=a.rounds, threads=a.threads, overwrite=a.overwrite)
    for v in report["variants"]:  # the primary runtime's median per image, at each batch size
        print(f"{v['label']}: " + ", ".join(f"batch size {r['batch_size']}: {r['median_ms_per_image']:.3f} ms/image"
                                           for r in v["rows"]))


def _named_files(args: list[str]) -> list[str]:
    """Every argument, every PATH of a LABEL=PATH argument, and every record a run table among them
    names: the renderer's possible inputs."""
    named = [*args, *(arg.partition("=")[2] for arg in args)]
    return [*named, *(path for arg in named for path in _strings(_run_table_or_none(arg)))]


def _run_table_or_none(path):
    try:
        return read_run_table(path)
    except ArtifactError:  # not a run table: the renderer says so where it wants one
        return None


def _strings(value) -> list[str]:
    """Every string in a JSON value (in a run table: the paths of its records, among others)."""
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return [value] if isinstance(value, str) else []


def cmd_render(a):
    """The renderer writes to a scratch prefix; its files then replace those at --out under the
    output policy (trp.artifacts.outputs)."""
    render = importlib.import_module(f"trp.report.{a.name}").main
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--out")
    pre.add_argument("--overwrite", action="store_true")
    known, rest = pre.parse_known_args(a.args)
    if known.out is None:
        return render(a.args)  # its parser says what is missing
    with staged_rendering(known.out, _named_files(rest), known.overwrite) as scratch:
        render([*rest, "--out", str(scratch)])


def _data(p):
    p.add_argument("--data", required=True, help="prepared CIFAR-10 arrays (.npz) from `trp prepare-data`")


def _dataset(p):
    """--data, and the profile that says what it is (--profile; ImageNet's options)."""
    p.add_argument("--data", required=True, help="prepared CIFAR-10 arrays (.npz) from `trp prepare-data`; with an "
                                                 "ImageNet profile the ImageNet folder (train/<class>/*.JPEG, "
                                                 "val/<class>/*.JPEG)")
    p.add_argument("--profile", help="a profile (config/<name>.yaml): its dataset (config/imagenet.yaml: --data is "
                                     "ImageNet) and, for trp train and trp finetune, its settings (the train: block, "
                                     "then trp: e and m or the finetune: block), under --config and --set")
    p.add_argument("--workers", type=number(0, integer=True),
                   help="ImageNet: DataLoader worker processes per process (default: the profile's workers)")
    p.add_argument("--image-size", type=number(MIN_SIDE, MAX_SIDE, integer=True),
                   help=f"ImageNet: training crop; evaluation resizes to size*256/224 and centre-crops it (default "
                        f"and paper: {CROP})")


def _time_limit(p):
    p.add_argument("--time-limit", type=number(0, lo_open=True), metavar="MINUTES",
                   help="stop after the last epoch that ends within this time (at least one per start), checkpointed; "
                        f"exit {EXIT_RESUMABLE} (under torchrun every process does, after the same epoch; run the "
                        "command again to resume)")


def _outputs(p, what):
    p.add_argument("--out", required=True, help=f"directory for metrics.json{what}")
    p.add_argument("--checkpoints", help="directory for the .pt files (default: --out)")
    p.add_argument("--overwrite", action="store_true",
                   help="delete the outputs of another run found in these directories and start afresh")


def _overwrite(p, what):
    p.add_argument("--overwrite", action="store_true",
                   help=f"replace a file at --out that is not {what} (a file the command reads is never replaced)")


def _config(p):
    p.add_argument("--config", help="YAML run config (keys: the fields of trp.config.TrainConfig)")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="override config keys")
    p.add_argument("--deterministic", action="store_true",
                   help="deterministic algorithms only (cuDNN's too): a run on a GPU repeats bit for bit with the same GPU "
                        "and versions, at some cost in speed; the record's provenance states it")


def parser() -> argparse.ArgumentParser:
    ap = Parser(prog="trp", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True, parser_class=Parser)
    p = sub.add_parser("prepare-data", help="verify CIFAR-10 by content and write it as one .npz")
    p.add_argument("--archive", default=os.environ.get("TRP_CIFAR_ARCHIVE"),
                   help="local cifar-10-python.tar.gz (default: $TRP_CIFAR_ARCHIVE, else download the official archive)")
    p.add_argument("--out", required=True, help="the .npz to write (replaces prepared data there)")
    _overwrite(p, "prepared data")
    p.add_argument("--download-dir", default="data/raw")
    p.set_defaults(func=cmd_prepare_data)

    p = sub.add_parser("train", help="train (baseline | trp | nuclear), then decompose and evaluate",
                       epilog=config_keys_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    _config(p)
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--target-speedup", type=SPEEDUP, help="budgeted TRP: reach this conv-MAC speedup (> 1)")
    budget.add_argument("--budget-from", help="budgeted TRP: the speedup another run reached (its metrics.json)")
    _time_limit(p)
    _dataset(p)
    p.add_argument("--weights", help="ImageNet: the pretrained network trained from, torchvision's weights file "
                                     "named <name>-<sha256 prefix>.pth (default: $TORCH_HOME/hub/checkpoints/"
                                     "resnet18-f37072fd.pth or resnet50-0676ba61.pth)")
    _outputs(p, ", ranklog.jsonl (checkpoints: last.pt and ranklog.partial.jsonl, resumed from; model.pt; decomposed.pt)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("decompose", help="TSVD a trained dense network into the low-rank network, no fine-tuning")
    p.add_argument("--checkpoint", required=True, help="model.pt written by `trp train`, or torchvision's pretrained "
                                                       "weights file (<name>-<sha256 prefix>.pth)")
    p.add_argument("--scheme", required=True, choices=SCHEMES)
    p.add_argument("--e", type=ENERGY, default=DEFAULTS.e, help="energy threshold of Eq. (4), in (0, 1)")
    p.add_argument("--rule", default=DEFAULTS.rank_rule, choices=RANK_RULES)
    p.add_argument("--threshold", type=number(0, lo_open=True), default=DEFAULTS.rank_threshold,
                   help="singular-value threshold of --rule absolute")
    p.add_argument("--ranks", help="JSON with {'ranks': {layer: rank}} (e.g. from `trp allocate`); overrides --e")
    p.add_argument("--test-subset", type=POSITIVE_INT)
    p.add_argument("--device", default=DEFAULTS.device, choices=DEVICES, help="auto: a GPU when one is visible")
    _dataset(p)
    _outputs(p, " (checkpoints: decomposed.pt)")
    p.set_defaults(func=cmd_decompose)

    p = sub.add_parser("allocate", help="COBLA: per-layer ranks of a trained network under MAC / parameter / "
                                        "latency budgets")
    p.add_argument("--checkpoint", required=True, help="model.pt written by `trp train`, or torchvision's pretrained "
                                                       "weights file (<name>-<sha256 prefix>.pth)")
    p.add_argument("--scheme", required=True, choices=SCHEMES)
    budget = p.add_mutually_exclusive_group()
    budget.add_argument("--target-speedup", type=SPEEDUP, help="MAC budget = dense conv MACs / this (> 1)")
    budget.add_argument("--budget-from", help="use the conv-MAC speedup another run reached (its metrics.json)")
    p.add_argument("--max-params", type=number(0, lo_open=True), help="budget on conv parameters")
    p.add_argument("--latency-table", metavar="PATH",
                   help="per-layer latency table of this model and scheme, measured on the target device (JSON of "
                        "trp.deploy.layer_latency_table; benchmarks/latency.py --latency-aware caches them under "
                        "--table-cache); the output then reports the predicted latency of the decomposable convs")
    p.add_argument("--latency-speedup", type=SPEEDUP, metavar="S",
                   help="latency budget: predicted time of the decomposable convs at most their all-dense time in "
                        "--latency-table / S (> 1); alone or with the MAC / parameter budgets")
    p.add_argument("--method", default="sqp", choices=["sqp", "milp", "energy"],
                   help="sqp: COBLA's relaxation + rounding; milp: exact least-discarded-energy surrogate; "
                        "energy: energy rule tuned to the budget")
    p.add_argument("--sample", type=POSITIVE_INT, default=SAMPLE, help="training images in the COBLA objective")
    p.add_argument("--maxiter", type=POSITIVE_INT, default=60, help="SLSQP iterations (COBLA: 60-80)")
    p.add_argument("--data", help="prepared CIFAR-10 (.npz); needed by --method sqp")
    p.add_argument("--out", required=True, help="JSON with the ranks (read by `trp decompose --ranks`; replaces an "
                                                "allocation there)")
    _overwrite(p, "an allocation")
    p.set_defaults(func=cmd_allocate)

    p = sub.add_parser("finetune", help="fine-tune a decomposed network (decomposed.pt)")
    p.add_argument("--checkpoint", required=True, help="decomposed.pt written by `trp train` or `trp decompose`")
    _config(p)
    _time_limit(p)
    _dataset(p)
    _outputs(p, " (checkpoints: last.pt, finetuned.pt)")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=cmd_finetune)

    p = sub.add_parser("evaluate", help="test accuracy of a model.pt or decomposed.pt")
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--test-subset", type=POSITIVE_INT)
    _data(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("latency", help="measured inference time of a baseline and decomposed networks (Table 4)")
    p.add_argument("--checkpoint", nargs="+", required=True, type=label_path, metavar="LABEL=PATH",
                   help="baseline=model.pt and any number of LABEL=decomposed.pt")
    p.add_argument("--batch-sizes", nargs="+", type=POSITIVE_INT, default=[1, 128])
    p.add_argument("--min-run-time", type=number(0, lo_open=True), default=MIN_RUN_TIME,
                   help="seconds of timing per model and batch size")
    p.add_argument("--runtimes", nargs="+", choices=RUNTIMES, default=["eager"],
                   help="inference runtimes (the first is the one Table 4 reads)")
    p.add_argument("--memory-formats", nargs="+", choices=MEMORY_FORMATS, default=list(MEMORY_FORMATS))
    p.add_argument("--rounds", type=POSITIVE_INT, default=ROUNDS, help="interleaved timing rounds")
    p.add_argument("--threads", type=POSITIVE_INT, help="intra-op threads (default: torch's)")
    p.add_argument("--out", required=True, help="the runtime JSON to write (replaces a runtime JSON there)")
    _overwrite(p, "a runtime JSON")
    p.set_defaults(func=cmd_latency)

    p = sub.add_parser("render", help="render one table or figure from run records (see trp render NAME --help)")
    p.add_argument("name", choices=RENDERERS)
    p.add_argument("args", nargs=argparse.REMAINDER, help="the renderer's own arguments")
    p.set_defaults(func=cmd_render)
    return ap


def main(argv=None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args) or 0
    except USER_ERRORS as e:
        print(f"trp {args.command}: error: {e}", file=sys.stderr)
    except NonFiniteError as e:
        print(f"trp {args.command}: error: {e}", file=sys.stderr)
        return EXIT_DIVERGED
    except OSError as e:
        if e.errno not in DISK_ERRNOS:
            raise
        where = f" writing {e.filename}" if e.filename else ""
        print(f"trp {args.command}: error: {e.strerror or os.strerror(e.errno)}{where}; free space (or get write "
              "access) and run the command again (files written before are kept)", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
