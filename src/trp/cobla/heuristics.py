"""Budget-tuned start points for COBLA's SQP, and the variables they agree on (which COBLA fixes).

Each heuristic returns a `Start`: per-layer ranks (1..B) and dense flags meeting every budget
(MACs, parameters and, with latency costs set on the problem, predicted seconds).
- energy_start: the TSVD energy rule (Eq. 4 of TRP) with one threshold e for every layer, a rank
  above break-even meaning "stay dense"; e is the smallest threshold (found by bisection over the
  finitely many thresholds where some rank changes) whose ranks meet the budgets. MACs and
  parameters never fall as e falls; latency can (a layer switched dense may be faster), and then
  the bisection still returns a threshold that fits, not necessarily the smallest.
- uniform_start: rank = max(1, floor(f * B_l)) per layer, f the largest such fraction that fits.
- greedy_start: from rank 1 everywhere, repeatedly add the component (or dense switch) with the
  most normalized energy per unit of normalized cost (the sum over the finite budgets of cost /
  budget) that still fits.
Where rank 1 everywhere is too slow for a latency budget, every start keeps the layers of the
problem's `latency_floor` dense (a dense conv can be faster than its rank-1 form) and works on
the others.
"""
import heapq
from dataclasses import dataclass

import numpy as np

from .problem import AllocationProblem


@dataclass
class Start:
    name: str
    ks: np.ndarray
    dense: np.ndarray
    z: np.ndarray
    info: dict


def _fits(problem, ks, dense, mb, pb, tb=np.inf) -> bool:
    return bool(np.all(problem.config_totals(ks, dense) <= np.array([mb, pb, tb], float)))


def _tails(problem: AllocationProblem) -> np.ndarray:
    """T[l, k] = energy discarded when keeping k components (0 in the padding)."""
    F = max(L.full_rank for L in problem.layers)
    T = np.zeros((len(problem.layers), F))
    for i, e in enumerate(problem.energy):
        T[i, :len(e)] = np.cumsum(e[::-1])[::-1]
    return T


def energy_config(problem: AllocationProblem, e: float, T=None, floor=None) -> tuple[np.ndarray, np.ndarray]:
    """Energy-rule ranks at threshold e (at least 1), dense where the rank exceeds break-even
    (or the layer is in `floor`, dense flags)."""
    T = _tails(problem) if T is None else T
    r = np.maximum(1, (T > e).sum(1))
    dense = r > problem.break_even
    if floor is not None:
        dense = dense | floor
    return np.where(dense, problem.break_even, r), dense


def energy_start(problem: AllocationProblem, mac_budget=None, param_budget=None, latency_budget=None) -> Start:
    mb, pb, tb = problem.check_budgets(mac_budget, param_budget, latency_budget)
    floor = problem.latency_floor(mb, pb, tb)
    T = _tails(problem)
    cands = np.unique(np.concatenate([[0.0], T[(T > 0) & (T < 1)]]))
    lo, hi = 0, len(cands) - 1  # cost is non-increasing in e; cands[hi] gives rank <= 1 everywhere
    # at the largest threshold every rank is 1 (but the floor), which check_budgets found feasible
    while lo < hi:
        mid = (lo + hi) // 2
        if _fits(problem, *energy_config(problem, cands[mid], T, floor), mb, pb, tb):
            hi = mid
        else:
            lo = mid + 1
    ks, dense = energy_config(problem, cands[lo], T, floor)
    return Start("energy", ks, dense, problem.selection(ks, dense), {"e": float(cands[lo])})


def uniform_start(problem: AllocationProblem, mac_budget=None, param_budget=None, latency_budget=None) -> Start:
    mb, pb, tb = problem.check_budgets(mac_budget, param_budget, latency_budget)
    B = problem.break_even
    cands = np.unique(np.concatenate([np.arange(1, b + 1) / b for b in B] + [[0.0]]))
    no_dense = problem.latency_floor(mb, pb, tb)  # all False but where rank 1 is too slow

    def ks(f):
        return np.where(no_dense, B, np.maximum(1, np.floor(f * B + 1e-12).astype(int)))

    lo, hi = 0, len(cands) - 1  # largest feasible f; cands[0] = 0 gives rank 1 everywhere
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if _fits(problem, ks(cands[mid]), no_dense, mb, pb, tb):
            lo = mid
        else:
            hi = mid - 1
    k = ks(cands[lo])
    return Start("uniform", k, no_dense, problem.selection(k, no_dense), {"fraction": float(cands[lo])})


def greedy_start(problem: AllocationProblem, mac_budget=None, param_budget=None, latency_budget=None) -> Start:
    limits = np.array(problem.check_budgets(mac_budget, param_budget, latency_budget), float)
    finite = np.isfinite(limits)
    scale = np.where(finite, 1.0 / np.maximum(np.where(finite, limits, 1.0), 1e-300), 0.0)
    dense = problem.latency_floor(*limits)
    ks = np.where(dense, problem.break_even, 1)
    n = len(problem.layers)
    used = problem.config_totals(ks, dense)

    def move(i):
        """(gain, extra costs) of layer i's next step, or None."""
        return None if dense[i] else problem.step_costs(i, ks[i])

    def push(i):
        mv = move(i)
        if mv is not None:
            heapq.heappush(heap, (-mv[0] / max(float(scale @ mv[1]), 1e-300), i))

    heap = []
    for i in range(n):
        push(i)
    while heap:
        _, i = heapq.heappop(heap)
        gain, extra = move(i)
        if np.any(used + extra > limits):
            # the layer stops here: its later MAC and parameter steps cost at least as much (a
            # later latency step may cost less; the greedy does not look further)
            continue
        used = used + extra
        problem.step_up(ks, dense, i)
        push(i)
    return Start("greedy", ks, dense, problem.selection(ks, dense), {})


def starts(problem: AllocationProblem, mac_budget=None, param_budget=None, latency_budget=None) -> list[Start]:
    """The energy, uniform and greedy starts, in this order."""
    return [h(problem, mac_budget, param_budget, latency_budget) for h in (energy_start, uniform_start, greedy_start)]


def fixed_variables(starts: list[Start]) -> tuple[np.ndarray, np.ndarray]:
    """(mask, values): the variables every start sets alike (all keep: 1, all drop: 0), which
    COBLA fixes so that the SQP runs over the variables the heuristics disagree on."""
    Z = np.stack([s.z for s in starts])
    mask = (Z == Z[0]).all(0)
    return mask, Z[0].copy()
