"""The rule every measured claim is judged by, with a known error rate. A claim says a > b - margin
(margin 0: a beats b; a margin: a loses at most that much). Its evidence is a 95 % t-interval on
a - b whose standard error comes from the seed SD of the quantity pooled over every repeated row of
the profile (a Pool: its degrees of freedom are stated beside each verdict), so that a side with
one seed, or two seeds that happened to tie, is judged by the spread the profile measured. The
verdict is "supported" where the whole interval lies above -margin, "not supported" where it lies
below, "inconclusive" where it holds -margin, and "inconclusive" with the difference shown where
the profile has no repeated row to pool. With no true difference (a - b = -margin) the rule
decides 5 % of the time, whatever the number of seeds (tests/test_verdict.py simulates it).

Where one network is compared with itself (decomposed vs dense, before vs after fine-tuning), the
seeds are paired: the interval is on the mean of the per-seed differences, with the SD of such
differences pooled over the rows of that comparison (judge_paired)."""
import math
from dataclasses import dataclass

from scipy import stats

from .cells import fmt

SUPPORTED, NOT_SUPPORTED, INCONCLUSIVE, NOT_TESTED = "supported", "not supported", "inconclusive", "not tested"
CONFIDENCE = 0.95


@dataclass(frozen=True)
class Pool:
    """The seed SD of one quantity, pooled over a profile's repeated rows, and its degrees of freedom."""

    sd: float
    df: int
    what: str  # what was pooled, for the table

    def describe(self) -> str:
        return f"pooled seed SD {self.sd:.2f} of {self.what}, {self.df} df"


def pool(groups: list[list[float]], what: str) -> Pool | None:
    """The pooled SD of `groups` (each the seeds of one row; rows with one seed add nothing), None
    where no row has two seeds."""
    groups = [[float(v) for v in g] for g in groups if len(g) > 1]
    df = sum(len(g) - 1 for g in groups)
    if not df:
        return None
    squares = sum(sum((v - sum(g) / len(g)) ** 2 for v in g) for g in groups)
    return Pool(math.sqrt(squares / df), df, what)


def variance_units(side: dict) -> float:
    """The variance of a side's mean in units of one seed's variance: 1/n for a measured row, the
    interpolation's own (trp.report.equal_macs.at) for a value read between two rows, 0 for a value
    taken as exact (the paper's)."""
    return side["variance_units"] if "variance_units" in side else 1.0 / side["n"]


def decide(d: float, units: float, p: Pool | None, margin: float, claim: str) -> tuple[str, str]:
    """The verdict on a - b = d > -margin, the mean difference's variance being `units` seed variances."""
    if p is None:
        return INCONCLUSIVE, f"{claim}; no row of the profile has two seeds to estimate the seed spread from"
    half = stats.t.ppf(0.5 + CONFIDENCE / 2, p.df) * p.sd * math.sqrt(units)
    low, high, bound = d - half, d + half, -margin or 0.0
    where = f"{CONFIDENCE:.0%} interval [{low:+.2f}, {high:+.2f}] ({p.describe()})"
    if low > bound:
        return SUPPORTED, f"{claim}: {where} above {bound:g}"
    if high < bound:
        return NOT_SUPPORTED, f"{claim}: {where} below {bound:g}"
    return INCONCLUSIVE, f"{claim}: {where} holds {bound:g}"


def claim_text(d: float, margin: float) -> str:
    return f"a − b = {d:+.2f}" + (f" (claim: > −{margin:g})" if margin else "")


def judge(a: dict, b: dict, p: Pool | None, margin: float = 0.0) -> tuple[str, str]:
    """a, b: two independent sides (mean_std dicts, or values read off a curve). Returns the
    verdict and why, in numbers."""
    d = a["mean"] - b["mean"]
    return decide(d, variance_units(a) + variance_units(b), p, margin, claim_text(d, margin))


def judge_paired(a: list[float], b: list[float], p: Pool | None, margin: float = 0.0) -> tuple[str, str]:
    """a, b: one network's values per seed, in the same seed order (a[i] and b[i] from seed i);
    `p` pools the SD of such per-seed differences."""
    diffs = [x - y for x, y in zip(a, b, strict=True)]
    d = sum(diffs) / len(diffs)
    return decide(d, 1.0 / len(diffs), p, margin, claim_text(d, margin) + f", paired over {len(diffs)} seeds")


def target_verdict(target: dict) -> str:
    """A latency target (benchmarks/latency.py's `targets`): met with confidence where the lower 95 %
    bound of the realised fraction reaches the threshold, met where only the point estimate does."""
    if target["met_with_confidence"]:
        return "met with confidence"
    return "met (point estimate only)" if target["met"] else "not met"


def row(claim: str, verdict: str, evidence: str, epochs: str | None = None, records=()) -> dict:
    """A claim's row: its verdict, the evidence, the training of both sides and the paths of the
    records it was judged from (each once, in order)."""
    return {"claim": claim, "verdict": verdict, "evidence": evidence, "epochs": epochs,
            "records": list(dict.fromkeys(records))}


def sides(a_name: str, a: dict, b_name: str, b: dict, unit: str = " %") -> str:
    """"a = NAME m ± s (n=k) %, b = ..." for the evidence column."""
    return f"a = {a_name} {fmt(a)}{unit}, b = {b_name} {fmt(b)}{unit}"
