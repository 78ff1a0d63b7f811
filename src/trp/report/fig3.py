"""Fig. 3 (Sec. 4.6, ablation on ResNet-20): top-1 of the decomposed network against speedup,
for Basic, Basic+Nu, TRP and TRP+Nu, channel-wise (a) and spatial-wise (b).

    python -m trp.report.fig3 --point channel:TRP:runs/a/metrics.json --point spatial:Basic:runs/b/metrics.json ... \
        --profile paper --out paper_tables/fig3
    python -m trp.report.fig3 --points points.json --profile paper --out paper_tables/fig3

points.json: [{"scheme": "channel", "method": "TRP+Nu", "path": "runs/.../metrics.json"}, ...].
Basic methods are the data-independent decompositions with fine-tuning (their "decomposed"
accuracy is after fine-tuning); TRP points are without fine-tuning. Also writes {PREFIX}.json.
"""
import argparse

import matplotlib.pyplot as plt

from .common import load_json, provenance_footer, save_figure, write_json

SCHEMES = ("channel", "spatial")
METHODS = ("Basic", "Basic+Nu", "TRP", "TRP+Nu")


def fig3(points: list[tuple[str, str, str]], profile: str, out_prefix) -> dict:
    """points: (scheme, method, metrics.json path). Draws {out_prefix}.png/.pdf; returns the plotted data."""
    data = {s: {m: [] for m in METHODS} for s in SCHEMES}
    loaded = []
    for scheme, method, path in points:
        if scheme not in SCHEMES or method not in METHODS:
            raise ValueError(f"bad point {scheme}:{method}:{path}; schemes {SCHEMES}, methods {METHODS}")
        m = load_json(path)
        loaded.append(m)
        data[scheme][method].append({"speedup": m["speedup"]["conv"], "top1": m["accuracy"]["decomposed"],
                                     "path": str(path)})
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, scheme, letter in zip(axes, SCHEMES, "ab"):
        for method, marker in zip(METHODS, "osD^"):
            pts = sorted(data[scheme][method], key=lambda p: p["speedup"])
            data[scheme][method] = pts
            if pts:
                ax.plot([p["speedup"] for p in pts], [p["top1"] for p in pts], marker=marker, label=method)
        ax.set(title=f"({letter}) {scheme.capitalize()}-wise decomposition", xlabel="speedup (conv MACs, ×)",
               ylabel="top-1 (%)")
        ax.grid(alpha=0.3)
        if ax.has_data():
            ax.legend(fontsize=8)
    footer = provenance_footer(loaded, profile)
    save_figure(fig, out_prefix, footer)
    write_json({"points": data, "provenance": footer}, out_prefix)
    return data


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--points", help="JSON list of {scheme, method, path}")
    ap.add_argument("--point", action="append", default=[], metavar="SCHEME:METHOD:PATH")
    ap.add_argument("--profile", required=True)
    ap.add_argument("--out", required=True, metavar="PREFIX")
    args = ap.parse_args(argv)
    points = [tuple(p.split(":", 2)) for p in args.point]
    if args.points:
        points += [(p["scheme"], p["method"], p["path"]) for p in load_json(args.points)]
    if not points:
        ap.error("give --points or --point")
    data = fig3(points, args.profile, args.out)
    for scheme, methods in data.items():
        for method, pts in methods.items():
            print(scheme, method, [(round(p["speedup"], 2), round(p["top1"], 2)) for p in pts])


if __name__ == "__main__":
    main()
