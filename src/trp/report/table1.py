"""Table 1 (CIFAR-10): our top-1 and speedup beside the paper's, and ours − paper.

    python -m trp.report.table1 --runs resnet20/TRP1=runs/a/metrics.json --runs resnet20/TRP1=runs/b/metrics.json \
        --runs resnet20/baseline=... --profile paper --out paper_tables/table1

Several PATHs under one LABEL are seeds: mean ± std. Every paper row is listed (ours "–" where
not run); runs the paper has no row for follow it.
"""
import argparse
from pathlib import Path

from . import paper
from .common import diff, load_json, mean_std, parse_pairs, provenance_footer, write_json, write_table

COLUMNS = [("model", "model"), ("method", "method"),
           ("our_top1", "ours: top-1 (%)"), ("our_speedup", "ours: speedup (conv MACs)"),
           ("paper_top1", "paper: top-1 (%)"), ("paper_speedup", "paper: speedup"),
           ("d_top1", "ours − paper: top-1"), ("d_speedup", "ours − paper: speedup")]


def our_top1(metrics: dict, method: str) -> float:
    # baseline: the dense network; TRP rows: the decomposed network, no fine-tuning;
    # Zhang2016 / Jaderberg2014: the basic decomposition after fine-tuning (trp.finetune/1).
    acc = metrics["accuracy"]
    return acc["dense"] if method == "baseline" else acc["decomposed"]


def our_speedup(metrics: dict, method: str) -> float:
    return 1.0 if method == "baseline" else metrics["speedup"]["conv"]


def table1(runs: dict[str, list[str]], profile: str, out_prefix) -> list[dict]:
    """runs: "model/method" -> metrics.json paths (seeds). Writes {out_prefix}.md/.tex/.csv; returns the rows."""
    ours, loaded = {}, []
    for label, paths in runs.items():
        model, method = label.split("/")
        ms = [load_json(p) for p in paths]
        for p, m in zip(paths, ms):
            if m.get("config", {}).get("model", model) != model:
                raise ValueError(f"{p}: model {m['config']['model']!r} does not match label {label!r}")
        loaded += ms
        speed = [our_speedup(m, method) for m in ms]
        ours[(model, method)] = {"top1": mean_std([our_top1(m, method) for m in ms]),
                                 "speedup": 1.0 if method == "baseline" else mean_std(speed)}
    keys = [(r["model"], r["method"]) for r in paper.TABLE1]
    keys += [k for k in ours if k not in keys]
    rows = []
    for model, method in keys:
        p, o = paper.table1(model, method) or {}, ours.get((model, method), {})
        rows.append({"model": paper.MODEL_LABELS.get(model, model), "method": paper.METHOD_LABELS.get(method, method),
                     "our_top1": o.get("top1"), "our_speedup": o.get("speedup"),
                     "paper_top1": p.get("top1"), "paper_speedup": p.get("speedup"),
                     "d_top1": diff(o.get("top1"), p.get("top1")), "d_speedup": diff(o.get("speedup"), p.get("speedup"))})
    title = ("Table 1: CIFAR-10, ours vs the paper (ours: decomposed network without fine-tuning for TRP rows, "
             "fine-tuned for the basic methods; speedup = dense / decomposed conv MACs)")
    footer = provenance_footer(loaded, profile)
    write_table(rows, COLUMNS, out_prefix, title, footer)
    write_json({"rows": rows, "provenance": footer}, out_prefix)  # declared as DVC metrics
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", action="extend", nargs="+", required=True, metavar="MODEL/METHOD=PATH")
    ap.add_argument("--profile", required=True)
    ap.add_argument("--out", required=True, metavar="PREFIX")
    args = ap.parse_args(argv)
    table1(parse_pairs(args.runs), args.profile, args.out)
    print(Path(f"{args.out}.md").read_text())


if __name__ == "__main__":
    main()
