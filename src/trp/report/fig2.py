"""Fig. 2 (Sec. 4.5): rank selection of one layer over successive TSVDs, with Theorem 2's bound.

    trp render fig2 --rankvar runs/rankvar/ranklog.jsonl --layer res3-1-2 --e 0.05 \
        --profile paper --out paper_tables/fig2 [--projections 40]

Top: ER(i) of T^z (Eq. 13) per projection z and singular value index i. Bottom: the paper's
mG/||W^{t+m}||_F (Theorem 2's assumption, the quantity the paper reports), the measured
displacement ||W^{t+m} - T^z||_F / ||W^{t+m}||_F (Eq. 11-12; at most mG/||W^{t+m}||_F) and
rank(T^z) against z, with sqrt(e). Also writes {PREFIX}.json.
"""
import math

import matplotlib.pyplot as plt
import numpy as np

from ..artifacts import ArtifactError, write_json
from ..artifacts.records import sibling_run
from ..config import ConfigError
from ..models import paper_layer_name
from . import paper
from .arguments import renderer_parser
from .figures import save_figure
from .footer import provenance_footer
from .rank_logs import read_rank_log


def layer_records(records: list[dict], layer: str) -> list[dict]:
    """The records of `layer` (a module name or the paper's "res3-1-2"), by projection."""
    names = {layer, paper_layer_name(layer)}
    recs = sorted((r for r in records if r["layer"] in names), key=lambda r: r["projection"])
    if not recs:
        raise ConfigError(f"no records of layer {layer!r}; the log has {sorted({r['layer'] for r in records})}")
    return recs


def rank_variation(ranklog, layer: str, e: float, projections: int = 0) -> dict:
    """The layer's first `projections` records (0: all) of a rank log, and what Fig. 2 reads off them:
    ranks, displacements and mG/||W|| (step_bounds; None before the 2nd projection), each one's
    maximum and whether every one stayed below sqrt(e)."""
    recs = layer_records(read_rank_log(ranklog), layer)
    recs = recs[:projections] if projections else recs
    sqrt_e = math.sqrt(e)
    if any("energy_ratios" not in r for r in recs):
        raise ArtifactError(f"{ranklog}: the log holds no energy ratios; "
                            "train with log_spectrum=true (trp train --set)")
    if abs(recs[0]["sqrt_e"] - sqrt_e) > 1e-9:
        raise ConfigError(f"{ranklog}: e = {e} gives sqrt(e) = {sqrt_e:.4f}, "
                          f"the log was written with {recs[0]['sqrt_e']:.4f}")
    disp, bounds = [r.get("displacement") for r in recs], [r.get("step_bound") for r in recs]
    measured = [(d, r["projection"]) for d, r in zip(disp, recs) if d is not None]
    max_disp, max_z = max(measured) if measured else (None, None)
    max_bound = max((b for b in bounds if b is not None), default=None)
    return {"layer": recs[0]["layer"], "full_rank": recs[0]["full_rank"], "e": e, "sqrt_e": sqrt_e,
            "projections": [r["projection"] for r in recs], "ranks": [r["rank_after"] for r in recs],
            "energy_ratios": [r["energy_ratios"] for r in recs], "displacements": disp, "step_bounds": bounds,
            "max_displacement": max_disp, "max_displacement_projection": max_z,
            "bound_held_all": all(d < sqrt_e for d, _ in measured),
            "max_step_bound": max_bound, "assumption_held_all": max_bound is not None and max_bound < sqrt_e}


def draw(s: dict):
    z, ranks, sqrt_e = s["projections"], s["ranks"], s["sqrt_e"]
    # Eq. (13): ER(i) = s_i^2 / sum_j s_j^2 of T^z; blank beyond rank(T^z).
    er = np.full((max(ranks), len(z)), np.nan)
    for col, ratios in enumerate(s["energy_ratios"]):
        er[:len(ratios), col] = ratios

    fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(8, 7), sharex=True, height_ratios=(3, 2))
    im = ax0.imshow(er, aspect="auto", origin="lower", cmap="viridis", interpolation="nearest",
                    extent=(z[0] - 0.5, z[-1] + 0.5, 0.5, er.shape[0] + 0.5))
    # the colorbar in an inset beside the top panel, so that it does not narrow that panel alone (the two share z)
    fig.colorbar(im, cax=ax0.inset_axes((1.01, 0.0, 0.02, 1.0)), label="ER(i) (Eq. 13)")
    ax0.set(ylabel="singular value index i",
            title=f"{s['layer']} (full rank {s['full_rank']}): energy ratios after each TSVD")

    disp = [math.nan if d is None else d for d in s["displacements"]]
    bound = [math.nan if b is None else b for b in s["step_bounds"]]
    ax1.plot(z, bound, "s-", ms=3, color="C1", label="ours: mG / ||W^{t+m}||")
    ax1.plot(z, disp, "o-", ms=3, color="C0", label="ours: ||W^{t+m} - T^z|| / ||W^{t+m}||")
    ax1.axhline(sqrt_e, color="C3", ls="--", label=f"sqrt(e) = {sqrt_e:.3f}")
    ax1.axhline(paper.FIG2["max_bound"], color="0.5", ls=":", label=f"paper: max mG/||W|| ≈ {paper.FIG2['max_bound']}")
    top = 1.6 * max(sqrt_e, s["max_displacement"] or 0, s["max_step_bound"] or 0)  # headroom for the legend
    ax1.set(xlabel="projection (TSVD) z", ylabel="displacement", ylim=(0, top))
    ax2 = ax1.twinx()
    ax2.step(z, ranks, where="mid", color="C2", label="rank(T^z)")
    ax2.set_ylim(0, 1.6 * max(ranks))
    ax2.set_ylabel("rank", color="C2")
    ours = "no displacement logged"
    if s["max_displacement"] is not None:
        ax1.plot([s["max_displacement_projection"]], [s["max_displacement"]], "o", mfc="none", mec="C3", ms=9)
        ours = (f"max displacement {s['max_displacement']:.3f} (z = {s['max_displacement_projection']}) "
                f"{'<' if s['bound_held_all'] else '>='} sqrt(e) = {sqrt_e:.3f}")
    if s["max_step_bound"] is not None:
        ours += f"; max mG/||W|| {s['max_step_bound']:.3f}"
    f2 = paper.FIG2
    ax1.set_title(f"ours: {ours}\npaper: max mG/||W||_F ≈ {f2['max_bound']} < sqrt(e) ≈ {f2['sqrt_e']} "
                  f"(e = {f2['e']}, m = {f2['m']}, {f2['projections']} TSVDs, {f2['layer']})", fontsize=8)
    handles = ax1.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    ax1.legend(handles, [h.get_label() for h in handles], fontsize=7, loc="upper right", ncol=2)
    return fig


def fig2(ranklog, layer: str, e: float, profile: str, out_prefix, projections: int = 40) -> dict:
    """Draw {out_prefix}.png/.pdf and write {out_prefix}.json; returns the JSON summary."""
    s = rank_variation(ranklog, layer, e, projections)
    footer = provenance_footer(sibling_run(ranklog), profile)
    save_figure(draw(s), out_prefix, footer)
    summary = {k: v for k, v in s.items() if k != "energy_ratios"} | {"paper": paper.FIG2, "provenance": footer}
    write_json(f"{out_prefix}.json", summary)
    return summary


def add_inputs(ap, required: bool = True) -> None:
    ap.add_argument("--rankvar", required=required, metavar="RANKLOG", help="the rank log of the rank-variation run")
    ap.add_argument("--layer", default=paper.FIG2["layer"])
    ap.add_argument("--e", type=float, required=required, help="TSVD energy threshold the run used")
    ap.add_argument("--projections", type=int, default=paper.FIG2["projections"], help="first N projections; 0 = all")


def main(argv: list[str] | None = None) -> None:
    ap = renderer_parser("fig2", __doc__)
    add_inputs(ap)
    args = ap.parse_args(argv)
    s = fig2(args.rankvar, args.layer, args.e, args.profile, args.out, args.projections)
    print(f"{s['layer']}: max mG/||W|| {s['max_step_bound']}, max displacement {s['max_displacement']} "
          f"vs sqrt(e) {s['sqrt_e']:.4f} (paper {paper.FIG2['max_bound']} vs {paper.FIG2['sqrt_e']}); "
          f"ranks {s['ranks']}")
