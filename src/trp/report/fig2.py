"""Fig. 2 (Sec. 4.5): rank selection of one layer over successive TSVDs, with Theorem 2's bound.

    python -m trp.report.fig2 --ranklog runs/r20_trp1/ranklog.jsonl --layer res3-1-2 --e 0.05 \
        --profile paper --out paper_tables/fig2 [--projections 40]

Top: ER(i) of T^z (Eq. 13) per projection z and singular value index i. Bottom: the measured
displacement ||W^{t+m} - T^z||_F / ||W^{t+m}||_F (Eq. 11-12; it is at most the paper's
mG/||W^{t+m}||_F) and rank(T^z) against z, with sqrt(e). Also writes {PREFIX}.json.
"""
import argparse
import math

import matplotlib.pyplot as plt
import numpy as np

from ..models import paper_layer_name
from . import paper
from .common import load_jsonl, provenance_footer, save_figure, sibling_metrics, write_json


def layer_records(records: list[dict], layer: str) -> list[dict]:
    """The records of `layer` (a module name or the paper's "res3-1-2"), by projection."""
    names = {layer, paper_layer_name(layer)}
    recs = sorted((r for r in records if r["layer"] in names), key=lambda r: r["projection"])
    if not recs:
        raise ValueError(f"no records of layer {layer!r}; the log has {sorted({r['layer'] for r in records})}")
    return recs


def fig2(ranklog, layer: str, e: float | None, profile: str, out_prefix, projections: int = 40) -> dict:
    """Draw {out_prefix}.png/.pdf and write {out_prefix}.json; returns the JSON summary."""
    recs = layer_records(load_jsonl(ranklog), layer)
    recs = recs[:projections] if projections else recs
    sqrt_e = math.sqrt(e) if e is not None else recs[0]["sqrt_e"]
    if abs(recs[0]["sqrt_e"] - sqrt_e) > 1e-9:
        print(f"warning: --e gives sqrt(e) = {sqrt_e:.4f} but the log was written with {recs[0]['sqrt_e']:.4f}")
    z = [r["projection"] for r in recs]
    ranks = [r["rank_after"] for r in recs]
    disp = [r.get("displacement", math.nan) for r in recs]  # none before the 2nd projection
    measured = [(d, zz) for d, zz in zip(disp, z) if not math.isnan(d)]
    max_disp, max_z = max(measured) if measured else (None, None)

    # Eq. (13): ER(i) = s_i^2 / sum_j s_j^2 of T^z; blank beyond rank(T^z).
    er = np.full((max(ranks), len(recs)), np.nan)
    for col, r in enumerate(recs):
        er[:len(r["energy_ratios"]), col] = r["energy_ratios"]

    fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(8, 7), sharex=True, height_ratios=(3, 2))
    im = ax0.imshow(er, aspect="auto", origin="lower", cmap="viridis", interpolation="nearest",
                    extent=(z[0] - 0.5, z[-1] + 0.5, 0.5, er.shape[0] + 0.5))
    fig.colorbar(im, ax=ax0, label="ER(i) (Eq. 13)")
    ax0.set(ylabel="singular value index i",
            title=f"{recs[0]['layer']} (full rank {recs[0]['full_rank']}): energy ratios after each TSVD")

    ax1.plot(z, disp, "o-", ms=3, color="C0", label="ours: ||W^{t+m} - T^z|| / ||W^{t+m}||")
    ax1.axhline(sqrt_e, color="C3", ls="--", label=f"sqrt(e) = {sqrt_e:.3f}")
    ax1.axhline(paper.FIG2["max_bound"], color="0.5", ls=":",
                label=f"paper: max mG/||W|| ≈ {paper.FIG2['max_bound']}")
    top = 1.6 * max(sqrt_e, max_disp or 0)  # headroom for the legend
    ax1.set(xlabel="projection (TSVD) z", ylabel="displacement", ylim=(0, top))
    ax2 = ax1.twinx()
    ax2.step(z, ranks, where="mid", color="C2", label="rank(T^z)")
    ax2.set_ylim(0, 1.6 * max(ranks))
    ax2.set_ylabel("rank", color="C2")
    ours = "no displacement logged"
    if max_disp is not None:
        ax1.plot([max_z], [max_disp], "o", mfc="none", mec="C3", ms=9)
        ours = f"max displacement {max_disp:.3f} (z = {max_z}) {'<' if max_disp < sqrt_e else '>='} sqrt(e) = {sqrt_e:.3f}"
    ax1.set_title(f"ours: {ours}\npaper: max mG/||W||_F ≈ {paper.FIG2['max_bound']} < sqrt(e) ≈ {paper.FIG2['sqrt_e']} "
                  f"(e = {paper.FIG2['e']}, m = {paper.FIG2['m']}, {paper.FIG2['projections']} TSVDs, "
                  f"{paper.FIG2['layer']})", fontsize=8)
    handles = ax1.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax1.legend(handles, [h.get_label() for h in handles], fontsize=7, loc="upper right", ncol=2)

    footer = provenance_footer(sibling_metrics(ranklog), profile)
    save_figure(fig, out_prefix, footer)
    summary = {"layer": recs[0]["layer"], "e": e, "sqrt_e": sqrt_e, "projections": z, "ranks": ranks,
               "displacements": [None if math.isnan(d) else d for d in disp], "max_displacement": max_disp,
               "max_displacement_projection": max_z, "bound_held_all": all(d < sqrt_e for d, _ in measured),
               "paper": paper.FIG2, "provenance": footer}
    write_json(summary, out_prefix)
    return summary


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ranklog", required=True)
    ap.add_argument("--layer", default=paper.FIG2["layer"])
    ap.add_argument("--e", type=float, default=None, help="TSVD energy threshold (default: the log's)")
    ap.add_argument("--projections", type=int, default=paper.FIG2["projections"], help="first N projections; 0 = all")
    ap.add_argument("--profile", required=True)
    ap.add_argument("--out", required=True, metavar="PREFIX")
    args = ap.parse_args(argv)
    s = fig2(args.ranklog, args.layer, args.e, args.profile, args.out, args.projections)
    print(f"{s['layer']}: max displacement {s['max_displacement']} vs sqrt(e) {s['sqrt_e']:.4f} "
          f"(paper {paper.FIG2['max_bound']} vs {paper.FIG2['sqrt_e']}); ranks {s['ranks']}")


if __name__ == "__main__":
    main()
