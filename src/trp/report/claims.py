"""Which of the paper's claims a profile's results support, computed from its outputs.

    python -m trp.report.claims --table1 T1.json --fig2 F2.json --fig3 F3.json --theorem2 TH.json \
        --runtime R.json [...] --runs PATH [...] --profile P --out PREFIX

Each claim gets a verdict (supported / not supported / not tested) and the numbers behind it.
"""
import argparse
from pathlib import Path

from .common import load_json, provenance_footer, write_json, write_table

COLUMNS = [("claim", "paper's claim"), ("verdict", "verdict"), ("evidence", "evidence (ours)")]
NOT_TESTED = [
    ("Absolute accuracies of Table 1 (e.g. R-20 baseline 91.74 %)", "needs the paper's 164-epoch schedule"),
    ("ResNet-56 rows of Table 1, 3 seeds", "paper profile (GPU)"),
    ("ImageNet Tables 2-3, ResNet-18/50 timings of Table 4", "no ImageNet here"),
]


def _value(cell):
    return cell["mean"] if isinstance(cell, dict) else cell


def _rows(table1: dict) -> dict:
    return {(r["model"], r["method"]): r for r in table1["rows"] if r.get("our_top1") is not None}


def _verdict(ok: bool) -> str:
    return "supported" if ok else "not supported"


def claims(table1: dict, fig2: dict, fig3: dict, theorem2: dict, runtimes: list[dict], runs: list[dict]) -> list[dict]:
    rows, out = _rows(table1), []
    # 1. No fine-tuning needed: the decomposed TRP network keeps the trained network's accuracy.
    drops = [(m["config"]["scheme"], m["config"]["e"], m["accuracy"]["dense"] - m["accuracy"]["decomposed"])
             for m in runs if m["config"].get("method") == "trp" and m["config"].get("max_steps") is None]
    if drops:
        worst = max(d for _, _, d in drops)
        out.append({"claim": "TRP networks are decomposed with negligible accuracy loss, no fine-tuning (Sec. 1, 4.3)",
                    "verdict": _verdict(worst < 1.0),
                    "evidence": f"largest drop dense -> decomposed over {len(drops)} TRP runs: {worst:.2f} points"})
    # 2. TRP beats the basic methods; 3. the nuclear norm raises the speedup.
    for model in sorted({k[0] for k in rows}):
        for trp, basic in (("TRP1", "[Zhang et al., 2016]"), ("TRP2", "[Jaderberg et al., 2014]")):
            a, b = rows.get((model, trp)), rows.get((model, basic))
            if a and b:
                at, bt, asp, bsp = map(_value, (a["our_top1"], b["our_top1"], a["our_speedup"], b["our_speedup"]))
                out.append({"claim": f"{model}: {trp} (no fine-tuning) beats {basic} (fine-tuned) (Table 1)",
                            "verdict": _verdict(at >= bt and asp >= bsp),
                            "evidence": f"{trp} {at:.2f} % at {asp:.2f}x vs {bt:.2f} % at {bsp:.2f}x"})
            nu = rows.get((model, f"{trp}+Nu"))
            if a and nu:
                s0, s1 = _value(a["our_speedup"]), _value(nu["our_speedup"])
                t0, t1 = _value(a["our_top1"]), _value(nu["our_top1"])
                out.append({"claim": f"{model}: nuclear regularization raises {trp}'s speedup at similar accuracy (Table 1)",
                            "verdict": _verdict(s1 > s0 and t1 >= t0 - 1.0),
                            "evidence": f"{trp}: {t0:.2f} % at {s0:.2f}x; {trp}+Nu: {t1:.2f} % at {s1:.2f}x"})
    # 4. Theorem 2 and Fig. 2.
    overall = theorem2["runs"].get("overall") or {}
    if overall:
        out.append({"claim": "Theorem 2: where ||W^{t+m} - T^z|| < sqrt(e) ||W^{t+m}||, the rank does not rise",
                    "verdict": _verdict(not overall["violations"]),
                    "evidence": f"{overall['records']} logged projections: bound held {overall['held_rose'] + overall['held_not_rose']}, "
                                f"violations {len(overall['violations'])}, rank rose anyway {overall['failed_rose']}"})
    if fig2:
        out.append({"claim": "Fig. 2: the bound holds in the initial training stage (paper: 0.092 < 0.223)",
                    "verdict": _verdict(fig2["bound_held_all"]),
                    "evidence": f"{fig2['layer']}: max displacement {fig2['max_displacement']:.3f} < sqrt(e) = {fig2['sqrt_e']:.3f} "
                                f"over {len(fig2['projections'])} projections; rank {fig2['ranks'][0]} -> {fig2['ranks'][-1]}"})
    # 5. Fig. 3: TRP degrades more slowly than the basic methods as the speedup grows.
    for scheme, pts in (fig3 or {}).get("points", {}).items():
        top = {m: max(ps, key=lambda p: p["speedup"]) for m, ps in pts.items() if ps}
        if "TRP" in top and "Basic" in top:
            t, b = top["TRP"], top["Basic"]
            out.append({"claim": f"Fig. 3 ({scheme}): at the highest speedups TRP keeps more accuracy than Basic",
                        "verdict": _verdict(t["top1"] >= b["top1"] and t["speedup"] >= b["speedup"]),
                        "evidence": f"TRP {t['top1']:.2f} % at {t['speedup']:.2f}x vs Basic {b['top1']:.2f} % at {b['speedup']:.2f}x"})
    # 6. Table 4: decomposed networks run faster on a CPU.
    for rt in runtimes:
        base = {r["batch_size"]: r["median_s"] for v in rt["variants"] if v["label"] == "baseline" for r in v["rows"]}
        for v in rt["variants"]:
            if v["label"] in ("TRP1+Nu", "TRP2+Nu"):
                sp = {r["batch_size"]: base[r["batch_size"]] / r["median_s"] for r in v["rows"]}
                out.append({"claim": f"Table 4: {v['label']} runs faster than the baseline ({rt['model']}, "
                                     f"{v['rows'][0]['device']})",
                            "verdict": _verdict(all(s > 1 for s in sp.values())),
                            "evidence": ", ".join(f"batch {b}: {s:.2f}x measured" for b, s in sp.items())
                                        + f" vs {v['mac_speedup']:.2f}x in MACs"})
    out += [{"claim": c, "verdict": "not tested", "evidence": why} for c, why in NOT_TESTED]
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for name in ("table1", "fig2", "fig3", "theorem2"):
        ap.add_argument(f"--{name}", required=True)
    ap.add_argument("--runtime", nargs="+", default=[])
    ap.add_argument("--runs", nargs="+", default=[], help="metrics.json of training runs")
    ap.add_argument("--profile", required=True)
    ap.add_argument("--out", required=True, metavar="PREFIX")
    a = ap.parse_args(argv)
    runs = [load_json(p) for p in a.runs]
    rows = claims(load_json(a.table1), load_json(a.fig2), load_json(a.fig3), load_json(a.theorem2),
                  [load_json(p) for p in a.runtime], runs)
    footer = provenance_footer(runs, a.profile)
    write_table(rows, COLUMNS, a.out, f"The paper's claims tested by the {a.profile} profile", footer)
    write_json({"claims": rows, "provenance": footer}, a.out)
    print(Path(f"{a.out}.md").read_text())


if __name__ == "__main__":
    main()
