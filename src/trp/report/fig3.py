"""Fig. 3 (Sec. 4.6, ablation on ResNet-20): top-1 of the decomposed network against speedup,
for Basic, Basic+Nu, TRP and TRP+Nu, channel-wise (a) and spatial-wise (b).

    trp render fig3 --points channel/TRP=runs/a/metrics.json spatial/Basic=runs/b/metrics.json ... \
        --profile paper --out paper_tables/fig3

Basic methods are the data-independent decompositions after fine-tuning; TRP points are
without fine-tuning. Also writes {PREFIX}.json.
"""

import matplotlib.pyplot as plt

from ..artifacts import read_json, write_json
from .common import parse_pairs, provenance_footer, renderer_parser, save_figure, top1

SCHEMES = ("channel", "spatial")
NETWORK = {"Basic": "finetuned", "Basic+Nu": "finetuned", "TRP": "decomposed", "TRP+Nu": "decomposed"}
METHODS = tuple(NETWORK)


def ablation_points(points: dict[str, list[str]]) -> tuple[dict, list[dict]]:
    """points: "scheme/method" -> metrics.json paths. Returns scheme -> method -> [{speedup, top1,
    path}] sorted by speedup, and the records read."""
    data = {s: {m: [] for m in METHODS} for s in SCHEMES}
    records = []
    for label, paths in points.items():
        scheme, method = label.split("/")
        if scheme not in SCHEMES or method not in METHODS:
            raise ValueError(f"bad point label {label!r}; schemes {SCHEMES}, methods {METHODS}")
        for path in paths:
            m = read_json(path)
            records.append(m)
            data[scheme][method].append({"speedup": m["speedup"]["conv"], "top1": top1(m, NETWORK[method]), "path": str(path)})
    for methods in data.values():
        for pts in methods.values():
            pts.sort(key=lambda p: p["speedup"])
    return data, records


def draw(data: dict):
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, scheme, letter in zip(axes, SCHEMES, "ab"):
        for method, marker in zip(METHODS, "osD^"):
            pts = data[scheme][method]
            if pts:
                ax.plot([p["speedup"] for p in pts], [p["top1"] for p in pts], marker=marker, label=method)
        ax.set(title=f"({letter}) {scheme.capitalize()}-wise decomposition", xlabel="speedup (conv MACs, ×)",
               ylabel="top-1 (%)")
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


def add_inputs(ap) -> None:
    ap.add_argument("--points", action="extend", nargs="+", required=True, metavar="SCHEME/METHOD=PATH")


def main(argv: list[str] | None = None) -> None:
    ap = renderer_parser("fig3", __doc__)
    add_inputs(ap)
    args = ap.parse_args(argv)
    data = fig3(parse_pairs(args.points), args.profile, args.out)
    for scheme, methods in data.items():
        for method, pts in methods.items():
            print(scheme, method, [(round(p["speedup"], 2), round(p["top1"], 2)) for p in pts])
