"""Latency-aware ranks from a per-layer latency table (layer_table): pure functions, no timing.

- `rank_latency`: a layer's two-conv latency at any rank, from the table's candidate ranks;
- `keep_faster`: a layer stays dense where its decomposed form is not faster;
- `round_ranks`: ranks rounded to hardware-friendly multiples, within [1, full rank];
- `latency_costs` / `network_latency`: per-(layer, rank) latency costs, the form a latency
  budget of the allocator (trp.cobla) takes, and the predicted latency of an allocation.
"""
import math

import numpy as np

ROUNDING = {"up": math.ceil, "down": math.floor, "nearest": lambda v: math.floor(v + 0.5)}


def _layer(table: dict, name: str) -> dict:
    try:
        return table["layers"][name]
    except KeyError:
        raise KeyError(f"layer {name!r} is not in the latency table of {table.get('model')} "
                       f"({table.get('scheme')}, {table.get('runtime')})") from None


def rank_latency(layer: dict, rank) -> np.ndarray | float:
    """Seconds of the layer's two-conv form at `rank` (scalar or array): linear between the
    measured candidate ranks, the smallest candidate's time below them (an upper bound, time
    growing with rank) and the last two candidates' line above them."""
    r, t = np.asarray(layer["ranks"], float), np.asarray(layer["rank_s"], float)
    rank = np.asarray(rank, float)
    out = np.interp(rank, r, t)
    if len(r) > 1:
        slope = (t[-1] - t[-2]) / (r[-1] - r[-2])
        out = np.where(rank > r[-1], t[-1] + slope * (rank - r[-1]), out)
    return out if out.ndim else float(out)


def keep_faster(ranks: dict[str, int], table: dict, min_speedup: float = 1.0) -> tuple[dict[str, int], list[str]]:
    """(the ranks of the layers whose decomposed form at their rank is faster than their dense
    conv by more than `min_speedup` x, the layers that stay dense)."""
    keep = {n: r for n, r in ranks.items() if _layer(table, n)["dense_s"] > min_speedup * rank_latency(_layer(table, n), r)}
    return keep, [n for n in ranks if n not in keep]


def round_ranks(ranks: dict[str, int], full_ranks: dict[str, int], multiple: int = 8,
                direction: str = "up") -> dict[str, int]:
    """Each rank rounded `direction` ("up", "down", "nearest") to a multiple of `multiple`, then
    clipped to [1, the layer's full rank]."""
    if direction not in ROUNDING or multiple < 1:
        raise ValueError(f"round_ranks needs multiple >= 1 and direction in {tuple(ROUNDING)}")
    missing = sorted(set(ranks) - set(full_ranks))
    if missing:
        raise KeyError(f"no full rank given for {missing}")
    return {n: min(full_ranks[n], max(1, multiple * ROUNDING[direction](r / multiple))) for n, r in ranks.items()}


def latency_costs(table: dict, names=None) -> dict[str, dict]:
    """Per layer (all of the table's, or `names`): {"dense_s": seconds of the dense conv,
    "rank_s": array whose entry k-1 is the seconds at rank k, k = 1..break_even}. These are the
    options of a multiple-choice knapsack (rank k or dense) and, by differences, the per-component
    costs of COBLA's 0-1 program: rank k costs sum_{j<k} delta_j with delta_0 = rank_s[0] and
    delta_j = rank_s[j] - rank_s[j-1], linear in the prefix variables x_j."""
    out = {}
    for n in (table["layers"] if names is None else names):
        layer = _layer(table, n)
        out[n] = {"dense_s": float(layer["dense_s"]),
                  "rank_s": np.atleast_1d(rank_latency(layer, np.arange(1, max(1, layer["break_even"]) + 1)))}
    return out


def network_latency(ranks: dict[str, int], costs: dict[str, dict], fixed_s: float = 0.0) -> float:
    """Predicted seconds of the costed layers, decomposed at `ranks` (the others dense), plus
    `fixed_s` (the rest of the network)."""
    def one(n):
        c, r = costs[n], ranks.get(n)
        return c["dense_s"] if r is None or r > len(c["rank_s"]) else float(c["rank_s"][r - 1])
    return fixed_s + sum(one(n) for n in costs)
