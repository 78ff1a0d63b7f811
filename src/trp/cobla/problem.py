"""The COBLA allocation problem (Li & Shi, ECCV-18): one 0-1 variable per singular component,
MACs and parameters linear in them, with cost saturation.

Per decomposable layer l (a `ConvSite`) with spectrum s_0 >= s_1 >= ... and break-even rank B_l:
  x_lj, j < B_l   keep singular component j (components j >= B_l are never worth keeping: at that
                  rank the decomposed layer costs at least as much as the dense one),
  d_l             the layer stays dense (cost saturation), with x_lj <= 1 - d_l.
Layer cost = d_l * dense + sum_j x_lj * c_l (c_l: MACs or parameters of one component). Every
layer keeps at least rank 1 (x_l0 + d_l = 1): rank 0 cannot be decomposed into two convs.
Layers with B_l = 0 (no rank saves MACs) and convs that are not sites (the stem) are constant
costs. MACs and parameters (from `lowrank.cost`) count the conv layers only, the TRP authors'
convention. The variables form one vector z: layer l's x's at `offset[l]:offset[l]+B_l`, its d
at `d_index[l]`.

Latency (optional, `set_latency`): per-layer seconds, rank k = 1..B_l and dense, given as plain
numbers (e.g. `trp.deploy.latency_costs` of a measured layer table). Rank k costs
sum_{j<k} delta_lj (delta_l0 = t_l(1), delta_lj = t_l(j+1) - t_l(j)), dense costs t_l(dense): a
third linear row, exact at every 0-1 prefix selection. Every cost comes as a vector
(MACs, params, latency) from `totals`, `config_totals` and `step_costs`; `cost`, `config_cost`
and `step` give the first two.
"""
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from ..config import ConfigError
from ..lowrank import ConvSite, conv_macs, conv_params, model_cost, to_matrix
from ..lowrank.svd import batched_svd


class InfeasibleBudget(ConfigError):
    """No allocation meets the budget: even rank 1 in every decomposable layer exceeds it (for a
    latency budget: even the fastest allocation within the other budgets; `latency_floor`). A user
    error: the command line reports it in one line."""


LATENCY_QUANTUM = 2.0 ** -40  # seconds (~0.9 ps): latencies are multiples of it, so sums are exact


def _exact_seconds(v) -> np.ndarray:
    """Seconds rounded to multiples of LATENCY_QUANTUM: every sum of such numbers below 2^13 s is
    exact in float64 (as MAC counts are), whatever the order of summation, so the heuristics'
    per-configuration latency and the row's latency agree to the last bit."""
    return np.round(np.asarray(v, float) / LATENCY_QUANTUM) * LATENCY_QUANTUM


@dataclass
class Layer:
    """Cost structure of one decomposable layer (no spectrum)."""
    name: str
    full_rank: int
    break_even: int         # B: number of x variables
    comp_macs: int          # MACs of one singular component
    comp_params: int        # rows + cols of the matrix
    dense_macs: int
    dense_params: int       # weight numel (the bias is a constant, counted in fixed_params)
    offset: int = 0         # index of x_0 in z
    d_index: int = 0        # index of d in z


@dataclass
class AllocationProblem:
    """The linear cost structure plus (optionally refreshed) spectra of the sites."""
    scheme: str
    layers: list[Layer]
    always_dense: list[str]          # sites with break_even 0
    fixed_macs: float                # constant MACs (non-site convs, always-dense sites)
    fixed_params: float
    fixed_latency: float = 0.0       # constant seconds (set_latency: fixed_s and the always-dense sites)
    has_latency: bool = False        # set_latency was called
    # set by set_latency: per layer, the (monotone) seconds at rank 1..B (dense: `dense_latency`)
    rank_latency: list = field(default_factory=list)
    # set by set_spectra: per layer, the float64 numpy normalized energies s_j^2 / sum s^2
    energy: list = field(default_factory=list)
    svd: list = field(default_factory=list)   # per layer (U, S, Vh) torch tensors, or empty

    # ---------------------------------------------------------------- construction
    @classmethod
    def from_sites(cls, sites: list[ConvSite], scheme: str, fixed_macs: float = 0, fixed_params: float = 0,
                   with_svd: bool = True) -> "AllocationProblem":
        """Cost structure of `sites`; constant costs given by the caller. With `with_svd`, one
        batched full SVD of the sites' current weights."""
        layers, always_dense = [], []
        fixed_macs, fixed_params = float(fixed_macs), float(fixed_params)
        offset = 0
        for s in sites:
            conv = s.conv
            dense_macs, dense_params = conv_macs(conv, None, None, s.out_hw), conv_params(conv, None, None)
            if s.break_even < 1:
                always_dense.append(s.name)
                fixed_macs += dense_macs
                fixed_params += dense_params
                continue
            bias = dense_params - conv.weight.numel()
            fixed_params += bias
            layers.append(Layer(s.name, s.full_rank, s.break_even,
                                conv_macs(conv, 1, scheme, s.out_hw, s.in_hw), conv_params(conv, 1, scheme) - bias,
                                dense_macs, dense_params - bias, offset, offset + s.break_even))
            offset += s.break_even + 1
        prob = cls(scheme, layers, always_dense, fixed_macs, fixed_params)
        prob._build_rows()
        if with_svd:
            prob.set_weights([s.conv.weight for s in sites if s.name not in always_dense])
        return prob

    @classmethod
    def from_arrays(cls, full_rank, break_even, comp_macs, comp_params, dense_macs, dense_params, singular_values,
                    fixed_macs: float = 0, fixed_params: float = 0) -> "AllocationProblem":
        """A problem from raw per-layer numbers (for tests); break_even >= 1, layers named layer0..."""
        layers, offset = [], 0
        names = [f"layer{i}" for i in range(len(full_rank))]
        for name, F, B, cm, cp, dm, dp in zip(names, full_rank, break_even, comp_macs, comp_params, dense_macs,
                                              dense_params):
            if not 1 <= B < F:
                raise ValueError(f"{name}: break_even {B} must lie in [1, full_rank)")
            layers.append(Layer(name, int(F), int(B), cm, cp, dm, dp, offset, offset + B))
            offset += B + 1
        prob = cls("channel", layers, [], float(fixed_macs), float(fixed_params))
        prob._build_rows()
        prob.set_spectra([torch.as_tensor(np.sort(np.abs(np.asarray(s, float)))[::-1].copy()) for s in singular_values])
        return prob

    @classmethod
    def from_model(cls, model: nn.Module, sites: list[ConvSite], scheme: str, input_size) -> "AllocationProblem":
        """As `from_sites`, with the constant costs (the conv MACs and conv parameters outside the
        sites) measured on the dense `model`."""
        cost = model_cost(model, input_size)
        site_macs = sum(conv_macs(s.conv, None, None, s.out_hw) for s in sites)
        site_params = sum(conv_params(s.conv, None, None) for s in sites)
        return cls.from_sites(sites, scheme, cost["conv_macs"] - site_macs, cost["conv_params"] - site_params)

    def _build_rows(self) -> None:
        n = self.n_vars
        self.macs_row = np.zeros(n)
        self.params_row = np.zeros(n)
        self.latency_row = np.zeros(n)  # zero until set_latency
        self.dense_latency = np.zeros(len(self.layers))
        for L in self.layers:
            self.macs_row[L.offset:L.d_index] = L.comp_macs
            self.params_row[L.offset:L.d_index] = L.comp_params
            self.macs_row[L.d_index] = L.dense_macs
            self.params_row[L.d_index] = L.dense_params
        self.comp_macs = np.array([L.comp_macs for L in self.layers], float)
        self.comp_params = np.array([L.comp_params for L in self.layers], float)
        self.dense_macs = np.array([L.dense_macs for L in self.layers], float)
        self.dense_params = np.array([L.dense_params for L in self.layers], float)
        self.break_even = np.array([L.break_even for L in self.layers], int)
        # x_j + d <= 1 (one row per x) and x_0 + d = 1 (one row per layer)
        rows, cols = [], []
        r = 0
        for L in self.layers:
            for j in range(L.break_even):
                rows += [r, r]
                cols += [L.offset + j, L.d_index]
                r += 1
        self.coupling = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(r, n))
        rows = [i for i in range(len(self.layers)) for _ in range(2)]
        cols = [c for L in self.layers for c in (L.offset, L.d_index)]
        self.min_rank = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(self.layers), n))
        # prefix: x_j - x_{j+1} >= 0
        rows, cols, vals = [], [], []
        r = 0
        for L in self.layers:
            for j in range(L.break_even - 1):
                rows += [r, r]
                cols += [L.offset + j, L.offset + j + 1]
                vals += [1.0, -1.0]
                r += 1
        self.prefix = sp.csr_matrix((vals, (rows, cols)), shape=(r, n))

    def set_latency(self, costs: dict, fixed_s: float = 0.0) -> "AllocationProblem":
        """Latency costs (seconds) of exactly this problem's layers and always-dense sites:
        {name: {"dense_s": seconds dense, "rank_s": seconds at rank k = 1.. (entry k-1), at least
        up to the layer's break-even rank}} (the form of `trp.deploy.latency_costs`), plus `fixed_s`
        for the rest of the network. Builds `latency_row`: x_lj costs delta_lj, d_l costs the dense
        seconds. Measured tables are noisy, so each layer's rank_s is first made non-decreasing by a
        running maximum (a rank never counts as faster than a smaller one; the prediction is an
        upper bound of the raw table's): every increment delta_lj is then >= 0, as the heuristics'
        bisections, `latency_floor` and the repair's savings assume; only the dense switch can
        save time (a dense conv faster than its decomposed form). Seconds are rounded to
        multiples of LATENCY_QUANTUM (~1 ps)."""
        want = self.names + list(self.always_dense)
        missing = [n for n in want if n not in costs]
        extra = sorted(set(costs) - set(want))
        if missing or extra:
            raise ValueError("latency costs do not match the layers: "
                             + "; ".join(([f"missing {missing}"] if missing else [])
                                         + ([f"not decomposable layers of this problem: {extra}"] if extra else [])))
        fixed = float(fixed_s)
        for n in self.always_dense:
            fixed += float(costs[n]["dense_s"])
        row = self.latency_row.copy()
        ranks, dense = [], []
        for L in self.layers:
            c = costs[L.name]
            t = np.asarray(c["rank_s"], float).ravel()
            td = float(c["dense_s"])
            if len(t) < L.break_even:
                raise ValueError(f"latency costs of {L.name} cover ranks 1..{len(t)}, but its break-even rank is "
                                 f"{L.break_even}")
            t = t[:L.break_even]
            if not (np.all(np.isfinite(t)) and np.all(t >= 0) and np.isfinite(td) and td >= 0):
                raise ValueError(f"latency costs of {L.name} must be finite and >= 0")
            t = _exact_seconds(np.maximum.accumulate(t))
            ranks.append(t)
            dense.append(float(_exact_seconds(td)))
            row[L.offset:L.d_index] = np.diff(t, prepend=0.0)
            row[L.d_index] = dense[-1]
        fixed = float(_exact_seconds(fixed))
        if not (self.has_latency and np.array_equal(row, self.latency_row) and fixed == self.fixed_latency):
            self.__dict__.pop("_milp_cache", None)  # the MILP's constraint matrix holds the row
            self.__dict__.pop("_floor_cache", None)
        self.latency_row, self.rank_latency, self.dense_latency = row, ranks, np.array(dense, float)
        self.fixed_latency, self.has_latency = fixed, True
        return self

    def set_weights(self, weights: list[torch.Tensor]) -> None:
        """Full SVDs (batched) of the layers' current weights."""
        with torch.no_grad():
            self.svd = batched_svd([to_matrix(w, self.scheme) for w in weights])
        self.set_spectra([S for _, S, _ in self.svd], keep_svd=True)

    def set_spectra(self, singular_values, keep_svd: bool = False) -> None:
        """Only the spectra (all that the surrogate and the heuristics need)."""
        if len(singular_values) != len(self.layers):
            raise ValueError(f"{len(singular_values)} spectra for {len(self.layers)} layers")
        self.energy = []
        for S in singular_values:
            s2 = np.asarray(torch.as_tensor(S).detach().cpu().double()) ** 2
            tot = s2.sum()
            self.energy.append(s2 / tot if tot > 0 else np.zeros_like(s2))
        if not keep_svd:
            self.svd = []

    # ---------------------------------------------------------------- sizes and budgets
    @property
    def n_vars(self) -> int:
        return sum(L.break_even + 1 for L in self.layers)

    @property
    def names(self) -> list[str]:
        return [L.name for L in self.layers]

    @property
    def dense_total(self) -> tuple[float, float]:
        """(MACs, params) of the network with every layer dense."""
        return self.fixed_macs + self.dense_macs.sum(), self.fixed_params + self.dense_params.sum()

    @property
    def min_total(self) -> tuple[float, float]:
        """(MACs, params) with every layer at rank 1: the cheapest allocation (a dense layer
        costs more MACs than B components, and, for any conv whose matrix has both sides >= 2,
        more parameters than one component)."""
        return self.fixed_macs + self.comp_macs.sum(), self.fixed_params + self.comp_params.sum()

    @property
    def min_latency(self) -> float:
        """Predicted seconds with every layer at rank 1 (set_latency)."""
        return self.fixed_latency + sum(float(t[0]) for t in self.rank_latency)

    @property
    def dense_latency_total(self) -> float:
        """Predicted seconds with every layer dense (set_latency)."""
        return self.fixed_latency + float(self.dense_latency.sum())

    def budget_from_speedup(self, target: float) -> float:
        """MAC budget for a speedup = dense MACs / decomposed MACs of `target`."""
        if target <= 0:
            raise ValueError(f"target speedup must be positive, got {target}")
        return self.dense_total[0] / target

    def check_budgets(self, mac_budget, param_budget, latency_budget=None) -> tuple[float, float, float]:
        """Budgets as floats (inf where None); raises InfeasibleBudget if no allocation meets them.
        For MACs and parameters rank 1 everywhere is the cheapest allocation. For latency it is
        the fastest one without dense layers; a dense conv can be faster than its rank-1 form,
        and below the all-rank-1 latency `latency_floor` decides (exactly) whether some set of
        such layers kept dense meets all the budgets."""
        mb = np.inf if mac_budget is None else float(mac_budget)
        pb = np.inf if param_budget is None else float(param_budget)
        # achievable latencies are multiples of LATENCY_QUANTUM, so rounding the budget down to one
        # changes no comparison and makes budget - fixed exact
        tb = np.inf if latency_budget is None else float(np.floor(float(latency_budget) / LATENCY_QUANTUM)
                                                         * LATENCY_QUANTUM)
        if latency_budget is not None and not self.has_latency:
            raise ValueError("a latency budget needs latency costs (AllocationProblem.set_latency)")
        lo_m, lo_p = self.min_total
        if lo_m > mb or lo_p > pb:
            raise InfeasibleBudget(f"budget infeasible: every layer at rank 1 needs {lo_m:.0f} MACs / {lo_p:.0f} params, "
                             f"budget is {mb:.0f} MACs / {pb:.0f} params")
        self.latency_floor(mb, pb, tb)  # raises where even the fastest allocation within them is too slow
        return mb, pb, tb

    def latency_floor(self, mb: float, pb: float, tb: float) -> np.ndarray:
        """Dense flags of the floor that the heuristics and the rounding start from and never go
        below: rank 1 everywhere (all False) where that meets the latency budget `tb`; else rank
        1 but for the fewest MACs and parameters (normalized by the dense totals) of layers that
        are faster dense than at rank 1, kept dense so that the latency fits (a small exact 0-1
        program, HiGHS). Raises InfeasibleBudget where no such set meets every budget: then no
        allocation does (rank k >= 1 costs at least rank 1's time, MACs and parameters, so an
        allocation's time is at least that of its floor: its dense layers, rank 1 elsewhere).
        Budgets as from `check_budgets`."""
        n = len(self.layers)
        if not self.has_latency or self.min_latency <= tb:
            return np.zeros(n, bool)
        cache = self.__dict__.setdefault("_floor_cache", {})
        if (mb, pb, tb) in cache:
            return cache[(mb, pb, tb)].copy()
        t1 = np.array([float(t[0]) for t in self.rank_latency])
        saving = t1 - self.dense_latency
        fast = np.flatnonzero(saving > 0)
        need = self.min_latency - tb
        lo_m, lo_p = self.min_total
        fastest = self.min_latency - float(saving[fast].sum())
        names = [self.layers[i].name for i in fast]
        layers = (f"{len(fast)} layers are faster dense than at rank 1 ({', '.join(names[:3])}"
                  f"{', ...' if len(names) > 3 else ''})") if len(fast) else "no layer is faster dense than at rank 1"
        head = (f"latency budget infeasible: every layer at rank 1 is predicted at {self.min_latency * 1e3:.4g} ms, "
                f"budget is {tb * 1e3:.4g} ms; {layers}")
        if fastest > tb:
            raise InfeasibleBudget(head + (f": with them dense {fastest * 1e3:.4g} ms, the fastest allocation"
                                           if len(fast) else ""))
        from scipy.optimize import Bounds, LinearConstraint, milp

        dm = self.dense_macs[fast] - self.comp_macs[fast]
        dp = self.dense_params[fast] - self.comp_params[fast]
        c = dm / max(self.dense_total[0], 1.0) + dp / max(self.dense_total[1], 1.0) + 1e-9
        # integers (latency in quanta), so that HiGHS's absolute tolerance is below one unit
        rows, lb, ub = [saving[fast] / LATENCY_QUANTUM], [need / LATENCY_QUANTUM], [np.inf]
        for row, budget in ((dm, mb - lo_m), (dp, pb - lo_p)):
            if np.isfinite(budget):
                rows.append(row), lb.append(-np.inf), ub.append(budget)
        for slack in (0, 1, 2):
            lb[0] = need / LATENCY_QUANTUM + slack
            res = milp(c, integrality=np.ones(len(fast)), bounds=Bounds(0, 1),
                       constraints=LinearConstraint(np.vstack(rows), lb, ub))
            if res.x is None:
                break
            dense = np.zeros(n, bool)
            dense[fast[np.round(res.x) > 0.5]] = True
            if np.all(self.config_totals(np.where(dense, self.break_even, 1), dense) <= np.array([mb, pb, tb])):
                if len(cache) > 16:
                    cache.clear()
                cache[(mb, pb, tb)] = dense
                return dense.copy()
        raise InfeasibleBudget(head + f": with them dense {fastest * 1e3:.4g} ms, but no set of them that is fast "
                               "enough fits the MAC / parameter budgets")

    # ---------------------------------------------------------------- selections
    def totals(self, z) -> np.ndarray:
        """[MACs, params, seconds] of a selection (0/1 or relaxed); seconds 0 without set_latency."""
        z = np.asarray(z, float)
        return np.array([self.fixed_macs + self.macs_row @ z, self.fixed_params + self.params_row @ z,
                         self.fixed_latency + self.latency_row @ z])

    def cost(self, z) -> tuple[float, float]:
        """(MACs, params) of a selection (0/1 or relaxed)."""
        m, p, _ = self.totals(z)
        return m, p

    def latency(self, z) -> float:
        """Predicted seconds of a selection (set_latency)."""
        return float(self.totals(z)[2])

    def config_totals(self, ks, dense) -> np.ndarray:
        """[MACs, params, seconds] of per-layer ranks `ks` (1..B) and dense flags."""
        ks, dense = np.asarray(ks, float), np.asarray(dense, bool)
        macs = np.where(dense, self.dense_macs, ks * self.comp_macs).sum()
        params = np.where(dense, self.dense_params, ks * self.comp_params).sum()
        seconds = 0.0
        if self.has_latency:
            seconds = sum(td if d else float(t[int(k) - 1])
                          for t, td, k, d in zip(self.rank_latency, self.dense_latency, ks, dense))
        return np.array([self.fixed_macs + macs, self.fixed_params + params, self.fixed_latency + seconds])

    def config_cost(self, ks, dense) -> tuple[float, float]:
        """(MACs, params) of per-layer ranks `ks` (1..B) and dense flags."""
        m, p, _ = self.config_totals(ks, dense)
        return m, p

    def step_costs(self, i: int, k: int) -> tuple[float, np.ndarray]:
        """(energy gained, [extra MACs, extra params, extra seconds]) of layer i's next step up
        from rank k (not dense): keep component k if k < B, else (k = B) switch the layer dense.
        Extra seconds are >= 0 but for the dense switch (see set_latency)."""
        L = self.layers[i]
        lat = self.latency_row[L.offset + k] if k < L.break_even else (
            self.dense_latency[i] - self.rank_latency[i][k - 1] if self.has_latency else 0.0)
        if k < L.break_even:
            return self.energy[i][k], np.array([L.comp_macs, L.comp_params, lat], float)
        return self.energy[i][k:].sum(), np.array([L.dense_macs - k * L.comp_macs, L.dense_params - k * L.comp_params,
                                                   lat], float)

    def step(self, i: int, k: int) -> tuple[float, float, float]:
        """(energy gained, extra MACs, extra params) of `step_costs`."""
        gain, c = self.step_costs(i, k)
        return gain, c[0], c[1]

    def step_up(self, ks: np.ndarray, dense: np.ndarray, i: int) -> None:
        """Take layer i's step of `step` in place: rank + 1, or dense at rank B."""
        if ks[i] < self.layers[i].break_even:
            ks[i] += 1
        else:
            dense[i] = True

    def selection(self, ks, dense) -> np.ndarray:
        """The 0/1 vector z of per-layer ranks `ks` and dense flags (x all 0 for dense layers)."""
        z = np.zeros(self.n_vars)
        for L, k, d in zip(self.layers, ks, dense):
            if d:
                z[L.d_index] = 1.0
            else:
                if not 1 <= k <= L.break_even:
                    raise ValueError(f"{L.name}: rank {k} outside [1, {L.break_even}]")
                z[L.offset:L.offset + int(k)] = 1.0
        return z

    def config(self, z) -> tuple[np.ndarray, np.ndarray]:
        """Inverse of `selection` for a 0/1 prefix selection: (ranks, dense flags)."""
        z = np.asarray(z, float)
        if np.any((z > 1e-6) & (z < 1 - 1e-6)):
            raise ValueError("selection is not 0/1")
        b = z > 0.5
        ks, dense = [], []
        for L in self.layers:
            x = b[L.offset:L.d_index]
            k = int(x.sum())
            if b[L.d_index]:
                if k:
                    raise ValueError(f"{L.name}: dense layer with components selected")
                ks.append(L.break_even), dense.append(True)
                continue
            if not x[:k].all() or k < 1:
                raise ValueError(f"{L.name}: selected components are not a prefix of rank >= 1")
            ks.append(k), dense.append(False)
        return np.array(ks, int), np.array(dense, bool)

    def ranks_from_selection(self, z, dense_rank: str = "omit") -> tuple[dict[str, int], list[str]]:
        """({layer: rank} of the decomposed layers, dense layers incl. always-dense sites).
        dense_rank="full" also lists dense layers at their full rank (budgeted-TRP semantics)."""
        ks, dense = self.config(z)
        ranks = {L.name: int(k) for L, k, d in zip(self.layers, ks, dense) if not d}
        dense_layers = [L.name for L, d in zip(self.layers, dense) if d] + list(self.always_dense)
        if dense_rank == "full":
            ranks.update({L.name: L.full_rank for L, d in zip(self.layers, dense) if d})
        return ranks, dense_layers

    def effective_masks(self, z) -> list[np.ndarray]:
        """Per layer, the coefficient of each singular component in the relaxed weight
        W(x, d) = d W + sum_j x_j s_j u_j v_j^T: x_j + d for j < B, d beyond."""
        z = np.asarray(z, float)
        out = []
        for L in self.layers:
            m = np.full(L.full_rank, z[L.d_index])
            m[:L.break_even] += z[L.offset:L.d_index]
            out.append(m)
        return out

    def feasible(self, z, mac_budget=None, param_budget=None, latency_budget=None) -> bool:
        """Every budget met, exactly (costs are integers, latencies multiples of LATENCY_QUANTUM:
        all exact in float64)."""
        limits = [np.inf if b is None else b for b in (mac_budget, param_budget, latency_budget)]
        return bool(np.all(self.totals(z) <= np.array(limits, float)))
