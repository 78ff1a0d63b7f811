"""The rule every measured claim is judged by. A claim says a > b - margin (margin 0: a beats b; a
margin: a loses at most that much). Its tolerance is the seed spread, std_a + std_b: exactly the
difference at which the two mean ± std ranges stop overlapping. The verdict is "inconclusive"
where either side has a single seed (no spread to judge by) or |a - b + margin| lies inside the
spread, and "supported" / "not supported" only where it exceeds the spread."""
from .common import fmt

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, NOT_TESTED = "supported", "not supported", "inconclusive", "not tested"


def judge(a: dict, b: dict, margin: float = 0.0) -> tuple[str, str]:
    """a, b: mean_std dicts (mean, std, n). Returns the verdict and why, in numbers."""
    d, spread, n = a["mean"] - b["mean"], a["std"] + b["std"], min(a["n"], b["n"])
    claim = f"a − b = {d:+.2f}" + (f" (claim: > −{margin:g})" if margin else "")
    if n < 2:
        return INCONCLUSIVE, f"{claim}; n = {n}: no seed spread to judge it by"
    if abs(d + margin) <= spread:
        return INCONCLUSIVE, f"{claim}: inside the seed spread ±{spread:.2f}"
    return (SUPPORTED if d + margin > 0 else NOT_SUPPORTED), f"{claim}: beyond the seed spread ±{spread:.2f}"


def target_verdict(target: dict) -> str:
    """A latency target (benchmarks/latency.py's `targets`): met with confidence where the lower 95 %
    bound of the realised fraction reaches the threshold, met where only the point estimate does."""
    if target["met_with_confidence"]:
        return "met with confidence"
    return "met (point estimate only)" if target["met"] else "not met"


def row(claim: str, verdict: str, evidence: str, epochs: str | None = None) -> dict:
    return {"claim": claim, "verdict": verdict, "evidence": evidence, "epochs": epochs}


def sides(a_name: str, a: dict, b_name: str, b: dict, unit: str = " %") -> str:
    """"a = NAME m ± s (n=k) %, b = ..." for the evidence column."""
    return f"a = {a_name} {fmt(a)}{unit}, b = {b_name} {fmt(b)}{unit}"
