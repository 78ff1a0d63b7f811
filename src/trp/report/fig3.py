"""Fig. 3 (Sec. 4.6, ablation on ResNet-20): top-1 against conv-MAC speedup for Basic, Basic+Nu, TRP
and TRP+Nu, channel-wise (a) and spatial-wise (b), as curves over the same speedups: TRP and TRP+Nu
over a sweep of e, Basic and Basic+Nu over a sweep of MAC budgets.

    trp render fig3 --points channel/TRP/RUN=runs/a/s0/metrics.json channel/TRP/RUN=runs/a/s1/metrics.json \
        spatial/Basic/RUN2=runs/b/s0/metrics.json ... --profile paper --out paper_tables/fig3

A label is SCHEME/METHOD/POINT; the paths under one label are the seeds of one point (POINT, a
run's name, is only an identifier). Each point is mean ± std over its seeds of the network its run
ends with: the basic methods after fine-tuning, TRP without. Also writes {PREFIX}.json.
"""

import matplotlib.pyplot as plt

from ..artifacts import write_json
from ..artifacts.records import read_run
from ..config import ConfigError
from . import equal_macs
from .arguments import label_parts, parse_pairs, renderer_parser
from .epochs import scratch_epochs
from .figures import save_figure
from .footer import provenance_footer

SCHEMES = ("channel", "spatial")
METHODS = ("Basic", "Basic+Nu", "TRP", "TRP+Nu")


def ablation_points(points: dict[str, list[str]]) -> tuple[dict, list[dict]]:
    """points: "scheme/method/point" -> metrics.json paths (seeds). Returns scheme -> method -> curve
    (equal_macs points sorted by speedup) and the records read."""
    runs = {label: [read_run(p) for p in paths] for label, paths in points.items()}
    records = [m for ms in runs.values() for m in ms]
    scratch = scratch_epochs(records)
    data = {s: {m: [] for m in METHODS} for s in SCHEMES}
    for label, ms in runs.items():
        scheme, method, name = label_parts(label, "scheme/method/point")
        if scheme not in SCHEMES or method not in METHODS:
            raise ConfigError(f"bad point label {label!r}; schemes {SCHEMES}, methods {METHODS}")
        data[scheme][method].append(equal_macs.point(ms, name, scratch))
    return {s: {m: equal_macs.curve(c) for m, c in methods.items()} for s, methods in data.items()}, records


def draw(data: dict):
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, scheme, letter in zip(axes, SCHEMES, "ab"):
        for method, marker in zip(METHODS, "osD^"):
            pts = data[scheme][method]
            if pts:
                ax.errorbar([p["speedup"]["mean"] for p in pts], [p["top1"]["mean"] for p in pts],
                            yerr=[p["top1"]["std"] for p in pts], marker=marker, capsize=3, label=method)
        ax.set(title=f"({letter}) {scheme.capitalize()}-wise decomposition", xlabel="speedup (conv MACs, ×)",
               ylabel="top-1 (%, mean ± std over seeds)")
        ax.grid(alpha=0.3)
        if ax.has_data():
            ax.legend(fontsize=8)
    return fig


def fig3(points: dict[str, list[str]], profile: str, out_prefix) -> dict:
    """Draws {out_prefix}.png/.pdf and writes {out_prefix}.json; returns the plotted data."""
    data, records = ablation_points(points)
    footer = provenance_footer(records, profile)
    save_figure(draw(data), out_prefix, footer)
    write_json(f"{out_prefix}.json", {"points": data, "provenance": footer})
    return data


def add_inputs(ap, required: bool = True) -> None:
    ap.add_argument("--points", action="extend", nargs="+", required=required, metavar="SCHEME/METHOD/POINT=PATH")


def main(argv: list[str] | None = None) -> None:
    ap = renderer_parser("fig3", __doc__)
    add_inputs(ap)
    args = ap.parse_args(argv)
    data = fig3(parse_pairs(args.points), args.profile, args.out)
    for scheme, methods in data.items():
        for method, pts in methods.items():
            print(scheme, method,
                  [(round(p["speedup"]["mean"], 2), round(p["top1"]["mean"], 2), p["top1"]["n"]) for p in pts])
