"""From COBLA's relaxed solution to a 0-1 allocation that never exceeds a budget (MACs,
parameters, and predicted latency where the problem has latency costs) and uses as much of them
as it can.

Per layer, with m_j the component's coefficient in the relaxed weight (x_j + d for j < B):
1. round: dense with probability d (trial 0: d >= 0.5), else rank K = stochastic rounding of the
   relaxed mass sum_{j<B} m_j (trial 0: nearest), clipped to [1, B]; the layer keeps the
   leading K components of its SVD (a prefix: what the two-conv decomposition keeps);
2. repair: while over a budget, undo the step with the lowest relaxed value per unit of the
   cost that is over (drop a layer's last component: value m_{K-1}; turn a dense layer into
   rank B: value d), ties: the least energy first; a step that saves nothing of what is over
   (undoing a dense switch that was faster) is taken only when no other is left: each step moves
   down, so this ends, at worst at rank 1 everywhere, which `check_budgets` found to fit (where
   rank 1 everywhere is too slow for a latency budget, the layers of the problem's
   `latency_floor` are made dense first and never undone: the floor fits);
3. fill: while some step fits every budget, take the one with the highest relaxed value (add
   component K: value m_K; turn a rank-B layer dense: value d), ties: the most energy first.
Several seeded trials; each distinct result is scored with the objective (COBLA: the loss on
the sample) and the best one returned.
"""
from dataclasses import dataclass, field

import numpy as np

from .problem import AllocationProblem


@dataclass
class RoundingResult:
    z: np.ndarray
    ks: np.ndarray
    dense: np.ndarray
    score: float                  # objective (or minus the retained relaxed mass without one)
    best_trial: int
    trials: list = field(default_factory=list)  # per trial: source, ranks, dense, macs, params, [latency_s,] score


def _initial(problem, masks, d, rng):
    ks, dense = [], []
    for L, m, dl in zip(problem.layers, masks, d):
        mass = m[:L.break_even].sum()
        if rng is None:
            is_dense, k = dl >= 0.5, int(np.floor(mass + 0.5))
        else:
            is_dense = rng.random() < dl
            k = int(np.floor(mass)) + int(rng.random() < mass - np.floor(mass))
        dense.append(bool(is_dense))
        ks.append(L.break_even if is_dense else int(np.clip(k, 1, L.break_even)))
    return np.array(ks, int), np.array(dense, bool)


def _limits(mb, pb, tb) -> np.ndarray:
    return np.array([mb, pb, tb], float)


def repair(problem: AllocationProblem, ks, dense, masks, d, mb, pb, tb=np.inf, floor=None):
    ks, dense = ks.copy(), dense.copy()
    limits = _limits(mb, pb, tb)
    floor = np.zeros(len(ks), bool) if floor is None else floor
    while True:
        over = problem.config_totals(ks, dense) > limits
        if not over.any():
            return ks, dense
        weight = np.where(over, 1.0 / np.maximum(np.where(over, limits, 1.0), 1e-300), 0.0)
        best, fallback = None, None
        for i, L in enumerate(problem.layers):
            if floor[i]:
                continue
            if dense[i]:  # undo the dense switch from rank B
                energy, costs = problem.step_costs(i, L.break_even)
                value = d[i]
            elif ks[i] > 1:  # drop component K - 1
                energy, costs = problem.step_costs(i, ks[i] - 1)
                value = masks[i][ks[i] - 1]
            else:
                continue
            saving = float(weight @ costs)
            if saving <= 0:
                fallback = fallback if fallback is not None else i
                continue
            key = (value / saving, energy)
            if best is None or key < best[0]:
                best = (key, i)
        i = best[1] if best is not None else fallback
        if i is None:
            raise RuntimeError("cannot meet the budget even at rank 1 everywhere")
        if dense[i]:
            dense[i] = False
        else:
            ks[i] -= 1


def fill(problem: AllocationProblem, ks, dense, masks, d, mb, pb, tb=np.inf):
    ks, dense = ks.copy(), dense.copy()
    limits = _limits(mb, pb, tb)
    used = problem.config_totals(ks, dense)
    while True:
        best = None
        for i, L in enumerate(problem.layers):
            if dense[i]:
                continue
            energy, costs = problem.step_costs(i, ks[i])
            key = (masks[i][ks[i]] if ks[i] < L.break_even else d[i], energy)
            if np.all(used + costs <= limits) and (best is None or key > best[0]):
                best = (key, i, costs)
        if best is None:
            return ks, dense
        _, i, costs = best
        used = used + costs
        problem.step_up(ks, dense, i)


def round_selection(problem: AllocationProblem, z_relaxed, mac_budget=None, param_budget=None, trials: int = 10,
                    seed: int = 0, evaluate=None, extra=(), latency_budget=None) -> RoundingResult:
    """`trials` roundings (the first deterministic), repaired and filled; the best by `evaluate`
    (a function of the 0-1 vector z, lower is better), or by the retained relaxed mass.
    `extra`: further 0-1 candidates (name, ranks, dense), e.g. the heuristic starts, filled the
    same way and competing with the trials (their records carry the name)."""
    mb, pb, tb = problem.check_budgets(mac_budget, param_budget, latency_budget)
    z_relaxed = np.clip(np.asarray(z_relaxed, float), 0.0, 1.0)
    masks = problem.effective_masks(z_relaxed)
    d = np.array([z_relaxed[L.d_index] for L in problem.layers])
    rng = np.random.default_rng(seed)
    floor = problem.latency_floor(mb, pb, tb)
    seen, records = {}, []
    candidates = [(t, None) for t in range(trials)] + [(trials + i, e) for i, e in enumerate(extra)]
    for t, given in candidates:
        if given is None:
            ks, dense = _initial(problem, masks, d, None if t == 0 else rng)
        else:
            ks, dense = np.asarray(given[1], int).copy(), np.asarray(given[2], bool).copy()
        dense = dense | floor
        ks = np.where(floor, problem.break_even, ks)
        ks, dense = fill(problem, *repair(problem, ks, dense, masks, d, mb, pb, tb, floor), masks, d, mb, pb, tb)
        key = (tuple(ks), tuple(dense))
        z = problem.selection(ks, dense)
        if key not in seen:
            if evaluate is not None:
                score = float(evaluate(z))
            else:
                score = -float(sum(m.sum() if dn else m[:k].sum() for m, k, dn in zip(masks, ks, dense)))
            seen[key] = score
        macs, params, seconds = problem.totals(z)
        records.append({"trial": t, "source": "rounding" if given is None else given[0], "ks": ks.tolist(),
                        "dense": dense.tolist(), "macs": float(macs), "params": float(params),
                        **({"latency_s": float(seconds)} if problem.has_latency else {}), "score": seen[key]})
    best = min(records, key=lambda r: (r["score"], r["trial"]))
    ks, dense = np.array(best["ks"]), np.array(best["dense"])
    z = problem.selection(ks, dense)
    if not problem.feasible(z, mb, pb, tb):
        raise RuntimeError("rounded allocation exceeds the budget")
    return RoundingResult(z, ks, dense, best["score"], best["trial"], records)
