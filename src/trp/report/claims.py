"""Which of the paper's claims a profile's results support, computed from its run records with the
same functions the other renderers use (never from their rendered outputs).

    trp render claims --runs MODEL/METHOD=PATH ... --rankvar RANKLOG --layer L --e E --points SCHEME/METHOD=PATH ... \
        --ranklog LABEL=PATH ... --runtime R.json ... --profile P --out PREFIX

The inputs are those of table1 (--runs), fig2 (--rankvar, --layer, --e), fig3 (--points),
theorem2 (--ranklog) and table4 (--runtime). Each claim gets a verdict (supported / not
supported / not tested) and the numbers behind it.
"""
from pathlib import Path

from ..artifacts import read_json, write_json
from . import fig2, fig3, paper, table1, table4, theorem2
from .common import distinct, parse_pairs, provenance_footer, renderer_parser, top1, write_table

COLUMNS = [("claim", "paper's claim"), ("verdict", "verdict"), ("evidence", "evidence (ours)")]
NOT_TESTED = [
    ("Absolute accuracies of Table 1 (e.g. R-20 baseline 91.74 %)", "needs the paper's 164-epoch schedule"),
    ("ResNet-56 rows of Table 1, 3 seeds", "paper profile (GPU)"),
    ("ImageNet Tables 2-3, ResNet-18/50 timings of Table 4", "no ImageNet here"),
]
TRP_METHODS = ("TRP1", "TRP1+Nu", "TRP2", "TRP2+Nu")  # Table-1 method keys of TRP runs
BASIC_OF = {"TRP1": "Zhang2016", "TRP2": "Jaderberg2014"}  # the basic method of TRP's decomposition form


def mean(cell) -> float:
    return cell["mean"] if isinstance(cell, dict) else cell


def verdict(ok: bool) -> str:
    return "supported" if ok else "not supported"


def no_finetuning_claim(trp_records: list[dict]) -> list[dict]:
    """1. TRP networks are decomposed without fine-tuning at little loss: dense -> decomposed."""
    drops = [top1(m, "dense") - top1(m, "decomposed") for m in trp_records]
    if not drops:
        return []
    return [{"claim": "TRP networks are decomposed with negligible accuracy loss, no fine-tuning (Sec. 1, 4.3)",
             "verdict": verdict(max(drops) < 1.0),
             "evidence": f"largest drop dense -> decomposed over {len(drops)} TRP runs: {max(drops):.2f} points"}]


def table1_claims(ours: dict[tuple[str, str], dict]) -> list[dict]:
    """2. TRP (no fine-tuning) beats the basic method (fine-tuned); 3. the nuclear norm raises the speedup."""
    out = []
    for model in sorted({model for model, _ in ours}):
        for trp, basic in BASIC_OF.items():
            a, b, nu = ours.get((model, trp)), ours.get((model, basic)), ours.get((model, f"{trp}+Nu"))
            if a and b:
                at, bt, asp, bsp = map(mean, (a["top1"], b["top1"], a["speedup"], b["speedup"]))
                out.append({"claim": f"{model}: {trp} (no fine-tuning) beats {paper.method_label(basic)} (fine-tuned) (Table 1)",
                            "verdict": verdict(at >= bt and asp >= bsp),
                            "evidence": f"{trp} {at:.2f} % at {asp:.2f}x vs {bt:.2f} % at {bsp:.2f}x"})
            if a and nu:
                t0, s0, t1, s1 = map(mean, (a["top1"], a["speedup"], nu["top1"], nu["speedup"]))
                out.append({"claim": f"{model}: nuclear regularization raises {trp}'s speedup at similar accuracy (Table 1)",
                            "verdict": verdict(s1 > s0 and t1 >= t0 - 1.0),
                            "evidence": f"{trp}: {t0:.2f} % at {s0:.2f}x; {trp}+Nu: {t1:.2f} % at {s1:.2f}x"})
    return out


def theorem2_claim(overall: dict) -> list[dict]:
    """4. Theorem 2 over every logged projection."""
    held = overall["held_rose"] + overall["held_not_rose"]
    return [{"claim": "Theorem 2: where ||W^{t+m} - T^z|| < sqrt(e) ||W^{t+m}||, the rank does not rise",
             "verdict": verdict(not overall["violations"]),
             "evidence": f"{overall['records']} logged projections: bound held {held}, "
                         f"violations {len(overall['violations'])}, rank rose anyway {overall['failed_rose']}"}]


def fig2_claim(s: dict) -> list[dict]:
    """5. Fig. 2: the bound holds over the first projections of one layer."""
    if s["max_displacement"] is None:
        return []
    return [{"claim": "Fig. 2: the bound holds in the initial training stage (paper: 0.092 < 0.223)",
             "verdict": verdict(s["bound_held_all"]),
             "evidence": f"{s['layer']}: max displacement {s['max_displacement']:.3f} vs sqrt(e) = {s['sqrt_e']:.3f} "
                         f"over {len(s['projections'])} projections; rank {s['ranks'][0]} -> {s['ranks'][-1]}"}]


def fig3_claims(points: dict) -> list[dict]:
    """6. Fig. 3: at the highest speedups TRP keeps more accuracy than Basic."""
    out = []
    for scheme, pts in points.items():
        if pts["TRP"] and pts["Basic"]:
            t, b = pts["TRP"][-1], pts["Basic"][-1]  # sorted by speedup
            out.append({"claim": f"Fig. 3 ({scheme}): at the highest speedups TRP keeps more accuracy than Basic",
                        "verdict": verdict(t["top1"] >= b["top1"] and t["speedup"] >= b["speedup"]),
                        "evidence": f"TRP {t['top1']:.2f} % at {t['speedup']:.2f}x vs Basic {b['top1']:.2f} % at {b['speedup']:.2f}x"})
    return out


def table4_claims(runtimes: list[dict]) -> list[dict]:
    """7. Table 4: the decomposed +Nu networks run faster than the baseline."""
    out = []
    for rt in runtimes:
        base = {r["batch_size"]: r["median_s"] for v in rt["variants"] if v["label"] == "baseline" for r in v["rows"]}
        for v in rt["variants"]:
            if v["label"] in ("TRP1+Nu", "TRP2+Nu"):
                sp = {r["batch_size"]: base[r["batch_size"]] / r["median_s"] for r in v["rows"]}
                out.append({"claim": f"Table 4: {v['label']} runs faster than the baseline ({rt['model']}, {v['rows'][0]['device']})",
                            "verdict": verdict(all(s > 1 for s in sp.values())),
                            "evidence": ", ".join(f"batch {b}: {s:.2f}x measured" for b, s in sp.items())
                                        + f" vs {v['mac_speedup']:.2f}x in MACs"})
    return out


def trp_run_paths(runs: dict[str, list[str]], points: dict[str, list[str]]) -> list[str]:
    """Every TRP run among Table 1's and Fig. 3's inputs, each once."""
    table = [p for label, paths in runs.items() if label.split("/")[1] in TRP_METHODS for p in paths]
    ablation = [p for label, paths in points.items() if label.split("/")[1] in ("TRP", "TRP+Nu") for p in paths]
    return distinct(table + ablation)


def claims(runs, rankvar: dict, points, ranklogs, runtime_paths) -> tuple[list[dict], list[dict]]:
    """runs, points, ranklogs: label -> paths as table1, fig3 and theorem2 take them; rankvar: fig2's
    arguments (ranklog, layer, e, projections). Returns the claim rows and the run records read."""
    records = table1.load_runs(runs)
    trp_records = [read_json(p) for p in trp_run_paths(runs, points)]
    ablation, _ = fig3.ablation_points(points)
    out = no_finetuning_claim(trp_records)
    out += table1_claims(table1.our_results(records))
    out += theorem2_claim(theorem2.theorem2_results(ranklogs)["overall"])
    out += fig2_claim(fig2.rank_variation(**rankvar))
    out += fig3_claims(ablation)
    out += table4_claims([read_json(p) for p in runtime_paths])
    out += [{"claim": c, "verdict": "not tested", "evidence": why} for c, why in NOT_TESTED]
    return out, [m for ms in records.values() for m in ms]


def main(argv: list[str] | None = None) -> None:
    ap = renderer_parser("claims", __doc__)
    for renderer in (table1, fig2, fig3, theorem2, table4):
        renderer.add_inputs(ap)
    a = ap.parse_args(argv)
    rankvar = {"ranklog": a.rankvar, "layer": a.layer, "e": a.e, "projections": a.projections}
    rows, records = claims(parse_pairs(a.runs), rankvar, parse_pairs(a.points), parse_pairs(a.ranklog), a.runtime)
    footer = provenance_footer(records, a.profile)
    write_table(rows, COLUMNS, a.out, f"The paper's claims tested by the {a.profile} profile", footer)
    write_json(f"{a.out}.json", {"claims": rows, "provenance": footer})
    print(Path(f"{a.out}.md").read_text())
