"""Which of the paper's claims a profile's results support, computed from its run records with the
same functions the other renderers use (never from their rendered outputs).

    trp render claims --runs MODEL/METHOD=PATH ... --rankvar RANKLOG --layer L --e E \
        --points SCHEME/METHOD/POINT=PATH ... --ranklog LABEL=PATH ... --runtime R.json ... --profile P --out PREFIX

The inputs are those of table1 (--runs), fig2 (--rankvar, --layer, --e), fig3 (--points),
theorem2 (--ranklog) and table4 (--runtime). Accuracy claims are judged at equal conv MACs: a
single run against a curve read at its speedup, two curves at the highest speedup both reach
(trp.report.equal_macs: interpolated within a curve, never extrapolated), by trp.report.verdict's
rule (the seed spread is the tolerance); each row states the training (epochs) of both sides.
Theorem 2 says where its test had no power; latency verdicts need the timing spread to be small
against the difference.
"""
from pathlib import Path

from ..artifacts import read_json, write_json
from . import equal_macs, fig2, fig3, paper, table1, table4, theorem2
from .common import fmt, mean_std, parse_pairs, provenance_footer, renderer_parser, scratch_epochs, top1, write_table
from .verdict import INCONCLUSIVE, NOT_SUPPORTED, NOT_TESTED, SUPPORTED, judge, row, sides

COLUMNS = [("claim", "paper's claim"), ("verdict", "verdict"), ("evidence", "evidence (ours)"),
           ("epochs", "training (epochs): a vs b")]
NEGLIGIBLE = 1.0  # points of top-1: the margin of "negligible accuracy loss"
NOT_TESTED_CLAIMS = [
    ("Absolute accuracies of Table 1 (e.g. R-20 baseline 91.74 %)", "needs the paper's 164-epoch schedule (paper profile)"),
    ("ImageNet Tables 2-3, ResNet-18/50 timings of Table 4", "no ImageNet here"),
]


def untested_models(records: dict[tuple[str, str], list[dict]]) -> list[dict]:
    models = dict.fromkeys(r["model"] for r in paper.TABLE1)
    return [row(f"Table 1 rows of {paper.model_label(m)}", NOT_TESTED, "this profile does not train it (paper profile does)")
            for m in models if not any(mdl == m for mdl, _ in records)]


def equal_macs_row(claim: str, a_name: str, a: list[dict], b_name: str, b: list[dict], speedup: float | None = None,
                   margin: float = 0.0) -> dict:
    """a > b - margin at `speedup` (default: the highest speedup both curves reach)."""
    epochs = f"{equal_macs.epochs(a)} vs {equal_macs.epochs(b)}"
    x = equal_macs.highest_common(a, b) if speedup is None else speedup
    va, vb = (None, None) if x is None else (equal_macs.at(a, x), equal_macs.at(b, x))
    if va is None or vb is None:
        return row(claim, INCONCLUSIVE, f"no equal conv MACs to compare at: {a_name} spans {equal_macs.span(a)}, "
                                        f"{b_name} {equal_macs.span(b)} (no extrapolation)", epochs)
    verdict, why = judge(va, vb, margin)
    return row(claim, verdict, f"at {x:.2f}x: {sides(a_name, va, b_name, vb)} (a {va['where']}, b {vb['where']}); {why}",
               epochs)


def table1_claims(model: str, records: dict[tuple[str, str], list[dict]], trp_curves: dict[str, list[dict]]) -> list[dict]:
    """Per decomposition form: TRP and TRP+Nu (no fine-tuning, and followed by the basic methods'
    fine-tuning) against the basic method's curve (its runs at the paper's speedup and at each TRP
    run's MACs); the nuclear norm's speedup, and TRP+Nu against TRP's curve over e (`trp_curves`,
    scheme -> Fig. 3 curve of this model, where there is one)."""
    scratch = scratch_epochs([m for (mdl, _), ms in records.items() if mdl == model for m in ms])
    points = {key: equal_macs.point(ms, key, scratch) for (mdl, key), ms in records.items() if mdl == model}
    model, out = paper.model_label(model), []
    for form, f in paper.FORMS.items():
        basic, label = f["basic"], paper.method_label(f["basic"])
        curve = equal_macs.curve([points[k] for k in paper.basic_keys(form) if k in points])
        for trp in paper.trp_keys(form):
            if trp not in points or not curve:
                continue
            p, ft = points[trp], points.get(paper.finetuned_key(trp))
            out.append(equal_macs_row(f"{model}: {trp} (no fine-tuning) beats {label} (fine-tuned) at equal conv MACs "
                                      "(Table 1)", trp, [p], label, curve, equal_macs.x(p)))
            if ft:
                out.append(equal_macs_row(f"{model}: {trp} + the same fine-tuning beats {label} at equal conv MACs and "
                                          "epochs", f"{trp} + fine-tuning", [ft], label, curve, equal_macs.x(ft)))
        trp, nu = (points.get(k) for k in paper.trp_keys(form))
        if trp and nu:
            verdict, why = judge(nu["speedup"], trp["speedup"])
            out.append(row(f"{model}: nuclear regularization raises {form}'s speedup (Table 1)", verdict,
                           f"{sides(f'{form}+Nu', nu['speedup'], form, trp['speedup'], ' x')}; {why}",
                           f"{nu['epochs']} vs {trp['epochs']}"))
        if nu and trp_curves.get(f["scheme"]):
            out.append(equal_macs_row(f"{model}: {form}+Nu beats {form} at equal conv MACs ('results become even "
                                      "better', Sec. 4.3)", f"{form}+Nu", [nu], f"TRP over e ({f['scheme']})",
                                      trp_curves[f["scheme"]], equal_macs.x(nu)))
    return out


def no_finetuning_claims(model: str, records: dict[tuple[str, str], list[dict]]) -> list[dict]:
    """Sec. 1 / 4.3: a TRP network is decomposed with negligible loss (at most NEGLIGIBLE points),
    so fine-tuning is not needed: its decomposed network against its own dense network, against
    the baseline, and against itself followed by the basic methods' fine-tuning (equal MACs)."""
    scratch = scratch_epochs([m for (mdl, _), ms in records.items() if mdl == model for m in ms])
    base = records.get((model, "baseline"))
    out = []
    for trp in (k for form in paper.FORMS for k in paper.trp_keys(form)):
        ms = records.get((model, trp))
        if not ms:
            continue
        claim = f"{paper.model_label(model)}: {trp} decomposed without fine-tuning loses at most {NEGLIGIBLE:g} point against"
        dec, dense = mean_std([top1(m, "decomposed") for m in ms]), mean_std([top1(m, "dense") for m in ms])
        verdict, why = judge(dec, dense, NEGLIGIBLE)
        out.append(row(f"{claim} its own dense network (Sec. 1)", verdict, f"{sides('decomposed', dec, 'dense', dense)}; {why}",
                       f"{scratch} vs {scratch}"))
        if base:
            b = mean_std([top1(m, "dense") for m in base])
            verdict, why = judge(dec, b, NEGLIGIBLE)
            out.append(row(f"{claim} the baseline (Sec. 1, 4.3)", verdict, f"{sides(trp, dec, 'baseline', b)}; {why}",
                           f"{scratch} vs {scratch}"))
        ft = records.get((model, paper.finetuned_key(trp)))
        if ft:
            a, b = equal_macs.point(ms, trp, scratch), equal_macs.point(ft, f"{trp} + fine-tuning", scratch)
            out.append(equal_macs_row(f"{claim} itself fine-tuned like the basic methods (Sec. 1)", trp, [a],
                                      f"{trp} + fine-tuning", [b], equal_macs.x(a), NEGLIGIBLE))
    return out


def fig3_claims(curves: dict[str, dict[str, list[dict]]]) -> list[dict]:
    """Sec. 4.6, per scheme at the highest speedup both curves reach: the nuclear norm improves the
    basic methods; TRP degrades more slowly than Basic and Basic+Nu, so it keeps more accuracy."""
    pairs = [("Basic+Nu", "Basic", "nuclear regularization improves the basic methods"),
             ("TRP", "Basic", "TRP keeps more accuracy than Basic as the speedup rises"),
             ("TRP", "Basic+Nu", "TRP keeps more accuracy than Basic+Nu as the speedup rises")]
    return [equal_macs_row(f"Fig. 3 ({scheme}): {claim}", a, methods[a], b, methods[b])
            for scheme, methods in curves.items() for a, b, claim in pairs if methods[a] and methods[b]]


def theorem2_claims(overall: dict) -> list[dict]:
    """Theorem 2 with its assumption (the paper's mG/||W||) and with Eq. (12)'s measured displacement."""
    claims = [("assumption", "Theorem 2: where mG < sqrt(e) ||W^{t+m}|| (its assumption), the next TSVD does not raise the rank",
               "mG/||W||"),
              ("bound", "Eq. (12): where ||W^{t+m} - T^z|| < sqrt(e) ||W^{t+m}||, the next TSVD does not raise the rank",
               "displacement")]
    out = []
    for name, claim, what in claims:
        c = overall[name]
        if not c["tested"]:
            out.append(row(claim, NOT_TESTED, f"no rank log records the {what}"))
            continue
        counts = (f"{c['tested']} distinct records: {what} < sqrt(e) in {c['held']}, failed in {c['failed']}; "
                  f"the rank rose {overall['rank_rose']} times, {c['failed_rose']} of them where it failed; "
                  f"largest {what} = {c['max_ratio']:.2f} sqrt(e)")
        if c["violations"]:
            v = c["violations"][0]
            verdict, why = NOT_SUPPORTED, f"{len(c['violations'])} violation(s), the first at {v['layer']}, projection {v['projection']}"
        elif not overall["power"]:
            verdict, why = INCONCLUSIVE, "the test had no power: no rank rose in any record, so none could contradict it"
        else:
            verdict, why = SUPPORTED, "every rise came where the condition failed"
        out.append(row(claim, verdict, f"{why}; {counts}"))
    return out


def fig2_claim(s: dict) -> list[dict]:
    """Sec. 4.5: in the initial training stage, max mG/||W|| stays below sqrt(e) (paper: 0.092 < 0.223)."""
    claim = "Fig. 2: Theorem 2's assumption holds in the initial training stage (paper: max mG/||W|| 0.092 < sqrt(e) 0.223)"
    if s["max_step_bound"] is None:
        return [row(claim, NOT_TESTED, "the rank log records no mG/||W||")]
    return [row(claim, SUPPORTED if s["assumption_held_all"] else NOT_SUPPORTED,
                f"{s['layer']}: max mG/||W|| {s['max_step_bound']:.3f} vs sqrt(e) = {s['sqrt_e']:.3f} over "
                f"{len(s['projections'])} projections (max displacement {fmt(s['max_displacement'], 3)}); "
                f"rank {s['ranks'][0]} -> {s['ranks'][-1]}")]


def faster(base: dict, other: dict) -> tuple[str, str]:
    """Is `other` faster than `base` (runtime rows of one batch size)? From the speedup's confidence
    interval over interleaved rounds where the row has one (trp.runtime/2), else only where the
    medians differ by more than half the two IQRs (the IQR ranges do not overlap)."""
    if "speedup_ci" in other:
        low, high = other["speedup_ci"]
        verdict = {True: SUPPORTED, False: NOT_SUPPORTED}.get(other["faster"], INCONCLUSIVE)
        return verdict, f"{other['speedup']:.2f}x, interval {low:.2f}-{high:.2f}x"
    ratio, gap = base["median_s"] / other["median_s"], abs(base["median_s"] - other["median_s"])
    spread = (base["iqr_s"] + other["iqr_s"]) / 2
    verdict = INCONCLUSIVE if gap <= spread else SUPPORTED if ratio > 1 else NOT_SUPPORTED
    return verdict, f"{ratio:.2f}x (medians {1e3 * base['median_s']:.3g} vs {1e3 * other['median_s']:.3g} ms, IQRs " \
                    f"{1e3 * base['iqr_s']:.2g} / {1e3 * other['iqr_s']:.2g} ms)"


def table4_claims(runtimes: list[dict]) -> list[dict]:
    """Sec. 4.7: the decomposed +Nu networks run faster than the baseline, per batch size."""
    out = []
    for rt in runtimes:
        base = {r["batch_size"]: r for v in rt["variants"] if v["label"] == "baseline" for r in v["rows"]}
        for v in rt["variants"]:
            if v["label"] in ("TRP1+Nu", "TRP2+Nu"):
                for r in v["rows"]:
                    verdict, why = faster(base[r["batch_size"]], r)
                    out.append(row(f"Table 4: {v['label']} runs faster than the baseline ({rt['model']}, {r['device']}, "
                                   f"batch {r['batch_size']})", verdict, f"{why}; {v['mac_speedup']:.2f}x in conv MACs"))
    return out


def fig3_model(records: list[dict]) -> str | None:
    return records[0]["config"]["model"] if records else None


def claims(runs, rankvar: dict, points, ranklogs, runtime_paths) -> tuple[list[dict], list[dict]]:
    """runs, points, ranklogs: label -> paths as table1, fig3 and theorem2 take them; rankvar: fig2's
    arguments (ranklog, layer, e, projections). Returns the claim rows and the run records read."""
    records = table1.load_runs(runs)
    curves, ablation_records = fig3.ablation_points(points)
    out = []
    for model in sorted({model for model, _ in records}):
        trp_curves = {s: methods["TRP"] for s, methods in curves.items()} if fig3_model(ablation_records) == model else {}
        out += no_finetuning_claims(model, records) + table1_claims(model, records, trp_curves)
    out += fig3_claims(curves)
    out += theorem2_claims(theorem2.theorem2_results(ranklogs)["overall"])
    out += fig2_claim(fig2.rank_variation(**rankvar))
    out += table4_claims([read_json(p) for p in runtime_paths])
    out += untested_models(records) + [row(c, NOT_TESTED, why) for c, why in NOT_TESTED_CLAIMS]
    return out, [m for ms in records.values() for m in ms] + ablation_records


def main(argv: list[str] | None = None) -> None:
    ap = renderer_parser("claims", __doc__)
    for renderer in (table1, fig2, fig3, theorem2, table4):
        renderer.add_inputs(ap)
    a = ap.parse_args(argv)
    rankvar = {"ranklog": a.rankvar, "layer": a.layer, "e": a.e, "projections": a.projections}
    rows, records = claims(parse_pairs(a.runs), rankvar, parse_pairs(a.points), parse_pairs(a.ranklog), a.runtime)
    footer = provenance_footer(records, a.profile)
    write_table(rows, COLUMNS, a.out, f"The paper's claims tested by the {a.profile} profile", footer)
    write_json(f"{a.out}.json", {"claims": rows, "negligible_points": NEGLIGIBLE,
                                 "equal_macs": equal_macs.EQUAL_MACS, "provenance": footer})
    print(Path(f"{a.out}.md").read_text())
