"""User-facing rank allocation under a MAC, parameter and/or latency budget (latency: from
per-layer latency costs given as numbers, e.g. `trp.deploy.latency_costs` of a measured table).

- `allocate`: COBLA on a trained network (method "sqp": heuristics -> fixed variables -> SQP on
  the sample loss -> rounding), or the exact surrogate optimum ("milp"), or the budget-tuned
  energy rule ("energy").
- `budget_ranks`: the data-free allocation from the sites' current weights, for budgeted TRP at
  every projection (cost structure cached; only the spectra change).
"""
import time
from collections import OrderedDict

import torch
from torch import nn

from .. import models
from ..lowrank import ConvSite, find_sites, to_matrix
from ..lowrank.svd import batched, float32_or_better
from .heuristics import energy_start, fixed_variables, starts
from .milp import solve_milp
from .objective import Objective
from .problem import AllocationProblem
from .rounding import round_selection
from .sqp import solve_relaxation

METHODS = ("sqp", "milp", "energy")


def _latency(problem: AllocationProblem, latency_costs, max_latency, latency_fixed_s: float = 0.0) -> None:
    if max_latency is not None and latency_costs is None:
        raise ValueError("max_latency needs latency_costs (per-layer seconds, e.g. trp.deploy.latency_costs)")
    if latency_costs is not None:
        problem.set_latency(latency_costs, latency_fixed_s)


def _budgets(problem: AllocationProblem, target_speedup, max_params, max_latency=None):
    mb = problem.budget_from_speedup(target_speedup) if target_speedup is not None else None
    if mb is None and max_params is None and max_latency is None:
        raise ValueError("no budget: give target_speedup, max_params or max_latency")
    problem.check_budgets(mb, max_params, max_latency)
    return mb, max_params, max_latency


def _summary(problem: AllocationProblem, z) -> dict:
    ranks, dense_layers = problem.ranks_from_selection(z)
    macs, params, seconds = problem.totals(z)
    return {"ranks": ranks, "dense_layers": dense_layers, "macs": int(round(macs)), "params": int(round(params)),
            "latency_s": float(seconds) if problem.has_latency else None}


def allocate(model: nn.Module, arch: str | None = None, scheme: str = "channel", target_speedup: float | None = None,
             max_params: float | None = None, method: str = "sqp", batches=None, seed: int = 0, maxiter: int = 60,
             trials: int = 10, sites: list[ConvSite] | None = None, input_size=None,
             device=None, latency_costs: dict | None = None, max_latency: float | None = None,
             latency_fixed_s: float = 0.0) -> dict:
    """Per-layer ranks meeting the budget(s): MACs at most dense / `target_speedup`, parameters
    at most `max_params`, both counting conv layers only (the TRP authors' convention), predicted
    seconds at most `max_latency`. `latency_costs`: {site: {"dense_s", "rank_s"}} for every site
    (`AllocationProblem.set_latency`; e.g. `trp.deploy.latency_costs(table, names)`), plus
    `latency_fixed_s` for the rest of the network; with them the result reports the predicted
    latency ("latency_s", "dense.latency_s", "latency_speedup"), with or without a latency
    budget. `batches`:
    the training sample of COBLA's objective, a list of (images, labels) batches (e.g.
    `trp.data.sample_batches`); needed for "sqp"; for the others, when given, the sample loss
    is reported. `sites` and
    `input_size` default to those of `arch`. The heuristic starts (filled up to the budget)
    compete with the `trials` rounded SQP solutions, so the result is never worse on the sample
    than the best start (not in COBLA)."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    if method == "sqp" and batches is None:
        raise ValueError("method 'sqp' needs batches (a training sample) for its objective")
    t_all = time.perf_counter()
    timings = {}
    size = input_size if input_size is not None else models.input_size(arch)
    if sites is None:
        paper_convs = {"kernel_sizes": models.kernels(arch), "exclude": (models.stem(arch),)} if arch else {}
        sites = find_sites(model, size, scheme, **paper_convs)
    t = time.perf_counter()
    problem = AllocationProblem.from_model(model, sites, scheme, size)
    timings["svd_and_costs"] = time.perf_counter() - t
    _latency(problem, latency_costs, max_latency, latency_fixed_s)
    mb, pb, tb = _budgets(problem, target_speedup, max_params, max_latency)

    t = time.perf_counter()
    heur = starts(problem, mb, pb, tb)
    timings["heuristics"] = time.perf_counter() - t
    energy = heur[0]
    dense_macs, dense_params = problem.dense_total
    dense_latency = problem.dense_latency_total if problem.has_latency else None
    out = {"method": method, "scheme": scheme, "arch": arch, "convention": "conv",
           "budget": {"macs": None if mb is None else float(mb), "params": None if pb is None else float(pb),
                      "target_speedup": target_speedup, "latency_s": None if tb is None else float(tb)},
           "dense": {"macs": int(dense_macs), "params": int(dense_params), "latency_s": dense_latency},
           "starts": {s.name: {**_summary(problem, s.z), **s.info} for s in heur},
           "objective": {}, "solver": {}}

    objective = None
    if batches is not None:
        objective = Objective(model, problem, batches, device)

    if method == "energy":
        z = energy.z
    elif method == "milp":
        t = time.perf_counter()
        r = solve_milp(problem, mb, pb, latency_budget=tb)
        timings["milp"] = time.perf_counter() - t
        z = r.z
        out["milp"] = {"value": r.value, "message": r.message, "status": r.status}
    else:
        mask, _ = fixed_variables(heur)
        res = solve_relaxation(problem, objective, energy.z, mask, mb, pb, maxiter=maxiter, latency_budget=tb)
        timings["sqp"] = res.seconds
        out["solver"] = {"nit": res.nit, "nfev": res.nfev, "n_vars": problem.n_vars, "n_free": res.n_free,
                         "success": res.success, "message": res.message, "f_final_iterate": res.f_final_iterate}
        t = time.perf_counter()
        extra = [(f"start:{h.name}", h.ks, h.dense) for h in heur]
        rnd = round_selection(problem, res.z, mb, pb, trials, seed, evaluate=objective.loss, extra=extra,
                              latency_budget=tb)
        timings["rounding"] = time.perf_counter() - t
        z = rnd.z
        out["objective"] = {"start": res.f_start, "relaxed": res.f_end, "rounded": rnd.score}
        out["rounding"] = {"best_trial": rnd.best_trial, "winner": rnd.trials[rnd.best_trial]["source"],
                           "trials": trials, "candidates": len(rnd.trials),
                           "distinct": len({(tuple(r["ks"]), tuple(r["dense"])) for r in rnd.trials})}
    if objective is not None and method != "sqp":
        out["objective"] = {"start": objective.loss(energy.z), "end": objective.loss(z)}
    if objective is not None:
        out["objective"].update({"sample": objective.n, "evaluations": objective.evaluations,
                                 "seconds": objective.seconds})
    out.update(_summary(problem, z))
    out["speedup"] = dense_macs / out["macs"]
    out["param_ratio"] = dense_params / out["params"]
    out["latency_speedup"] = dense_latency / out["latency_s"] if problem.has_latency and out["latency_s"] > 0 else None
    timings["total"] = time.perf_counter() - t_all
    out["timings"] = timings
    return out


# ---------------------------------------------------------------------------- budgeted TRP
_CACHE: "OrderedDict[tuple, AllocationProblem]" = OrderedDict()


def _structure(sites, scheme, fixed_macs) -> AllocationProblem:
    key = (scheme, float(fixed_macs),
           tuple((s.name, id(s.conv), tuple(s.conv.weight.shape), tuple(s.in_hw), tuple(s.out_hw), s.break_even)
                 for s in sites))
    if key not in _CACHE:
        _CACHE[key] = AllocationProblem.from_sites(sites, scheme, fixed_macs, with_svd=False)
        while len(_CACHE) > 16:
            _CACHE.popitem(last=False)
    _CACHE.move_to_end(key)
    return _CACHE[key]


def spectra(weights: list[torch.Tensor], scheme: str) -> list[torch.Tensor]:
    """Singular values of each matricized weight (float32 or better), batched over equal shapes."""
    with torch.no_grad():
        return batched(lambda W: torch.linalg.svdvals(to_matrix(float32_or_better(W), scheme)), weights)


def budget_ranks(sites: list[ConvSite], scheme: str, mac_budget: float | None = None, method: str = "milp",
                 fixed_macs: float = 0, singular_values=None, target_speedup: float | None = None,
                 latency_costs: dict | None = None, max_latency: float | None = None,
                 latency_fixed_s: float = 0.0) -> dict[str, int]:
    """{layer: rank} from the sites' current weights meeting the MAC budget, for budgeted TRP.
    The budget counts the sites plus the constant `fixed_macs` (by default 0: a budget on the
    sites alone); `target_speedup` sets mac_budget = all-dense MACs / target. `max_latency`:
    a budget on predicted seconds, from `latency_costs` of every site plus `latency_fixed_s`
    (as in `allocate`), alone or beside the MAC budget.
    method "milp": the exact surrogate optimum (least discarded normalized energy); "energy":
    the energy rule with the threshold that fits. Layers that stay dense get their full rank
    (no projection). `singular_values`: the sites' spectra if already computed."""
    problem = _structure(sites, scheme, fixed_macs)
    live = [s for s in sites if s.name not in problem.always_dense]
    if singular_values is None:
        S = spectra([s.conv.weight for s in live], scheme)
    else:
        by_name = dict(zip([s.name for s in sites], singular_values))
        S = [by_name[s.name] for s in live]
    problem.set_spectra(S)
    _latency(problem, latency_costs, max_latency, latency_fixed_s)
    if target_speedup is not None:
        if mac_budget is not None:
            raise ValueError("give target_speedup or mac_budget, not both")
        mac_budget = problem.budget_from_speedup(target_speedup)
    if method == "milp":
        z = solve_milp(problem, mac_budget, latency_budget=max_latency).z
    elif method == "energy":
        z = energy_start(problem, mac_budget, None, max_latency).z
    else:
        raise ValueError(f"unknown method {method!r}; choose 'milp' or 'energy'")
    ranks, _ = problem.ranks_from_selection(z, dense_rank="full")
    ranks.update({s.name: s.full_rank for s in sites if s.name in problem.always_dense})
    return ranks
