"""The COBLA comparison: energy rule vs COBLA (SQP) vs the MILP surrogate at equal MAC budgets,
each fine-tuned with the same schedule, beside budgeted TRP and the plain TRP run whose MACs
set a budget; with measured latency.

    python -m trp.report.cobla --runs MODEL/BUDGET/METHOD=metrics.json ... --runtime R.json \
        --profile P --out PREFIX
"""
import argparse
from pathlib import Path

from .common import load_json, parse_pairs, provenance_footer, write_json, write_table

COLUMNS = [("model", "model"), ("budget", "budget"), ("method", "method"),
           ("top1_before", "top-1 before fine-tuning (%)"), ("top1", "top-1 (%)"),
           ("conv_macs", "conv MACs (M)"), ("params", "conv params (k)"), ("speedup", "speedup (conv MACs)"),
           ("ms_b1", "ms / image, batch 1"), ("ms_bmax", "ms / image, largest batch"),
           ("ce_start", "sample CE, energy start"), ("ce", "sample CE, allocation"),
           ("surrogate", "MILP surrogate optimum (discarded energy)")]


def _latency(runtimes: list[dict]) -> dict:
    """variant label -> (ms/image at batch 1, at the largest batch)."""
    out = {}
    for rt in runtimes:
        for v in rt["variants"]:
            rows = sorted(v["rows"], key=lambda r: r["batch_size"])
            out[v["label"]] = (rows[0]["median_ms_per_image"], rows[-1]["median_ms_per_image"])
    return out


def allocation(metrics_path: str) -> dict:
    """The ranks.json behind a fine-tuned allocation (results/.../cobla/...), if there is one."""
    p = Path(metrics_path.replace("/finetune/", "/cobla/")).with_name("ranks.json")
    return load_json(p) if "/finetune/" in metrics_path and p.exists() else {}


def row(label: str, m: dict, latency: dict, alloc: dict) -> dict:
    model, budget, method = label.split("/", 2)
    ms = latency.get(f"{budget}/{method}", (None, None))
    obj = alloc.get("objective", {})
    return {"model": model, "budget": budget, "method": method,
            "top1_before": m["accuracy"].get("before_finetune"),  # TRP rows: no fine-tuning at all
            "top1": m["accuracy"]["decomposed"],
            "conv_macs": m["cost"]["decomposed"]["conv_macs"] / 1e6, "params": m["cost"]["decomposed"]["conv_params"] / 1e3,
            "speedup": m["speedup"]["conv"], "ms_b1": ms[0], "ms_bmax": ms[1],
            "ce_start": obj.get("start"), "ce": obj.get("rounded", obj.get("end")),
            "surrogate": alloc.get("milp", {}).get("value")}


def cobla_table(runs: dict[str, list[str]], runtime_paths: list[str], profile: str, out_prefix) -> list[dict]:
    latency = _latency([load_json(p) for p in runtime_paths])
    loaded = {label: load_json(paths[0]) for label, paths in runs.items()}
    rows = [row(label, m, latency, allocation(runs[label][0])) for label, m in loaded.items()]
    rows.sort(key=lambda r: (r["model"], r["budget"], r["method"]))
    title = ("COBLA vs energy rule vs MILP surrogate at equal MAC budgets (fine-tuned), budgeted TRP and plain TRP "
             "(no fine-tuning); budget TRP1 = the conv MACs TRP1 reached, xN = N times fewer conv MACs")
    footer = provenance_footer(list(loaded.values()), profile)
    write_table(rows, COLUMNS, out_prefix, title, footer)
    write_json({"rows": rows, "provenance": footer}, out_prefix)
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", action="extend", nargs="+", required=True, metavar="MODEL/BUDGET/METHOD=PATH")
    ap.add_argument("--runtime", action="extend", nargs="+", default=[], metavar="PATH")
    ap.add_argument("--profile", required=True)
    ap.add_argument("--out", required=True, metavar="PREFIX")
    a = ap.parse_args(argv)
    cobla_table(parse_pairs(a.runs), a.runtime, a.profile, a.out)
    print(Path(f"{a.out}.md").read_text())


if __name__ == "__main__":
    main()
