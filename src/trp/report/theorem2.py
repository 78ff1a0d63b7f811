"""Theorem 2 (Sec. 3.4) against the rank logs: whenever ||W^{t+m} - T^z||_F / ||W^{t+m}||_F < sqrt(e)
(Eq. 12), the next TSVD must not raise the rank: rank(T^{z+1}) <= rank(T^z).

    trp render theorem2 --ranklog r20_trp1=runs/a/ranklog.jsonl r20_trp2=runs/b/ranklog.jsonl \
        --profile paper --out paper_tables/theorem2

Counts every record with a "displacement" (2nd projection on) in a 2x2 table (bound held?
x rank rose?), per run and overall, each rank log once however many labels name it;
violations = held and rose (the theorem says none) are printed and written to {PREFIX}.json.
Ranks set by a rank allocator are outside the theorem.
"""
import json

from ..artifacts import write_json
from .common import distinct, load_jsonl, parse_pairs, provenance_footer, renderer_parser, sibling_metrics, write_table

CELLS = ("held_rose", "held_not_rose", "failed_rose", "failed_not_rose")
COLUMNS = [("run", "run"), ("records", "records"),
           ("held_rose", "bound held, rank rose (violations)"), ("held_not_rose", "bound held, rank did not rise"),
           ("failed_rose", "bound failed, rank rose"), ("failed_not_rose", "bound failed, rank did not rise"),
           ("max_displacement", "max displacement"), ("sqrt_e", "sqrt(e)")]


def check(records: list[dict]) -> dict:
    """The 2x2 counts, the largest displacement and the violating records (without energy_ratios)."""
    recs = [r for r in records if "displacement" in r]
    out = {"records": len(recs), **{c: 0 for c in CELLS}, "violations": [],
           "max_displacement": max((r["displacement"] for r in recs), default=None),
           "sqrt_e": sorted({r["sqrt_e"] for r in recs})}
    for r in recs:
        held = r["displacement"] < r["sqrt_e"]  # Eq. (12): the theorem's condition
        rose = r["rank_after"] > r["rank_before"]
        out[("held" if held else "failed") + ("_rose" if rose else "_not_rose")] += 1
        if held and rose:
            out["violations"].append({k: v for k, v in r.items() if k != "energy_ratios"})
    return out


def every_log(ranklogs: dict[str, list[str]]) -> list[str]:
    return distinct(p for paths in ranklogs.values() for p in paths)


def records(paths) -> list[dict]:
    return [r for p in distinct(paths) for r in load_jsonl(p)]


def theorem2_results(ranklogs: dict[str, list[str]]) -> dict:
    """ranklogs: label -> rank log paths. Returns label -> check(), and "overall" over the distinct logs."""
    return {**{label: check(records(paths)) for label, paths in ranklogs.items()},
            "overall": check(records(every_log(ranklogs)))}


def theorem2(ranklogs: dict[str, list[str]], profile: str, out_prefix) -> dict:
    """Writes {out_prefix}.md/.tex/.csv/.json; returns label -> check() (see theorem2_results)."""
    results = theorem2_results(ranklogs)
    rows = [{"run": label, **{k: v for k, v in res.items() if k != "violations"},
             "sqrt_e": ", ".join(f"{s:.4f}" for s in res["sqrt_e"])} for label, res in results.items()]
    footer = provenance_footer([m for p in every_log(ranklogs) for m in sibling_metrics(p)], profile)
    write_table(rows, COLUMNS, out_prefix, "Theorem 2: bound held vs rank rose, per TSVD record", footer)
    write_json(f"{out_prefix}.json", {"runs": results, "provenance": footer})
    return results


def add_inputs(ap) -> None:
    ap.add_argument("--ranklog", action="extend", nargs="+", required=True, metavar="LABEL=PATH")


def main(argv: list[str] | None = None) -> None:
    ap = renderer_parser("theorem2", __doc__)
    add_inputs(ap)
    args = ap.parse_args(argv)
    results = theorem2(parse_pairs(args.ranklog), args.profile, args.out)
    for label, res in results.items():
        print(f"{label}: {res['records']} records, " + ", ".join(f"{c} {res[c]}" for c in CELLS))
    violations = results["overall"]["violations"]
    print(f"{len(violations)} violation(s) of Theorem 2" + (":" if violations else ""))
    for v in violations:
        print(json.dumps(v))
