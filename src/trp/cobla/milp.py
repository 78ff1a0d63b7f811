"""Exact solution of COBLA's 0-1 program with a data-free surrogate objective, by HiGHS
(`scipy.optimize.milp`).

Surrogate: the discarded normalized energy, sum_l sum_j (1 - m_lj) s_lj^2 / ||W_l||_F^2 with
m_lj the component's coefficient in the masked weight (x_lj + d_l for j < B_l, d_l beyond),
which is linear: sum_l (1 - d_l - sum_j e_lj x_lj) (a dense layer discards nothing).
Constraints: the budgets (MACs, parameters, and predicted latency where the problem has latency
costs), x_lj <= 1 - d_l, x_l0 + d_l = 1 (rank >= 1), and prefixes x_lj >= x_l,j+1 (so a
solution is a per-layer rank, as the decomposition keeps the leading components). With the
prefixes, the latency row (per-component increments) is exact, not a linearisation: rank k
costs the table's time at rank k. MACs and parameters are integers, and so is latency counted in
units of LATENCY_QUANTUM (~1 ps; HiGHS's feasibility tolerance is absolute): every budget row is
exact; a solution is re-checked exactly.
"""
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from .mckp import solve_mckp
from .problem import LATENCY_QUANTUM, AllocationProblem


MIP_REL_GAP = 1e-9  # HiGHS's relative optimality gap: an optimum, not a good solution
SOLVERS = ("auto", "highs", "dp")


@dataclass
class MilpResult:
    z: np.ndarray
    value: float        # discarded normalized energy at the optimum
    status: int
    message: str


def surrogate(problem: AllocationProblem) -> tuple[np.ndarray, float]:
    """(c, constant) with discarded energy = constant + c @ z."""
    c = np.zeros(problem.n_vars)
    const = 0.0
    for L, e in zip(problem.layers, problem.energy):
        total = e.sum()
        c[L.offset:L.d_index] = -e[:L.break_even]
        c[L.d_index] = -total
        const += total
    return c, const


def _structure(problem: AllocationProblem, with_params: bool, with_latency: bool = False):
    """The constraint matrix without the budgets' right-hand sides, cached on the problem; rows:
    MACs, params (if `with_params`), latency in LATENCY_QUANTUM units (if `with_latency`)."""
    cache = problem.__dict__.setdefault("_milp_cache", {})
    key = (with_params, with_latency)
    if key not in cache:
        budget = [problem.macs_row[None, :]] + ([problem.params_row[None, :]] if with_params else []) \
            + ([problem.latency_row[None, :] / LATENCY_QUANTUM] if with_latency else [])
        A = sp.vstack([sp.csr_matrix(np.vstack(budget)), problem.coupling, problem.min_rank, problem.prefix]).tocsr()
        nb = len(budget)
        lb = np.concatenate([np.full(nb, -np.inf), np.full(problem.coupling.shape[0], -np.inf),
                             np.ones(problem.min_rank.shape[0]), np.zeros(problem.prefix.shape[0])])
        ub = np.concatenate([np.zeros(nb), np.ones(problem.coupling.shape[0]), np.ones(problem.min_rank.shape[0]),
                             np.full(problem.prefix.shape[0], np.inf)])
        cache[key] = (A, lb, ub, nb)
    return cache[key]


def solve_milp(problem: AllocationProblem, mac_budget=None, param_budget=None, solver: str = "auto",
               latency_budget=None) -> MilpResult:
    """Minimize the discarded energy under the budgets (`latency_budget`: seconds, with latency
    costs set on the problem). solver "highs": HiGHS branch and bound; "dp": the exact DP of
    `mckp.py` (one binding budget only; raises otherwise); "auto": the DP where it applies, else
    HiGHS."""
    mb, pb, tb = problem.check_budgets(mac_budget, param_budget, latency_budget)
    if solver not in SOLVERS:
        raise ValueError(f"unknown solver {solver!r}; choose one of {SOLVERS}")
    if solver != "highs":
        r = solve_mckp(problem, mac_budget, param_budget, latency_budget)
        if r is not None:
            z = problem.selection(r.ks, r.dense)
            return MilpResult(z, r.value, 0, f"exact DP (multiple-choice knapsack, {r.states} states at most)")
        if solver == "dp":
            raise ValueError("the DP solves one binding budget only; several budgets bind here")
    with_params = bool(np.isfinite(pb))
    with_latency = bool(np.isfinite(tb))
    A, lb, ub, nb = _structure(problem, with_params, with_latency)
    ub = ub.copy()
    ub[0] = mb - problem.fixed_macs if np.isfinite(mb) else np.inf
    if with_params:
        ub[1] = pb - problem.fixed_params
    if with_latency:
        ub[nb - 1] = (tb - problem.fixed_latency) / LATENCY_QUANTUM  # an integer
    c, const = surrogate(problem)
    bounds = Bounds(np.zeros(problem.n_vars), np.ones(problem.n_vars))
    for _ in range(3):
        res = milp(c, integrality=np.ones(problem.n_vars), bounds=bounds, constraints=LinearConstraint(A, lb, ub),
                   options={"mip_rel_gap": MIP_REL_GAP, "presolve": True})
        if res.x is None:
            raise RuntimeError(f"MILP found no solution: {res.message}")
        z = np.round(res.x)
        if problem.feasible(z, mb, pb, tb):
            break
        # a solution within HiGHS's tolerance but over a budget by a MAC (a quantum): tighten, resolve
        ub[:nb] -= 1
    else:
        raise RuntimeError("MILP solutions kept exceeding the budget")
    problem.config(z)  # checks 0/1 prefixes
    return MilpResult(z, float(const + c @ z), int(res.status), str(res.message))
