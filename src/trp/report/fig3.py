"""Fig. 3 (Sec. 4.6, ablation on ResNet-20): top-1 against conv-MAC speedup for Basic, Basic+Nu, TRP
and TRP+Nu, channel-wise (a) and spatial-wise (b), as curves over the same speedups: TRP and TRP+Nu
over a sweep of e, Basic and Basic+Nu over a sweep of MAC budgets.

    trp render fig3 --run-table results/cpu/runs.json --profile cpu --out paper_tables/cpu/fig3

The run table's "ablation" (trp.report.run_table) lists the points: each a scheme, a method, a run
and its record per seed. Each point is mean ± std over its seeds of the network its run ends with:
the basic methods after fine-tuning, TRP without. Also writes {PREFIX}.json.
"""

import matplotlib.pyplot as plt

from ..artifacts import write_json
from ..artifacts.records import read_run
from ..config import ConfigError
from . import equal_macs
from .arguments import add_run_table, renderer_parser
from .epochs import scratch_epochs
from .figures import save_figure
from .footer import provenance_footer
from .run_table import read_run_table, section

SCHEMES = ("channel", "spatial")
METHODS = ("Basic", "Basic+Nu", "TRP", "TRP+Nu")


def ablation_points(ablation: dict) -> tuple[dict, list[dict]]:
    """ablation: the run table's Fig. 3 points ({"scheme", "method", "run", "records": {seed: path}}).
    Returns scheme -> method -> curve (equal_macs points sorted by speedup) and the records read."""
    runs = [(point, [read_run(p) for p in point["records"].values()]) for point in ablation["points"]]
    records = [m for _, ms in runs for m in ms]
    scratch = scratch_epochs(records)
    data = {s: {m: [] for m in METHODS} for s in SCHEMES}
    for point, ms in runs:
        if point["scheme"] not in SCHEMES or point["method"] not in METHODS:
            raise ConfigError(f"bad point {point['scheme']}/{point['method']} of run {point['run']!r}; "
                              f"schemes {SCHEMES}, methods {METHODS}")
        data[point["scheme"]][point["method"]].append(equal_macs.point(ms, point["run"], scratch))
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


def fig3(ablation: dict, profile: str, out_prefix) -> dict:
    """ablation: the run table's Fig. 3 points. Draws {out_prefix}.png/.pdf and writes
    {out_prefix}.json; returns the plotted data."""
    data, records = ablation_points(ablation)
    footer = provenance_footer(records, profile)
    save_figure(draw(data), out_prefix, footer)
    write_json(f"{out_prefix}.json", {"points": data, "provenance": footer})
    return data


def main(argv: list[str] | None = None) -> None:
    ap = renderer_parser("fig3", __doc__)
    add_run_table(ap)
    args = ap.parse_args(argv)
    data = fig3(section(read_run_table(args.run_table), "ablation"), args.profile, args.out)
    for scheme, methods in data.items():
        for method, pts in methods.items():
            print(scheme, method,
                  [(round(p["speedup"]["mean"], 2), round(p["top1"]["mean"], 2), p["top1"]["n"]) for p in pts])
