"""Table 1 (CIFAR-10): our top-1 and speedup beside the paper's, and ours − paper.

    trp render table1 --runs resnet20/TRP1=runs/a/metrics.json resnet20/TRP1=runs/b/metrics.json \
        resnet20/baseline=... --profile paper --out paper_tables/table1

A label is MODEL/METHOD with a method key of trp.report.paper; several PATHs under one label are
seeds: mean ± std (n). Each row reports the network its run ends with (fine-tuned if it was) and the
epochs behind it; its records' paths are in the .csv (column "records") and the .json, each record
naming its kind and so the stage that wrote it (trp.artifacts.records). Every paper row is listed
(ours "–" where not run); runs the paper has no row for follow it (the basic methods at the MACs
each TRP run reached, TRP + fine-tuning). A profile still running is rendered from the records it
has: `--pending MODEL/METHOD=STATE` names each row with seeds still to come and what they are doing
(e.g. "seed 1: training, epoch 40/164"), in a column "state" that the table has only then.
{PREFIX}.json holds our numbers and records by model and method key (its numbers flattened for
`dvc metrics` by trp.report.table1_metrics); their provenance is the footer of the .md/.tex/.csv.
"""
from pathlib import Path

from ..artifacts import ArtifactError, write_json
from ..artifacts.records import Record, final_top1, read_run
from . import paper
from .arguments import label_parts, parse_pairs, renderer_parser
from .cells import diff
from .epochs import scratch_epochs, training_epochs
from .footer import provenance_footer
from .seeds import mean_std
from .tables import write_table

COLUMNS = [("model", "model"), ("method", "method"), ("epochs", "training (epochs)"),
           ("our_top1", "ours: top-1 (%)"), ("our_speedup", "ours: speedup (conv MACs)"),
           ("paper_top1", "paper: top-1 (%)"), ("paper_speedup", "paper: speedup"),
           ("d_top1", "ours − paper: top-1"), ("d_speedup", "ours − paper: speedup")]
RECORDS = ("records", "records")  # the csv's column of a row's record paths (its seeds')
TITLE = ("Table 1: CIFAR-10, ours vs the paper (ours: TRP rows without fine-tuning, the basic methods and "
         "'+ fine-tuning' rows fine-tuned; speedup = dense / decomposed conv MACs; mean ± std over n seeds)")


def load_runs(runs: dict[str, list[str]]) -> dict[tuple[str, str], list[Record]]:
    """"model/method" -> metrics.json paths (seeds)  =>  (model, method) -> records, each checked
    to be of the model its label names."""
    out = {}
    for label, paths in runs.items():
        model, method = label_parts(label, "model/method")
        out[(model, method)] = [read_run(p) for p in paths]
        for p, m in zip(paths, out[(model, method)]):
            if m["config"].get("model") != model:
                raise ArtifactError(f"{p}: model {m['config'].get('model')!r} does not match label {label!r}")
    return out


def our_results(records: dict[tuple[str, str], list[Record]]) -> dict[tuple[str, str], dict]:
    """(model, method) -> {"top1": mean_std, "speedup": mean_std (1.0 for the baseline), "epochs"} over
    seeds, and "records": their paths."""
    out = {}
    for (model, method), ms in records.items():
        scratch = scratch_epochs([m for (mdl, _), rs in records.items() if mdl == model for m in rs])
        out[(model, method)] = {"top1": mean_std([final_top1(m) for m in ms]),
                                "speedup": 1.0 if method == "baseline" else
                                mean_std([m["speedup"]["conv"] for m in ms]),
                                "epochs": "/".join(sorted({training_epochs(m, scratch) for m in ms})),
                                "records": [m.path for m in ms]}
    return out


def table_rows(ours: dict[tuple[str, str], dict], pending: dict[tuple[str, str], str] | None = None) -> list[dict]:
    """The paper's rows in its order, then ours the paper has none for; labels for keys. With
    `pending` ((model, method) -> what its missing seeds are doing), each row has a "state"."""
    keys = [(r["model"], r["method"]) for r in paper.TABLE1]
    keys += [k for k in [*ours, *(pending or {})] if k not in keys]
    rows = []
    for model, method in keys:
        p, o = paper.table1(model, method) or {}, ours.get((model, method), {})
        rows.append({"model": paper.model_label(model), "method": paper.method_label(method), "epochs": o.get("epochs"),
                     "our_top1": o.get("top1"), "our_speedup": o.get("speedup"),
                     "paper_top1": p.get("top1"), "paper_speedup": p.get("speedup"),
                     "d_top1": diff(o.get("top1"), p.get("top1")),
                     "d_speedup": diff(o.get("speedup"), p.get("speedup")),
                     "records": o.get("records")})
        if pending is not None:
            rows[-1]["state"] = pending.get((model, method), "done" if o else None)
    return rows


def table_json(ours: dict[tuple[str, str], dict]) -> dict:
    """model -> method key -> {top1, top1_std, speedup, speedup_std, n, records}: our numbers and the
    paths of the records they are made of."""
    out = {}
    for (model, method), o in ours.items():
        speed = o["speedup"] if isinstance(o["speedup"], dict) else {"mean": o["speedup"], "std": 0.0}
        out.setdefault(model, {})[method] = {"top1": o["top1"]["mean"], "top1_std": o["top1"]["std"],
                                             "speedup": speed["mean"], "speedup_std": speed["std"], "n": o["top1"]["n"],
                                             "records": o["records"]}
    return out


def load_pending(pending: dict[str, list[str]]) -> dict[tuple[str, str], str]:
    """"model/method" -> [state]  =>  (model, method) -> state."""
    out = {}
    for label, states in pending.items():
        model, method = label_parts(label, "model/method")
        out[(model, method)] = "; ".join(states)
    return out


def table1(runs: dict[str, list[str]], profile: str, out_prefix,
           pending: dict[str, list[str]] | None = None) -> list[dict]:
    """runs: "model/method" -> metrics.json paths (seeds); pending: "model/method" -> the state of
    its seeds still to come (a profile still running). Writes {out_prefix}.md/.tex/.csv/.json;
    returns the rows."""
    records = load_runs(runs)
    ours = our_results(records)
    rows = table_rows(ours, None if pending is None else load_pending(pending))
    columns = COLUMNS + [("state", "state of this profile's run")] * (pending is not None)
    footer = provenance_footer([m for ms in records.values() for m in ms], profile)
    write_table(rows, columns, out_prefix, TITLE, footer, csv_columns=[RECORDS])
    write_json(f"{out_prefix}.json", table_json(ours))
    return rows


def add_inputs(ap) -> None:
    ap.add_argument("--runs", action="extend", nargs="+", required=True, metavar="MODEL/METHOD=PATH")
    ap.add_argument("--pending", action="extend", nargs="+", metavar="MODEL/METHOD=STATE",
                    help="a row with seeds still to come, and what they are doing (a profile still running)")


def main(argv: list[str] | None = None) -> None:
    ap = renderer_parser("table1", __doc__)
    add_inputs(ap)
    args = ap.parse_args(argv)
    table1(parse_pairs(args.runs), args.profile, args.out, None if args.pending is None else parse_pairs(args.pending))
    print(Path(f"{args.out}.md").read_text())
