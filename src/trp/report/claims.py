"""Which of the paper's claims a profile's results support, computed from its run records with the
same functions the other renderers use (never from their rendered outputs).

    trp render claims --run-table results/cpu/runs.json --rankvar RANKLOG --layer L --e E \
        --runtime R.json ... --profile P --out PREFIX

The inputs are those of table1, fig3 and theorem2 (the run table's tables, ablation and rank_logs:
trp.report.run_table), fig2 (--rankvar, --layer, --e) and table4 (--runtime). Accuracy claims are judged at
equal conv MACs: a single run against a curve read at its speedup, two curves at the highest speedup both
reach (trp.report.equal_macs: interpolated within a curve, never extrapolated), by trp.report.verdict's rule:
a 95 % t-interval on the difference, with the seed SD pooled over the profile's repeated Table-1 rows of the
same model (top-1 and TRP's speedup each pooled on their own; a network compared with itself, decomposed or
fine-tuned, by its per-seed differences, pooled over the rows of that comparison); each row states the
training (epochs) of both sides. Theorem 2 says where its test had no power; latency verdicts need the timing
spread to be small against the difference. Where the runs follow the paper's schedule (paper.CIFAR_EPOCHS),
Table 1's absolute accuracies are judged too (ours at most NEGLIGIBLE points below the paper's).

Each row names the records it was judged from (run records, rank logs, runtime JSON): their paths
are in the .csv (column "records") and the .json.

A profile still running is judged on the records its run table lists: --rankvar and --runtime may
be left out, and Fig. 3's points and the rank logs may be none (their claims are then "not tested",
with what is missing); Table-1 rows with seeds pending are listed as still running.
"""
from pathlib import Path

from ..artifacts import write_json
from ..artifacts.records import Record, final_top1, read_runtime, top1
from . import equal_macs, fig2, fig3, paper, table1, table4, theorem2
from .arguments import add_run_table, renderer_parser
from .cells import fmt
from .epochs import scratch_epochs, training_epochs
from .footer import provenance_footer
from .run_table import read_run_table, section
from .seeds import mean_std
from .tables import write_table
from .verdict import (CONFIDENCE, INCONCLUSIVE, NOT_SUPPORTED, NOT_TESTED, SUPPORTED, Pool, judge, judge_paired, pool,
                      row, sides)

COLUMNS = [("claim", "paper's claim"), ("verdict", "verdict"), ("evidence", "evidence (ours)"),
           ("epochs", "training (epochs): a vs b")]
RECORDS = ("records", "records")  # the csv's column of the paths of the records a claim was judged from
NEGLIGIBLE = 1.0  # points of top-1: the margin of "negligible accuracy loss"
NOT_TESTED_CLAIMS = [("ImageNet Tables 2-3, ResNet-18/50 timings of Table 4", "no ImageNet here")]
NOT_YET = "no record yet: this profile has not run it"
FIG2_CLAIM = ("Fig. 2: Theorem 2's assumption holds in the initial training stage "
              "(paper: max mG/||W|| 0.092 < sqrt(e) 0.223)")
TABLE4_CLAIM = "Table 4: the decomposed +Nu networks run faster than the baseline"
FIG3_CLAIM = "Fig. 3: TRP keeps more accuracy than the basic methods as the speedup rises"


def untested_models(records: dict[tuple[str, str], list[dict]]) -> list[dict]:
    models = dict.fromkeys(r["model"] for r in paper.TABLE1)
    why = "this profile does not train it (paper profile does)"
    return [row(f"Table 1 rows of {paper.model_label(m)}", NOT_TESTED, why)
            for m in models if not any(mdl == m for mdl, _ in records)]


def absolute_claims(records: dict[tuple[str, str], list[dict]], p: dict[str, dict[str, Pool | None]]) -> list[dict]:
    """Table 1's absolute top-1, per row the paper has, where our runs follow its schedule: ours at
    most NEGLIGIBLE points below the paper's (its number taken as exact: it states no spread)."""
    scratch = scratch_epochs([m for ms in records.values() for m in ms])
    claim = "Absolute accuracies of Table 1 (e.g. R-20 baseline 91.74 %)"
    if scratch != str(paper.CIFAR_EPOCHS):
        return [row(claim, NOT_TESTED, f"needs the paper's {paper.CIFAR_EPOCHS}-epoch schedule (paper profile)")]
    out = []
    for (model, key), ms in records.items():
        theirs = paper.table1(model, key)
        if theirs:
            ours = mean_std([final_top1(m) for m in ms])
            verdict, why = judge(ours, {"mean": theirs["top1"], "variance_units": 0.0}, p[model]["top1"], NEGLIGIBLE)
            out.append(row(f"{paper.model_label(model)}: {paper.method_label(key)} reaches the paper's top-1 within "
                           f"{NEGLIGIBLE:g} point (Table 1)", verdict,
                           f"{sides('ours', ours, 'paper', {'mean': theirs['top1'], 'n': 1})}; {why}",
                           f"{training_epochs(ms[0], scratch)} vs {paper.CIFAR_EPOCHS}", paths(ms)))
    return out


def pending_claims(pending: dict[tuple[str, str], str]) -> list[dict]:
    """The Table-1 rows a running profile has not finished: their claims are judged once they have."""
    if not pending:
        return []
    return [row("Table 1 rows still running (the claims on them are judged when they finish)", NOT_TESTED,
                "; ".join(f"{paper.model_label(m)} {paper.method_label(k)}: {state}"
                          for (m, k), state in pending.items()))]


def seed_pairs(a: list[dict], b: list[dict]) -> list[tuple[dict, dict]]:
    """The records of a and b trained from the same seed, in seed order."""
    b_by_seed = {m["config"]["seed"]: m for m in b}
    return [(m, b_by_seed[m["config"]["seed"]]) for m in sorted(a, key=lambda m: m["config"]["seed"])
            if m["config"]["seed"] in b_by_seed]


def pools(model: str, records: dict[tuple[str, str], list[dict]]) -> dict[str, Pool | None]:
    """The seed SDs one model's verdicts are judged with, each pooled over the rows that repeat it:
    top-1 of every Table-1 row (the network each run ends with), TRP's conv speedup, and the
    per-seed differences of a TRP network decomposed vs dense and before vs after fine-tuning."""
    rows = {key: ms for (mdl, key), ms in records.items() if mdl == model}
    trps = [k for form in paper.FORMS for k in paper.trp_keys(form) if k in rows]
    label = paper.model_label(model)
    tuned = [seed_pairs(rows[k], rows[paper.finetuned_key(k)]) for k in trps if paper.finetuned_key(k) in rows]
    return {
        "top1": pool([[final_top1(m) for m in ms] for ms in rows.values()], f"{label} top-1 (%)"),
        "speedup": pool([[m["speedup"]["conv"] for m in rows[k]] for k in trps], f"{label} TRP conv speedup (x)"),
        "decomposed": pool([[top1(m, "decomposed") - top1(m, "dense") for m in rows[k]] for k in trps],
                           f"{label} TRP decomposed − dense (points)"),
        "finetuned": pool([[final_top1(a) - final_top1(b) for a, b in pairs] for pairs in tuned],
                          f"{label} TRP − TRP + fine-tuning (points)"),
    }


def equal_macs_row(claim: str, a_name: str, a: list[dict], b_name: str, b: list[dict], p: Pool | None,
                   speedup: float | None = None, margin: float = 0.0) -> dict:
    """a > b - margin at `speedup` (default: the highest speedup both curves reach)."""
    epochs = f"{equal_macs.epochs(a)} vs {equal_macs.epochs(b)}"
    x = equal_macs.highest_common(a, b) if speedup is None else speedup
    va, vb = (None, None) if x is None else (equal_macs.at(a, x), equal_macs.at(b, x))
    if va is None or vb is None:
        return row(claim, INCONCLUSIVE, f"no equal conv MACs to compare at: {a_name} spans {equal_macs.span(a)}, "
                                        f"{b_name} {equal_macs.span(b)} (no extrapolation)", epochs,
                   [r for point in a + b for r in point["records"]])
    verdict, why = judge(va, vb, p, margin)
    return row(claim, verdict,
               f"at {x:.2f}x: {sides(a_name, va, b_name, vb)} (a {va['where']}, b {vb['where']}); {why}",
               epochs, va["records"] + vb["records"])


def table1_claims(model: str, records: dict[tuple[str, str], list[dict]], trp_curves: dict[str, list[dict]],
                  p: dict[str, Pool | None]) -> list[dict]:
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
            point, ft = points[trp], points.get(paper.finetuned_key(trp))
            out.append(equal_macs_row(f"{model}: {trp} (no fine-tuning) beats {label} (fine-tuned) at equal conv MACs "
                                      "(Table 1)", trp, [point], label, curve, p["top1"], equal_macs.x(point)))
            if ft:
                out.append(equal_macs_row(f"{model}: {trp} + the same fine-tuning beats {label} at equal conv MACs and "
                                          "epochs", f"{trp} + fine-tuning", [ft], label, curve, p["top1"],
                                          equal_macs.x(ft)))
        trp, nu = (points.get(k) for k in paper.trp_keys(form))
        if trp and nu:
            verdict, why = judge(nu["speedup"], trp["speedup"], p["speedup"])
            out.append(row(f"{model}: nuclear regularization raises {form}'s speedup (Table 1)", verdict,
                           f"{sides(f'{form}+Nu', nu['speedup'], form, trp['speedup'], ' x')}; {why}",
                           f"{nu['epochs']} vs {trp['epochs']}", nu["records"] + trp["records"]))
        if nu and trp_curves.get(f["scheme"]):
            out.append(equal_macs_row(f"{model}: {form}+Nu beats {form} at equal conv MACs ('results become even "
                                      "better', Sec. 4.3)", f"{form}+Nu", [nu], f"TRP over e ({f['scheme']})",
                                      trp_curves[f["scheme"]], p["top1"], equal_macs.x(nu)))
    return out


def no_finetuning_claims(model: str, records: dict[tuple[str, str], list[dict]],
                         p: dict[str, Pool | None]) -> list[dict]:
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
        claim = (f"{paper.model_label(model)}: {trp} decomposed without fine-tuning loses at most {NEGLIGIBLE:g} "
                 "point against")
        decs, denses = [top1(m, "decomposed") for m in ms], [top1(m, "dense") for m in ms]
        dec, dense = mean_std(decs), mean_std(denses)
        verdict, why = judge_paired(decs, denses, p["decomposed"], NEGLIGIBLE)
        out.append(row(f"{claim} its own dense network (Sec. 1)", verdict,
                       f"{sides('decomposed', dec, 'dense', dense)}; {why}", f"{scratch} vs {scratch}", paths(ms)))
        if base:
            b = mean_std([top1(m, "dense") for m in base])
            verdict, why = judge(dec, b, p["top1"], NEGLIGIBLE)
            out.append(row(f"{claim} the baseline (Sec. 1, 4.3)", verdict, f"{sides(trp, dec, 'baseline', b)}; {why}",
                           f"{scratch} vs {scratch}", paths(ms + base)))
        ft = records.get((model, paper.finetuned_key(trp)))
        if ft:
            pairs = seed_pairs(ms, ft)
            a, b = equal_macs.point(ms, trp, scratch), equal_macs.point(ft, f"{trp} + fine-tuning", scratch)
            verdict, why = judge_paired([final_top1(x) for x, _ in pairs], [final_top1(y) for _, y in pairs],
                                        p["finetuned"], NEGLIGIBLE)
            evidence = sides(trp, a["top1"], f"{trp} + fine-tuning", b["top1"])
            out.append(row(f"{claim} itself fine-tuned like the basic methods (Sec. 1)", verdict,
                           f"at {equal_macs.x(a):.2f}x: {evidence}; {why}",
                           f"{a['epochs']} vs {b['epochs']}", paths([m for pair in pairs for m in pair])))
    return out


def fig3_claims(curves: dict[str, dict[str, list[dict]]], p: Pool | None) -> list[dict]:
    """Sec. 4.6, per scheme at the highest speedup both curves reach: the nuclear norm improves the
    basic methods; TRP degrades more slowly than Basic and Basic+Nu, so it keeps more accuracy."""
    pairs = [("Basic+Nu", "Basic", "nuclear regularization improves the basic methods"),
             ("TRP", "Basic", "TRP keeps more accuracy than Basic as the speedup rises"),
             ("TRP", "Basic+Nu", "TRP keeps more accuracy than Basic+Nu as the speedup rises")]
    return [equal_macs_row(f"Fig. 3 ({scheme}): {claim}", a, methods[a], b, methods[b], p)
            for scheme, methods in curves.items() for a, b, claim in pairs if methods[a] and methods[b]]


def theorem2_claims(overall: dict, ranklogs: list[str]) -> list[dict]:
    """Theorem 2 with its assumption (the paper's mG/||W||) and with Eq. (12)'s measured displacement,
    judged from the rank logs at `ranklogs`."""
    claims = [("assumption", "Theorem 2: where mG < sqrt(e) ||W^{t+m}|| (its assumption), the next TSVD does not "
                             "raise the rank", "mG/||W||"),
              ("bound", "Eq. (12): where ||W^{t+m} - T^z|| < sqrt(e) ||W^{t+m}||, the next TSVD does not raise the "
                        "rank", "displacement")]
    out = []
    for name, claim, what in claims:
        c = overall[name]
        if not c["tested"]:
            out.append(row(claim, NOT_TESTED, f"no rank log records the {what}", records=ranklogs))
            continue
        counts = (f"{c['tested']} distinct records: {what} < sqrt(e) in {c['held']}, failed in {c['failed']}; "
                  f"the rank rose {overall['rank_rose']} times, {c['failed_rose']} of them where it failed; "
                  f"largest {what} = {c['max_ratio']:.2f} sqrt(e)")
        if c["violations"]:
            v = c["violations"][0]
            verdict, why = NOT_SUPPORTED, (f"{len(c['violations'])} violation(s), the first at {v['layer']}, "
                                           f"projection {v['projection']}")
        elif not overall["power"]:
            verdict, why = INCONCLUSIVE, ("the test had no power: no rank rose in any record, so none could "
                                          "contradict it")
        else:
            verdict, why = SUPPORTED, "every rise came where the condition failed"
        out.append(row(claim, verdict, f"{why}; {counts}", records=ranklogs))
    return out


def fig2_claim(rankvar: dict | None) -> list[dict]:
    """Sec. 4.5: in the initial training stage, max mG/||W|| stays below sqrt(e) (paper: 0.092 < 0.223);
    rankvar: fig2's arguments, None where there is no rank-variation log yet."""
    claim = FIG2_CLAIM
    if rankvar is None:
        return [row(claim, NOT_TESTED, NOT_YET)]
    s, log = fig2.rank_variation(**rankvar), [rankvar["ranklog"]]
    if s["max_step_bound"] is None:
        return [row(claim, NOT_TESTED, "the rank log records no mG/||W||", records=log)]
    return [row(claim, SUPPORTED if s["assumption_held_all"] else NOT_SUPPORTED,
                f"{s['layer']}: max mG/||W|| {s['max_step_bound']:.3f} vs sqrt(e) = {s['sqrt_e']:.3f} over "
                f"{len(s['projections'])} projections (max displacement {fmt(s['max_displacement'], 3)}); "
                f"rank {s['ranks'][0]} -> {s['ranks'][-1]}", records=log)]


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
                    out.append(row(f"Table 4: {v['label']} runs faster than the baseline ({rt['model']}, "
                                   f"{r['device']}, batch {r['batch_size']})", verdict,
                                   f"{why}; {v['mac_speedup']:.2f}x in conv MACs", records=[rt.path]))
    return out


def paths(records: list[Record]) -> list[str]:
    return [m.path for m in records]


def fig3_model(records: list[dict]) -> str | None:
    return records[0]["config"]["model"] if records else None


def claims(run_table: dict, rankvar: dict | None, runtime_paths) -> tuple[list[dict], list[dict], list[Pool]]:
    """run_table: a CIFAR-10 profile's run table (its tables, ablation and rank_logs as table1, fig3
    and theorem2 read them); rankvar: fig2's arguments (ranklog, layer, e, projections), None where
    there is no rank-variation log yet. Returns the claim rows, the run records read and the pooled
    seed SDs the verdicts used."""
    records = table1.load_runs(run_table["tables"])
    curves, ablation_records = fig3.ablation_points(section(run_table, "ablation"))
    ranklogs = theorem2.named_logs(section(run_table, "rank_logs"))
    out, used = [], {}
    for model in sorted({model for model, _ in records}):
        used[model] = pools(model, records)
        trp_curves = {s: m["TRP"] for s, m in curves.items()} if fig3_model(ablation_records) == model else {}
        out += no_finetuning_claims(model, records, used[model])
        out += table1_claims(model, records, trp_curves, used[model])
    out += fig3_claims(curves, used.get(fig3_model(ablation_records), {}).get("top1")) if ablation_records else \
        [row(FIG3_CLAIM, NOT_TESTED, NOT_YET)]
    logs = [p for ps in ranklogs.values() for p in ps]
    out += theorem2_claims(theorem2.theorem2_results(ranklogs)["overall"], logs)
    out += fig2_claim(rankvar)
    out += table4_claims([read_runtime(p) for p in runtime_paths]) if runtime_paths else \
        [row(TABLE4_CLAIM, NOT_TESTED, NOT_YET)]
    out += pending_claims(table1.load_pending(run_table["tables"])) + untested_models(records)
    out += absolute_claims(records, used)
    out += [row(c, NOT_TESTED, why) for c, why in NOT_TESTED_CLAIMS]
    return out, [m for ms in records.values() for m in ms] + ablation_records, \
        [p for ps in used.values() for p in ps.values() if p]


def main(argv: list[str] | None = None) -> None:
    ap = renderer_parser("claims", __doc__)
    add_run_table(ap)
    for renderer in (fig2, table4):
        renderer.add_inputs(ap, required=False)
    a = ap.parse_args(argv)
    if (a.rankvar is None) != (a.e is None):
        ap.error("--rankvar and --e go together")
    rankvar = None if a.rankvar is None else \
        {"ranklog": a.rankvar, "layer": a.layer, "e": a.e, "projections": a.projections}
    rows, records, used = claims(read_run_table(a.run_table), rankvar, a.runtime or [])
    footer = provenance_footer(records, a.profile)
    rule = (f"Verdicts: {CONFIDENCE:.0%} t-intervals on a − b with the seed SD pooled over the profile's repeated "
            f"rows ({'; '.join(p.describe() for p in used) or 'none: no row has two seeds'})")
    title = f"The paper's claims tested by the {a.profile} profile"
    write_table([{"section": rule}, *rows], COLUMNS, a.out, title, footer, csv_columns=[RECORDS])
    write_json(f"{a.out}.json", {"claims": rows, "negligible_points": NEGLIGIBLE, "equal_macs": equal_macs.EQUAL_MACS,
                                 "confidence": CONFIDENCE, "pools": [vars(p) for p in used], "provenance": footer})
    print(Path(f"{a.out}.md").read_text())
