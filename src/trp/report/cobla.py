"""The COBLA comparison: energy rule vs COBLA (SQP) vs the MILP surrogate at equal MAC budgets,
each fine-tuned with the same schedule, beside budgeted TRP and the plain TRP run whose MACs
set a budget; with measured latency.

    trp render cobla --run-table results/cpu/runs.json --runtime R.json --profile P --out PREFIX

The run table's "cobla" (trp.report.run_table) lists the rows: each a budget, a method key of
trp.report.paper (energy, sqp, milp: allocations, fine-tuned, with their ranks.json; budgeted_trp;
or the TRP run itself, TRP1, ...: no fine-tuning), its run and record. Each row reports the network
its run ends with, and a fine-tuned one's accuracy before too. A row's latency is the runtime
variant named BUDGET/METHOD.
"""
from pathlib import Path

from ..artifacts import ArtifactError, write_json
from ..artifacts.records import Record, final_network, final_top1, read_allocation, read_run, read_runtime, top1
from . import paper
from .arguments import add_run_table, renderer_parser
from .footer import provenance_footer
from .run_table import read_run_table, section
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


def cobla_table(cobla: dict, runtime_paths: list[str], profile: str, out_prefix) -> list[dict]:
    """cobla: the run table's COBLA rows ({"budget", "method", "run", "record", "allocation"}, on one
    model and seed), in the order of their budgets."""
    timed = latency([read_runtime(p) for p in runtime_paths])
    records = [read_run(r["record"]) for r in cobla["rows"]]
    rows = []
    for r, m in sorted(zip(cobla["rows"], records), key=lambda pair: pair[0]["budget"]):
        alloc = read_allocation(r["allocation"]) if r["allocation"] else {}
        if final_network(m) == "dense":
            raise ArtifactError(f"{r['record']}: the record of a dense network (accuracy of "
                                f"{', '.join(sorted(m['accuracy']))} only), the run table's {r['method']} at budget "
                                f"{r['budget']}; every row of this table is a decomposed network")
        ms = timed.get(f"{r['budget']}/{r['method']}", (None, None))
        rows.append(row(cobla["model"], r["budget"], r["method"], m, ms, alloc))
    footer = provenance_footer(records, profile)
    write_table(rows, COLUMNS, out_prefix, TITLE, footer)
    write_json(f"{out_prefix}.json", {"rows": rows, "provenance": footer})
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = renderer_parser("cobla", __doc__)
    add_run_table(ap)
    ap.add_argument("--runtime", action="extend", nargs="+", default=[], metavar="PATH")
    a = ap.parse_args(argv)
    cobla_table(section(read_run_table(a.run_table), "cobla"), a.runtime, a.profile, a.out)
    print(Path(f"{a.out}.md").read_text())
