"""Table 1 (CIFAR-10): our top-1 and speedup beside the paper's, and ours − paper.

    trp render table1 --run-table results/cpu/runs.json --profile cpu --out paper_tables/cpu/table1

The run table (trp.report.run_table) lists each model's rows by method key of trp.report.paper, with
the record of each seed: a row is mean ± std (n) over its seeds. Each row reports the network its
run ends with (fine-tuned if it was) and the epochs behind it; its records' paths are in the .csv
(column "records") and the .json, each record naming its kind and so the stage that wrote it
(trp.artifacts.records). Every paper row is listed (ours "–" where not run); runs the paper has no
row for follow it (the basic methods at the MACs each TRP run reached, TRP + fine-tuning). A profile
still running is rendered from the records it has: a row of its run table may list the seeds still
to come and what they are doing under "pending" (e.g. "seed 1: training, epoch 40/164"), shown in a
column "state" that the table has only then.
{PREFIX}.json holds our numbers and records by model and method key (its numbers flattened for
`dvc metrics` by trp.report.table1_metrics); their provenance is the footer of the .md/.tex/.csv.
"""
from pathlib import Path

from ..artifacts import ArtifactError, write_json
from ..artifacts.records import Record, final_top1, read_run
from . import paper
from .arguments import add_run_table, renderer_parser
from .cells import diff
from .epochs import scratch_epochs, training_epochs
from .footer import provenance_footer
from .run_table import read_run_table
from .seeds import mean_std
from .tables import write_table

COLUMNS = [("model", "model"), ("method", "method"), ("epochs", "training (epochs)"),
           ("our_top1", "ours: top-1 (%)"), ("our_speedup", "ours: speedup (conv MACs)"),
           ("paper_top1", "paper: top-1 (%)"), ("paper_speedup", "paper: speedup"),
           ("d_top1", "ours − paper: top-1"), ("d_speedup", "ours − paper: speedup")]
RECORDS = ("records", "records")  # the csv's column of a row's record paths (its seeds')
TITLE = ("Table 1: CIFAR-10, ours vs the paper (ours: TRP rows without fine-tuning, the basic methods and "
         "'+ fine-tuning' rows fine-tuned; speedup = dense / decomposed conv MACs; mean ± std over n seeds)")


def load_runs(tables: dict[str, dict[str, dict]]) -> dict[tuple[str, str], list[Record]]:
    """Each model's table of the run table (model -> method key -> {"run", "records": {seed: path}})
    =>  (model, method) -> the records of the seeds it has, each checked to be of its model."""
    out = {}
    for model, rows in tables.items():
        for method, entry in rows.items():
            if not entry["records"]:
                continue
            out[(model, method)] = [read_run(p) for p in entry["records"].values()]
            for p, m in zip(entry["records"].values(), out[(model, method)]):
                if m["config"].get("model") != model:
                    raise ArtifactError(f"{p}: model {m['config'].get('model')!r}, but the run table lists it as a "
                                        f"record of {model}/{method}")
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


def load_pending(tables: dict[str, dict[str, dict]]) -> dict[tuple[str, str], str]:
    """(model, method) -> the states of its seeds still to come, of each row of the run table that
    lists some under "pending"."""
    return {(model, method): "; ".join(entry["pending"]) for model, rows in tables.items()
            for method, entry in rows.items() if entry.get("pending")}


def table1(tables: dict[str, dict[str, dict]], profile: str, out_prefix) -> list[dict]:
    """tables: each model's table of the run table. Writes {out_prefix}.md/.tex/.csv/.json (a column
    "state" where a row has seeds pending); returns the rows."""
    records = load_runs(tables)
    ours = our_results(records)
    pending = load_pending(tables)
    rows = table_rows(ours, pending or None)
    columns = COLUMNS + [("state", "state of this profile's run")] * bool(pending)
    footer = provenance_footer([m for ms in records.values() for m in ms], profile)
    write_table(rows, columns, out_prefix, TITLE, footer, csv_columns=[RECORDS])
    write_json(f"{out_prefix}.json", table_json(ours))
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = renderer_parser("table1", __doc__)
    add_run_table(ap)
    args = ap.parse_args(argv)
    table1(read_run_table(args.run_table)["tables"], args.profile, args.out)
    print(Path(f"{args.out}.md").read_text())
