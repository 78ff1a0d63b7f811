"""COBLA (Li & Shi, ECCV-18): constrained-optimization rank allocation under MAC and parameter
budgets (and, our addition, a budget on latency predicted from per-layer latency costs), and the
data-free budget allocator used by budgeted TRP.

problem     the 0-1 program: variables, linear costs with cost saturation, budgets
objective   sample cross-entropy of the masked network, with its gradient
heuristics  budget-tuned start points (energy rule, uniform fraction, greedy) and fixed variables
sqp         SLSQP on the relaxation
rounding    stochastic rounding, repair, fill: never over budget, as much of it as fits
milp        exact surrogate optimum (least discarded energy) by HiGHS
mckp        the same optimum by an exact multiple-choice-knapsack DP, milliseconds
allocate    allocate(...) and budget_ranks(...)
"""
from .allocate import METHODS, allocate, budget_ranks, spectra
from .heuristics import Start, energy_start, fixed_variables, greedy_start, starts, uniform_start
from .milp import MilpResult, solve_milp, surrogate
from .mckp import solve_mckp
from .objective import Objective
from .problem import AllocationProblem, InfeasibleBudget, Layer
from .rounding import RoundingResult, round_selection
from .sqp import SQPResult, solve_relaxation

__all__ = ["METHODS", "AllocationProblem", "InfeasibleBudget", "Layer", "MilpResult", "Objective", "RoundingResult",
           "SQPResult", "Start", "allocate", "budget_ranks", "energy_start",
           "fixed_variables", "greedy_start", "round_selection", "solve_mckp", "solve_milp",
           "solve_relaxation", "spectra", "starts", "surrogate", "uniform_start"]
