"""COBLA rank allocation: rounding never over budget and uses it up, the exact surrogate optimum
(HiGHS and the knapsack DP against brute force), the SQP against its start, the objective's
gradient, and the budgeted-TRP allocator on ResNet-20."""
import itertools
import json

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from trp.cobla import (AllocationProblem, Objective, allocate, budget_ranks, energy_start, fixed_variables,
                       greedy_start, round_selection, solve_milp, starts, uniform_start)
from trp.data import sample_batches
from trp.lowrank import SCHEMES, conv_macs, decompose_model, find_sites, model_cost
from trp.models import build, input_size, stem

SETTINGS = dict(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])




# ------------------------------------------------------------------ random tiny problems
@st.composite
def problems(draw, max_layers=4, max_b=6):
    """A random problem with consistent break-even ranks, and budgets between the cheapest
    allocation and the all-dense cost (parameter budget sometimes absent)."""
    n = draw(st.integers(1, max_layers))
    F, B, cm, cp, dm, dp, spectra = [], [], [], [], [], [], []
    for _ in range(n):
        b = draw(st.integers(1, max_b))
        f = draw(st.integers(b + 1, b + 4))
        c = draw(st.integers(1, 50))
        F.append(f), B.append(b), cm.append(c)
        dm.append(draw(st.integers(b * c + 1, (b + 1) * c)))  # so that break_even = (dense - 1) // c = b
        cp.append(draw(st.integers(1, 30)))
        dp.append(draw(st.integers(cp[-1], 30 * (b + 2))))  # as for a real conv: dense >= one component
        spectra.append(draw(st.lists(st.floats(0.0, 10.0, allow_nan=False), min_size=f, max_size=f)))
    prob = AllocationProblem.from_arrays(F, B, cm, cp, dm, dp, spectra, fixed_macs=draw(st.integers(0, 100)),
                                         fixed_params=draw(st.integers(0, 100)))
    lo_m, lo_p = prob.min_total
    hi_m, hi_p = prob.dense_total
    mb = lo_m + draw(st.floats(0, 1.2)) * (hi_m - lo_m)
    pb = lo_p + draw(st.floats(0, 1.2)) * (hi_p - lo_p) if draw(st.booleans()) else None
    return prob, mb, pb


def relaxed_point(prob, rng):
    """A random relaxed point with x_j <= 1 - d."""
    z = np.zeros(prob.n_vars)
    for L in prob.layers:
        d = rng.random() if rng.random() < 0.3 else 0.0
        z[L.d_index] = d
        z[L.offset:L.d_index] = rng.random(L.break_even) * (1 - d)
    return z


def over(prob, z, mb, pb):
    m, p = prob.cost(z)
    return m > mb or p > (np.inf if pb is None else pb)


@settings(**SETTINGS)
@given(problems(), st.integers(0, 2**31 - 1))
def test_rounding_never_exceeds_and_uses_the_budget(case, seed):
    prob, mb, pb = case
    rng = np.random.default_rng(seed)
    z_rel = relaxed_point(prob, rng)
    res = round_selection(prob, z_rel, mb, pb, trials=4, seed=seed)
    assert not over(prob, res.z, mb, pb)
    for t in res.trials:  # every trial, not only the best one
        z = prob.selection(t["ks"], t["dense"])
        assert not over(prob, z, mb, pb)
        macs, params = prob.cost(z)
        for i, (k, dense) in enumerate(zip(t["ks"], t["dense"])):
            if dense:
                continue
            _, dm, dp = prob.step(i, k)
            # no single further component (or dense switch) would still fit
            assert macs + dm > mb or params + dp > (np.inf if pb is None else pb)
    ranks, dense = prob.ranks_from_selection(res.z)
    assert set(ranks) | set(dense) == set(prob.names)


@settings(**SETTINGS)
@given(problems())
def test_heuristic_starts_fit_and_fixed_variables_agree(case):
    prob, mb, pb = case
    ss = starts(prob, mb, pb)
    for s in ss:
        assert not over(prob, s.z, mb, pb)
        prob.config(s.z)  # 0/1 prefixes
    mask, vals = fixed_variables(ss)
    for s in ss:
        assert np.array_equal(s.z[mask], vals[mask])
    # the energy threshold is the smallest that fits: the next smaller one would not
    e = ss[0].info["e"]
    from trp.cobla.heuristics import _tails, energy_config
    T = _tails(prob)
    smaller = T[(T < e) & (T > 0)]
    if len(smaller):
        ks, dense = energy_config(prob, smaller.max(), T)
        assert over(prob, prob.selection(ks, dense), mb, pb)


def brute_force(prob, mb, pb):
    """Least discarded energy over every choice of rank (1..B) or dense per layer."""
    best = np.inf
    options = [[(k, False) for k in range(1, L.break_even + 1)] + [(L.break_even, True)] for L in prob.layers]
    for combo in itertools.product(*options):
        ks, dense = [c[0] for c in combo], [c[1] for c in combo]
        m, p = prob.config_cost(ks, dense)
        if m > mb or p > (np.inf if pb is None else pb):
            continue
        kept = sum(e.sum() if d else e[:k].sum() for e, k, d in zip(prob.energy, ks, dense))
        best = min(best, sum(e.sum() for e in prob.energy) - kept)
    return best


@settings(**SETTINGS)
@given(problems(max_layers=3, max_b=4))
def test_milp_optimum_equals_brute_force(case):
    prob, mb, pb = case
    expected = brute_force(prob, mb, pb)
    for solver in ("highs", "auto"):
        r = solve_milp(prob, mb, pb, solver=solver)
        assert not over(prob, r.z, mb, pb)
        assert r.value == pytest.approx(expected, abs=1e-9)
        ks, dense = prob.config(r.z)
        kept = sum(e.sum() if d else e[:k].sum() for e, k, d in zip(prob.energy, ks, dense))
        assert r.value == pytest.approx(sum(e.sum() for e in prob.energy) - kept, abs=1e-9)


# ------------------------------------------------------------------ a tiny network
class TinyCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.a = nn.Conv2d(8, 16, 3, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(16)
        self.b = nn.Conv2d(16, 16, 3, stride=2, padding=1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        x = torch.relu(self.bn(self.a(x)))
        x = torch.relu(self.b(x))
        return self.fc(x.mean((2, 3)))


def tiny_setup(n=64, seed=0):
    torch.manual_seed(seed)
    model = TinyCNN()
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 3, 8, 8), dtype=np.uint8)
    labels = rng.integers(0, 10, n)
    return model, images, labels


def test_objective_gradient_matches_finite_differences():
    model, images, labels = tiny_setup()
    sites = find_sites(model, (3, 8, 8), "channel", exclude=("stem",))
    prob = AllocationProblem.from_model(model, sites, "channel", (3, 8, 8))
    obj = Objective(model, prob, sample_batches(images, labels, 64, 0, 32))
    rng = np.random.default_rng(1)
    z = relaxed_point(prob, rng)
    f, g = obj(z)
    v = rng.standard_normal(prob.n_vars)
    h = 1e-3
    fd = (obj.loss(z + h * v) - obj.loss(z - h * v)) / (2 * h)
    assert fd == pytest.approx(g @ v, rel=0.05, abs=1e-4)
    # all-dense z reproduces the model's own loss
    dense = prob.selection([L.break_even for L in prob.layers], [True] * len(prob.layers))
    x, y = sample_batches(images, labels, 64, 0, 64)[0]
    with torch.no_grad():
        model.eval()
        ref = nn.functional.cross_entropy(model(x), y).item()
    assert obj.loss(dense) == pytest.approx(ref, rel=1e-5)


def test_sqp_no_worse_than_energy_start_and_feasible():
    model, images, labels = tiny_setup()
    sites = find_sites(model, (3, 8, 8), "channel", exclude=("stem",))
    res = allocate(model, None, "channel", target_speedup=2.0, method="sqp", batches=sample_batches(images, labels, 64),
                   maxiter=10, trials=4, sites=sites, input_size=(3, 8, 8))
    obj = res["objective"]
    assert obj["relaxed"] <= obj["start"] + 1e-12
    assert res["macs"] <= res["budget"]["macs"]
    assert res["speedup"] >= 2.0
    # the reported cost is the real cost of the decomposed network
    decomposed = decompose_model(model, res["ranks"], "channel")
    assert model_cost(decomposed, (3, 8, 8))["conv_macs"] == res["macs"]


# ------------------------------------------------------------------ ResNet-20
@pytest.fixture(scope="module")
def resnet20():
    torch.manual_seed(0)
    return build("resnet20")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_budget_ranks_meets_the_budget(resnet20, scheme):
    sites = find_sites(resnet20, input_size("resnet20"), scheme, exclude=(stem("resnet20"),))
    fixed = conv_macs(resnet20.conv1, None, None, (32, 32))
    dense_macs = model_cost(resnet20, input_size("resnet20"))["conv_macs"]
    by_name = {s.name: s for s in sites}
    for method in ("milp", "energy"):
        for target in (1.5, 3.0):
            ranks = budget_ranks(sites, scheme, target_speedup=target, fixed_macs=fixed, method=method)
            assert set(ranks) == set(by_name)
            macs = fixed + sum(conv_macs(by_name[n].conv, None if r == by_name[n].full_rank else r, scheme,
                                         by_name[n].out_hw, by_name[n].in_hw) for n, r in ranks.items())
            assert macs <= dense_macs / target
            assert all(1 <= r <= by_name[n].break_even or r == by_name[n].full_rank for n, r in ranks.items())


def test_milp_allocation_is_at_least_as_good_as_the_starts(resnet20):
    sites = find_sites(resnet20, input_size("resnet20"), "channel", exclude=(stem("resnet20"),))
    prob = AllocationProblem.from_model(resnet20, sites, "channel", input_size("resnet20"))
    mb = prob.budget_from_speedup(2.5)
    r = solve_milp(prob, mb)
    from trp.cobla.milp import surrogate
    c, const = surrogate(prob)
    for s in (energy_start(prob, mb), uniform_start(prob, mb), greedy_start(prob, mb)):
        assert r.value <= const + c @ s.z + 1e-12


def test_allocate_checkpoint_writes_ranks_that_decompose_reads(resnet20, tmp_path):
    from trp.artifacts import save_dense
    from trp.stages.allocate import allocate_checkpoint
    from trp.stages.compress import final_ranks

    ckpt = tmp_path / "model.pt"
    save_dense(ckpt, resnet20, "resnet20", {"seed": 0})
    out = allocate_checkpoint(ckpt, "channel", target_speedup=2.0, out_json=tmp_path / "alloc.json", method="milp")
    saved = json.loads((tmp_path / "alloc.json").read_text())
    assert saved["schema"] == "trp.allocation/1" and saved["ranks"] == out["ranks"]
    assert saved["speedup"] >= 2.0 and saved["macs"] <= saved["budget"]["macs"]
    sites = find_sites(resnet20, input_size("resnet20"), "channel", exclude=(stem("resnet20"),))
    keep, dense = final_ranks(sites, "channel", 0.1, ranks=saved["ranks"])
    assert keep == saved["ranks"] and sorted(dense) == sorted(saved["dense_layers"])
