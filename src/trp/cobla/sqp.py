"""COBLA's relaxation solved by sequential quadratic programming: scipy's SLSQP (quasi-Newton
BFGS Hessian, line search) over the variables the heuristics disagree on, within [0, 1], under
the budgets (MACs, parameters, predicted latency where given; rows scaled by the budget),
x_j + d <= 1, and x_0 + d = 1.

The point returned is the best feasible point the solver evaluated (never worse than the start,
which is feasible); SLSQP's own final iterate and message are recorded alongside.
"""
import time
from dataclasses import dataclass

import numpy as np
from scipy.optimize import minimize

from .problem import AllocationProblem


@dataclass
class SQPResult:
    z: np.ndarray              # best feasible relaxed point evaluated (full vector)
    f_start: float
    f_end: float               # objective at z
    f_final_iterate: float     # objective at SLSQP's final iterate (may be marginally infeasible)
    nit: int
    nfev: int
    n_free: int
    success: bool
    message: str
    seconds: float


def _reduce(A, b, free, z0):
    """Rows A z <= b over the free variables, fixed ones substituted; rows without any free
    variable dropped (the start satisfies them)."""
    A = A.tocsr() if hasattr(A, "tocsr") else np.atleast_2d(A)
    Af = A[:, free]
    Af = Af.toarray() if hasattr(Af, "toarray") else np.asarray(Af)
    rest = A[:, ~free] @ z0[~free]
    keep = np.abs(Af).sum(1) > 0
    return Af[keep], (b - rest)[keep]


def solve_relaxation(problem: AllocationProblem, objective, start: np.ndarray, fixed_mask: np.ndarray,
                     mac_budget=None, param_budget=None, maxiter: int = 60, ftol: float = 1e-6,
                     feas_tol: float = 1e-7, latency_budget=None) -> SQPResult:
    t0 = time.perf_counter()
    mb, pb, tb = problem.check_budgets(mac_budget, param_budget, latency_budget)
    z0 = np.asarray(start, float).copy()
    if not problem.feasible(z0, mb, pb, tb):
        raise ValueError("the start point exceeds the budget")
    free = ~np.asarray(fixed_mask, bool)
    n_free = int(free.sum())
    f0, g0 = objective(z0) if n_free else (objective.loss(z0), None)
    if n_free == 0:
        return SQPResult(z0, f0, f0, f0, 0, 1, 0, True, "no free variables", time.perf_counter() - t0)

    rows, rhs = [], []
    for row, budget, fixed in ((problem.macs_row, mb, problem.fixed_macs), (problem.params_row, pb, problem.fixed_params),
                               (problem.latency_row, tb, problem.fixed_latency)):
        if np.isfinite(budget):
            scale = budget if budget > 0 else 1.0
            rows.append(row[None, :] / scale)
            rhs.append(np.array([(budget - fixed) / scale]))
    G, h = _reduce(np.vstack(rows), np.concatenate(rhs), free, z0)
    C, c = _reduce(problem.coupling, np.ones(problem.coupling.shape[0]), free, z0)
    E, e = _reduce(problem.min_rank, np.ones(problem.min_rank.shape[0]), free, z0)
    G, h = np.vstack([G, C]), np.concatenate([h, c])

    best = [f0, z0.copy()]

    def full(y):
        z = z0.copy()
        z[free] = np.clip(y, 0.0, 1.0)
        return z

    def fun(y):
        z = full(y)
        f, g = (f0, g0) if np.array_equal(z, z0) else objective(z)
        viol = max(0.0, float((G @ z[free] - h).max(initial=0.0)), float(np.abs(E @ z[free] - e).max(initial=0.0)))
        if viol <= feas_tol and problem.feasible(z, mb * (1 + feas_tol), pb * (1 + feas_tol), tb * (1 + feas_tol)) \
                and f < best[0]:
            best[0], best[1] = f, z.copy()
        return f, g[free]

    cons = [{"type": "ineq", "fun": lambda y: h - G @ y, "jac": lambda y: -G}]
    if len(e):
        cons.append({"type": "eq", "fun": lambda y: E @ y - e, "jac": lambda y: E})
    res = minimize(fun, z0[free], jac=True, method="SLSQP", bounds=[(0.0, 1.0)] * n_free, constraints=cons,
                   options={"maxiter": maxiter, "ftol": ftol})
    f_final = float(res.fun) if np.isfinite(res.fun) else float("nan")
    return SQPResult(best[1], f0, best[0], f_final, int(res.nit), int(res.nfev), n_free, bool(res.success),
                     str(res.message), time.perf_counter() - t0)
