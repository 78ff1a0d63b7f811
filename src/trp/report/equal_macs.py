"""Accuracy against conv-MAC speedup, for comparisons at equal MACs. A point is one run: mean ± std
over its seeds of the speedup and of the top-1 of the network it ends with, and the paths of their
records. A curve is the points
of one method, sorted by speedup. A curve is read at a speedup x from a point within EQUAL_MACS of
x, else by linear interpolation between the two points around x (mean and std alike, n the
smaller; the variance of the interpolated mean in units of one seed's variance, variance_units, for
trp.report.verdict), and never beyond its ends."""
from ..artifacts.records import final_top1
from .epochs import training_epochs
from .seeds import mean_std

EQUAL_MACS = 0.02  # speedups within 2 % of each other count as equal conv MACs


def point(records: list[dict], label: str, scratch_epochs: str) -> dict:
    """One run's point: the speedup and top-1 of its seeds (records), mean ± std, the epochs behind
    it (training_epochs; `scratch_epochs` those of the profile's trainings from scratch) and the
    records' paths."""
    return {"label": label, "speedup": mean_std([m["speedup"]["conv"] for m in records]),
            "top1": mean_std([final_top1(m) for m in records]),
            "epochs": "/".join(sorted({training_epochs(m, scratch_epochs) for m in records})),
            "records": [m.path for m in records]}


def curve(points: list[dict]) -> list[dict]:
    return sorted(points, key=lambda p: p["speedup"]["mean"])


def epochs(c: list[dict]) -> str:
    return "/".join(sorted({p["epochs"] for p in c}))


def x(p: dict) -> float:
    return p["speedup"]["mean"]


def span(c: list[dict]) -> str:
    return f"{x(c[0]):.2f}x" if len(c) == 1 else f"{x(c[0]):.2f}-{x(c[-1]):.2f}x"


def at(c: list[dict], speedup: float) -> dict | None:
    """The top-1 of curve `c` at `speedup` (mean, std, n, where it was read and the records of the
    points it was read from), None outside the curve."""
    near = min(c, key=lambda p: abs(x(p) - speedup))
    if abs(x(near) - speedup) <= EQUAL_MACS * speedup:
        return {**near["top1"], "where": f"measured at {x(near):.2f}x", "records": near["records"]}
    for lo, hi in zip(c, c[1:]):
        if x(lo) < speedup < x(hi):
            w = (speedup - x(lo)) / (x(hi) - x(lo))
            mean, std = ((1 - w) * lo["top1"][k] + w * hi["top1"][k] for k in ("mean", "std"))
            units = (1 - w) ** 2 / lo["top1"]["n"] + w ** 2 / hi["top1"]["n"]
            return {"mean": mean, "std": std, "n": min(lo["top1"]["n"], hi["top1"]["n"]), "variance_units": units,
                    "where": f"interpolated between {x(lo):.2f}x and {x(hi):.2f}x",
                    "records": lo["records"] + hi["records"]}
    return None


def highest_common(a: list[dict], b: list[dict]) -> float | None:
    """The highest speedup both curves reach, None where their speedup ranges do not overlap."""
    low, high = max(x(a[0]), x(b[0])), min(x(a[-1]), x(b[-1]))
    return high if low - high <= EQUAL_MACS * high else None
