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
"""
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from ..lowrank import ConvSite, conv_macs, conv_params, model_cost, to_matrix
from ..lowrank.svd import batched_svd


class InfeasibleBudget(ValueError):
    """No allocation meets the budget: even rank 1 in every decomposable layer exceeds it."""


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

    def budget_from_speedup(self, target: float) -> float:
        """MAC budget for a speedup = dense MACs / decomposed MACs of `target`."""
        if target <= 0:
            raise ValueError(f"target speedup must be positive, got {target}")
        return self.dense_total[0] / target

    def check_budgets(self, mac_budget, param_budget) -> tuple[float, float]:
        """Budgets as floats (inf where None); raises if even all-rank-1 exceeds one."""
        mb = np.inf if mac_budget is None else float(mac_budget)
        pb = np.inf if param_budget is None else float(param_budget)
        lo_m, lo_p = self.min_total
        if lo_m > mb or lo_p > pb:
            raise InfeasibleBudget(f"budget infeasible: every layer at rank 1 needs {lo_m:.0f} MACs / {lo_p:.0f} params, "
                             f"budget is {mb:.0f} MACs / {pb:.0f} params")
        return mb, pb

    # ---------------------------------------------------------------- selections
    def cost(self, z) -> tuple[float, float]:
        """(MACs, params) of a selection (0/1 or relaxed)."""
        z = np.asarray(z, float)
        return self.fixed_macs + self.macs_row @ z, self.fixed_params + self.params_row @ z

    def config_cost(self, ks, dense) -> tuple[float, float]:
        """(MACs, params) of per-layer ranks `ks` (1..B) and dense flags."""
        ks, dense = np.asarray(ks, float), np.asarray(dense, bool)
        macs = np.where(dense, self.dense_macs, ks * self.comp_macs).sum()
        params = np.where(dense, self.dense_params, ks * self.comp_params).sum()
        return self.fixed_macs + macs, self.fixed_params + params

    def step(self, i: int, k: int) -> tuple[float, float, float]:
        """(energy gained, extra MACs, extra params) of layer i's next step up from rank k (not
        dense): keep component k if k < B, else (k = B) switch the layer dense."""
        L = self.layers[i]
        if k < L.break_even:
            return self.energy[i][k], L.comp_macs, L.comp_params
        return self.energy[i][k:].sum(), L.dense_macs - k * L.comp_macs, L.dense_params - k * L.comp_params

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

    def feasible(self, z, mac_budget=None, param_budget=None) -> bool:
        """Both budgets met, exactly (costs are integers, exact in float64)."""
        macs, params = self.cost(z)
        mb = np.inf if mac_budget is None else mac_budget
        pb = np.inf if param_budget is None else param_budget
        return macs <= mb and params <= pb
