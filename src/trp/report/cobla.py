"""The COBLA comparison: energy rule vs COBLA (SQP) vs the MILP surrogate at equal MAC budgets,
each fine-tuned with the same schedule, beside budgeted TRP and the plain TRP run whose MACs
set a budget; with measured latency.

    trp render cobla --runs MODEL/BUDGET/METHOD=metrics.json ... --allocation MODEL/BUDGET/METHOD=ranks.json ... \
        --runtime R.json --profile P --out PREFIX

METHOD is a method key of trp.report.paper: energy, sqp, milp (allocations, fine-tuned; their
ranks.json under --allocation), budgeted_trp, or the TRP run itself (TRP1, ...: no fine-tuning).
Each row reports the network its run ends with, and a fine-tuned one's accuracy before too.
Runtime variant labels are BUDGET/METHOD.
"""
from pathlib import Path

from ..artifacts import ArtifactError, write_json
from ..artifacts.records import Record, final_network, final_top1, read_allocation, read_run, read_runtime, top1
from . import paper
from .arguments import label_parts, parse_pairs, renderer_parser
from .footer import provenance_footer
from .tables import write_table

COLUMNS = [("model", "model"), ("budget", "budget"), ("method", "method"),
           ("top1_before", "top-1 before fine-tuning (%)"), ("top1", "top-1 (%)"),
           ("conv_macs", "conv MACs (M)"), ("params", "conv params (k)"), ("speedup", "speedup (conv MACs)"),
           ("ms_b1", "ms / image, batch 1"), ("ms_bmax", "ms / image, largest batch"),
           ("ce_start", "sample CE, energy start"), ("ce", "sample CE, allocation"),
           ("surrogate", "MILP surrogate optimum (discarded energy)")]
TITLE = ("COBLA vs energy rule vs MILP surrogate at equal MAC budgets (fine-tuned), budgeted TRP and plain TRP "
         "(no fine-tuning); budget TRP1 = the conv MACs TRP1 reached, xN = N times fewer conv MACs")


def latency(runtimes: list[dict]) -> dict:
    """variant label -> (ms/image at batch 1, at the largest batch)."""
    out = {}
    for rt in runtimes:
        for v in rt["variants"]:
            rows = sorted(v["rows"], key=lambda r: r["batch_size"])
            out[v["label"]] = (rows[0]["median_ms_per_image"], rows[-1]["median_ms_per_image"])
    return out


def row(model: str, budget: str, method: str, m: Record, ms: tuple, alloc: Record | dict) -> dict:
    obj = alloc.get("objective", {})
    return {"model": paper.model_label(model), "budget": budget, "method": paper.method_label(method),
            "top1_before": top1(m, "decomposed") if final_network(m) == "finetuned" else None, "top1": final_top1(m),
            "conv_macs": m["cost"]["decomposed"]["conv_macs"] / 1e6,
            "params": m["cost"]["decomposed"]["conv_params"] / 1e3,
            "speedup": m["speedup"]["conv"], "ms_b1": ms[0], "ms_bmax": ms[1],
            "ce_start": obj.get("start"), "ce": obj.get("rounded", obj.get("end")),
            "surrogate": alloc.get("milp", {}).get("value")}


def cobla_table(runs: dict[str, list[str]], allocations: dict[str, list[str]], runtime_paths: list[str], profile: str,
                out_prefix) -> list[dict]:
    """runs / allocations: "model/budget/method" -> [metrics.json] / [ranks.json] (first seed)."""
    for label in [*runs, *allocations]:
        label_parts(label, "model/budget/method")
    timed = latency([read_runtime(p) for p in runtime_paths])
    records = {label: read_run(paths[0]) for label, paths in runs.items()}
    rows = []
    for label, m in sorted(records.items(), key=lambda item: item[0].split("/", 2)[:2]):
        model, budget, method = label.split("/", 2)
        alloc = read_allocation(allocations[label][0]) if label in allocations else {}
        if final_network(m) == "dense":
            raise ArtifactError(f"{runs[label][0]}: the record of a dense network (accuracy of "
                                f"{', '.join(sorted(m['accuracy']))} only), given as {label}; every row of this table "
                                "is a decomposed network")
        rows.append(row(model, budget, method, m, timed.get(f"{budget}/{method}", (None, None)), alloc))
    footer = provenance_footer(list(records.values()), profile)
    write_table(rows, COLUMNS, out_prefix, TITLE, footer)
    write_json(f"{out_prefix}.json", {"rows": rows, "provenance": footer})
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = renderer_parser("cobla", __doc__)
    ap.add_argument("--runs", action="extend", nargs="+", required=True, metavar="MODEL/BUDGET/METHOD=PATH")
    ap.add_argument("--allocation", action="extend", nargs="+", default=[], metavar="MODEL/BUDGET/METHOD=PATH")
    ap.add_argument("--runtime", action="extend", nargs="+", default=[], metavar="PATH")
    a = ap.parse_args(argv)
    cobla_table(parse_pairs(a.runs), parse_pairs(a.allocation), a.runtime, a.profile, a.out)
    print(Path(f"{a.out}.md").read_text())
