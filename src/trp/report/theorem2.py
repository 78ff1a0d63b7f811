"""Theorem 2 (Sec. 3.4) against the rank logs. The theorem: if mG < sqrt(e) ||W^{t+m}||_F (G the
largest ||alpha grad f||_F over the m steps; the log's step_bound = mG/||W^{t+m}||_F), the next TSVD
does not raise the rank. Eq. (12)'s middle term, the measured displacement ||W^{t+m} - T^z||_F /
||W^{t+m}||_F (at most step_bound), below sqrt(e) is enough for the same conclusion.

    trp render theorem2 --run-table results/cpu/runs.json --profile cpu --out paper_tables/cpu/theorem2

The run table's "rank_logs" (trp.report.run_table) names each rank log with its model, run and seed; a log's
row is named MODEL/RUN/sSEED. Every distinct record with a displacement (2nd projection on) counts once, per
rank log and overall, however many entries name a log; overall, a record that another log holds too (the same
training logged twice, e.g. with its spectrum for Fig. 2) counts once. For each condition: how often it held,
the violations (held, and the rank rose: the theorem says none) and how often the rank rose where it failed;
the largest value relative to sqrt(e) (below 1: the margin). {PREFIX}-failures.md/.tex/.csv lists where
(layer) and when (projection) a condition failed or the rank rose. The test has power only where some rank
rose: with none, no record could contradict the theorem. Ranks set by a rank allocator are outside the
theorem.
"""
import json
from pathlib import Path

from ..artifacts import write_json
from ..artifacts.records import sibling_run
from .arguments import add_run_table, renderer_parser
from .footer import provenance_footer
from .rank_logs import read_rank_log
from .run_table import read_run_table, section
from .tables import write_table

CONDITIONS = {"assumption": "step_bound", "bound": "displacement"}  # the paper's mG/||W||; the measured displacement
COLUMNS = [("run", "run"), ("records", "records"), ("rank_rose", "rank rose"),
           ("assumption_held", "mG/||W|| < sqrt(e): held / tested"),
           ("assumption_failed_rose", "failed: rank rose then"),
           ("bound_held", "displacement < sqrt(e): held / tested"), ("bound_failed_rose", "failed: rank rose then"),
           ("violations", "violations (held, rank rose): mG / displacement"),
           ("assumption_max", "max mG/||W|| / sqrt(e)"), ("bound_max", "max displacement / sqrt(e)"),
           ("sqrt_e", "sqrt(e)")]
FAILURE_COLUMNS = [("run", "run"), ("layer", "layer"), ("assumption", "mG/||W|| >= sqrt(e) at projections"),
                   ("bound", "displacement >= sqrt(e) at projections"), ("rose", "rank rose at projections")]


def rose(r: dict) -> bool:
    return r["rank_after"] > r["rank_before"]


def tested(records: list[dict]) -> list[dict]:
    """The distinct records with a displacement (each layer and projection once)."""
    out = {}
    for r in records:
        if "displacement" in r:
            out.setdefault((r["layer"], r["projection"]), r)
    return list(out.values())


def condition(recs: list[dict], key: str) -> dict:
    """How often `key` < sqrt(e) held, the violations (held and rose), the rises where it failed, the
    largest key / sqrt(e)."""
    have = [r for r in recs if key in r]
    held = [r for r in have if r[key] < r["sqrt_e"]]
    return {"tested": len(have), "held": len(held), "failed": len(have) - len(held),
            "violations": [{k: v for k, v in r.items() if k != "energy_ratios"} for r in held if rose(r)],
            "failed_rose": sum(rose(r) for r in have if not r[key] < r["sqrt_e"]),
            "max_ratio": max((r[key] / r["sqrt_e"] for r in have), default=None)}


def failures(recs: list[dict]) -> list[dict]:
    """Per layer with any: the projections where a condition failed and where the rank rose."""
    layers = {}
    for r in sorted(recs, key=lambda r: (r["layer"], r["projection"])):
        hits = {name: key in r and not r[key] < r["sqrt_e"] for name, key in CONDITIONS.items()} | {"rose": rose(r)}
        for name, hit in hits.items():
            if hit:
                layers.setdefault(r["layer"], {n: [] for n in hits})[name].append(r["projection"])
    return [{"layer": layer, **zs} for layer, zs in layers.items()]


def summarize(recs: list[dict]) -> dict:
    """Distinct records: how many, how many with a rank rise (power: any), and each condition's summary."""
    rises = sum(rose(r) for r in recs)
    return {"records": len(recs), "rank_rose": rises, "power": rises > 0,
            **{name: condition(recs, key) for name, key in CONDITIONS.items()},
            "sqrt_e": sorted({r["sqrt_e"] for r in recs})}


def by_log(ranklogs: dict[str, list[str]]) -> dict[str, list[str]]:
    """Each distinct rank log (resolved path) -> the names it is given."""
    out = {}
    for name, paths in ranklogs.items():
        for p in paths:
            names = out.setdefault(str(Path(p).resolve()), [])
            names += [name] if name not in names else []
    return out


def measured(r: dict) -> tuple:
    """What a record measured (its spectrum aside): two logs of the same training, one of them with
    the spectrum logged (Fig. 2's rank-variation run), hold records equal in this."""
    return tuple(sorted((k, v) for k, v in r.items() if k != "energy_ratios"))


def theorem2_results(ranklogs: dict[str, list[str]]) -> dict:
    """ranklogs: name -> rank log paths. Returns the names of each distinct log -> summarize() of
    its distinct records with their failures(), and "overall": summarize() over the records of all
    logs, each distinct measurement once, with "repeats": how many records repeated one already counted."""
    logs = {", ".join(names): tested(read_rank_log(p)) for p, names in by_log(ranklogs).items()}
    every = [r for recs in logs.values() for r in recs]
    distinct = list({measured(r): r for r in every}.values())
    return {**{run: {**summarize(recs), "failures": failures(recs)} for run, recs in logs.items()},
            "overall": {**summarize(distinct), "repeats": len(every) - len(distinct)}}


def ranges(zs: list[int]) -> str:
    """[2, 3, 4, 9] -> "2-4, 9"."""
    out, start = [], None
    for i, z in enumerate(zs):
        start = z if start is None else start
        if i + 1 == len(zs) or zs[i + 1] != z + 1:
            out.append(f"{start}" if start == z else f"{start}-{z}")
            start = None
    return ", ".join(out)


def summary_row(run: str, res: dict) -> dict:
    a, b = res["assumption"], res["bound"]
    if res.get("repeats"):
        run = f"{run} ({res['repeats']} records repeating another log's counted once)"
    return {"run": run, "records": res["records"], "rank_rose": res["rank_rose"],
            "assumption_held": f"{a['held']} / {a['tested']}", "assumption_failed_rose": a["failed_rose"],
            "bound_held": f"{b['held']} / {b['tested']}", "bound_failed_rose": b["failed_rose"],
            "violations": f"{len(a['violations'])} / {len(b['violations'])}",
            "assumption_max": a["max_ratio"], "bound_max": b["max_ratio"],
            "sqrt_e": ", ".join(f"{s:.4f}" for s in res["sqrt_e"])}


def theorem2(ranklogs: dict[str, list[str]], profile: str, out_prefix) -> dict:
    """Writes {out_prefix}.md/.tex/.csv/.json and {out_prefix}-failures.md/.tex/.csv; returns theorem2_results."""
    results = theorem2_results(ranklogs)
    footer = provenance_footer([m for p in by_log(ranklogs) for m in sibling_run(p)], profile)
    write_table([summary_row(run, res) for run, res in results.items()], COLUMNS, out_prefix,
                "Theorem 2 per rank log: how often its assumption and Eq. (12)'s bound held, and whether the rank rose",
                footer)
    where = [{"run": run, "layer": f["layer"], **{k: ranges(f[k]) for k in ("assumption", "bound", "rose")}}
             for run, res in results.items() if "failures" in res for f in res["failures"]]
    write_table(where, FAILURE_COLUMNS, f"{out_prefix}-failures",
                "Theorem 2: where (layer) and when (projection z) a condition failed or the rank rose", footer)
    write_json(f"{out_prefix}.json", {"runs": results, "provenance": footer})
    return results


def named_logs(rank_logs: list[dict]) -> dict[str, list[str]]:
    """The run table's rank logs ({"model", "run", "seed", "rank_log"}) as name -> paths, each named
    MODEL/RUN/sSEED."""
    out = {}
    for log in rank_logs:
        out.setdefault(f"{log['model']}/{log['run']}/s{log['seed']}", []).append(log["rank_log"])
    return out


def main(argv: list[str] | None = None) -> None:
    ap = renderer_parser("theorem2", __doc__)
    add_run_table(ap)
    args = ap.parse_args(argv)
    results = theorem2(named_logs(section(read_run_table(args.run_table), "rank_logs")), args.profile, args.out)
    for run, res in results.items():
        print(f"{run}: {json.dumps(summary_row(run, res))}")
    for name in CONDITIONS:
        for v in results["overall"][name]["violations"]:
            print(f"violation ({name}): {json.dumps(v)}")
