"""Table 4 (Sec. 4.7): measured inference time per image of the dense and decomposed networks,
beside the MAC speedup, then the paper's Table 4 (ResNet-18, other hardware) as its own section.

    trp render table4 --runtime results/runtime/resnet20_cpu.json results/runtime/resnet20_gpu.json \
        --profile paper --out paper_tables/table4

Runtime JSON schema: see trp.timing; variant labels are method keys of trp.report.paper. Measured
speedup = baseline median / variant median, for the same model, device (name and threads) and batch
size.
"""
from pathlib import Path

from ..artifacts.records import read_runtime
from . import paper
from .arguments import renderer_parser
from .footer import provenance_footer
from .tables import write_table

COLUMNS = [("model", "model"), ("variant", "variant"), ("device", "device"), ("batch", "batch"),
           ("median_ms", "median ms / image"), ("iqr_ms", "IQR ms / image"),
           ("speedup", "measured speedup"), ("mac_speedup", "MAC speedup")]


def table4(runtime_paths: list[str], profile: str, out_prefix) -> list[dict]:
    """Writes {out_prefix}.md/.tex/.csv; returns the rows (ours, then the paper's section)."""
    docs = [read_runtime(p) for p in runtime_paths]
    measured = [(d["model"], v, r) for d in docs for v in d["variants"] for r in v["rows"]]
    base = {(mdl, r["device"], r["batch_size"]): r["median_ms_per_image"]
            for mdl, v, r in measured if v["label"] == "baseline"}
    rows = [{"section": "ours"}]
    for mdl, v, r in measured:
        b = base.get((mdl, r["device"], r["batch_size"]))
        rows.append({"model": paper.model_label(mdl), "variant": paper.method_label(v["label"]),
                     "device": r["device"], "batch": r["batch_size"],
                     "median_ms": r["median_ms_per_image"], "iqr_ms": r["iqr_ms_per_image"],
                     "speedup": b / r["median_ms_per_image"] if b else None, "mac_speedup": float(v["mac_speedup"])})

    t4 = paper.TABLE4
    rows.append({"section": f"paper, Table 4 ({t4['gpu']} GPU / {t4['cpu']} CPU; MAC speedup from Table 2)"})
    mac = {r["method"]: r["speedup"] for r in paper.TABLE2}
    base_row = next(r for r in t4["rows"] if r["method"] == "baseline")
    for dev, key in (("GPU: " + t4["gpu"], "gpu_ms"), ("CPU: " + t4["cpu"], "cpu_ms")):
        for r in t4["rows"]:
            rows.append({"model": paper.model_label(t4["model"]), "variant": paper.method_label(r["method"]),
                         "device": dev, "batch": None, "median_ms": r[key], "iqr_ms": None,
                         "speedup": base_row[key] / r[key], "mac_speedup": mac[r["method"]]})
    title = "Table 4: inference time per image (median over timed blocks; ours, then the paper's)"
    write_table(rows, COLUMNS, out_prefix, title, provenance_footer(docs, profile))
    return rows


def add_inputs(ap, required: bool = True) -> None:
    ap.add_argument("--runtime", action="extend", nargs="+", required=required, metavar="PATH")


def main(argv: list[str] | None = None) -> None:
    ap = renderer_parser("table4", __doc__)
    add_inputs(ap)
    args = ap.parse_args(argv)
    table4(args.runtime, args.profile, args.out)
    print(Path(f"{args.out}.md").read_text())
