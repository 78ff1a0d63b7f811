"""The allocator under a latency budget (per-layer latency costs as numbers, e.g. from a measured
layer table): the latency row reproduces `network_latency`, every method meets the budget, a
binding budget changes the allocation (a loose one does not), an infeasible one is refused, the
exact solvers are optimal against brute force, and `trp allocate --latency-table` refuses a
table of another model or scheme in one line."""
import itertools
import json

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from torch import nn

from trp.cobla import (AllocationProblem, InfeasibleBudget, allocate, budget_ranks, round_selection, solve_mckp,
                       solve_milp, starts)
from trp.cobla.problem import LATENCY_QUANTUM
from trp.deploy import network_latency
from trp.lowrank import find_sites

SETTINGS = dict(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MS = 1e-3


# ------------------------------------------------------------------ random tiny problems
@st.composite
def latency_problems(draw, max_layers=4, max_b=5, monotone=None, with_budgets=True):
    """(problem with latency costs set, its costs, fixed seconds, MAC / param / latency budgets).
    Latency costs: ms-scale seconds per rank, monotone or noisy (not monotone), dense sometimes
    faster than rank 1."""
    n = draw(st.integers(1, max_layers))
    F, B, cm, cp, dm, dp, spectra, costs = [], [], [], [], [], [], [], {}
    for i in range(n):
        b = draw(st.integers(1, max_b))
        f = draw(st.integers(b + 1, b + 3))
        c = draw(st.integers(1, 50))
        F.append(f), B.append(b), cm.append(c)
        dm.append(draw(st.integers(b * c + 1, (b + 1) * c)))
        cp.append(draw(st.integers(1, 30)))
        dp.append(draw(st.integers(cp[-1], 30 * (b + 2))))
        spectra.append(draw(st.lists(st.floats(0.0, 10.0, allow_nan=False), min_size=f, max_size=f)))
        steps = draw(st.lists(st.floats(0.0, 1.0), min_size=b, max_size=b))
        noisy = draw(st.booleans()) if monotone is None else not monotone
        rank_s = np.cumsum(steps) * MS
        if noisy:
            rank_s = rank_s + np.array(draw(st.lists(st.floats(-0.5, 0.5), min_size=b, max_size=b))) * MS
            rank_s = np.maximum(rank_s, 0.0)
        costs[f"layer{i}"] = {"dense_s": draw(st.floats(0.0, 1.5 * b)) * MS, "rank_s": rank_s}
    prob = AllocationProblem.from_arrays(F, B, cm, cp, dm, dp, spectra, fixed_macs=draw(st.integers(0, 100)),
                                         fixed_params=draw(st.integers(0, 100)))
    fixed_s = draw(st.floats(0.0, 2.0)) * MS
    prob.set_latency(costs, fixed_s)
    if not with_budgets:
        return prob, costs, fixed_s
    lo_m, lo_p = prob.min_total
    hi_m, hi_p = prob.dense_total
    lo_t, hi_t = fastest(prob), max_latency(prob)  # below min_latency: some layers must stay dense
    mb = lo_m + draw(st.floats(0, 1.2)) * (hi_m - lo_m) if draw(st.booleans()) else None
    pb = lo_p + draw(st.floats(0, 1.2)) * (hi_p - lo_p) if draw(st.booleans()) else None
    tb = lo_t + draw(st.floats(0, 1.2)) * (hi_t - lo_t)
    return prob, costs, fixed_s, mb, pb, tb


def max_latency(prob):
    return prob.fixed_latency + sum(max(t[-1], d) for t, d in zip(prob.rank_latency, prob.dense_latency))


def fastest(prob):
    return prob.fixed_latency + sum(min(t[0], d) for t, d in zip(prob.rank_latency, prob.dense_latency))


def options(prob):
    return [[(k, False) for k in range(1, L.break_even + 1)] + [(L.break_even, True)] for L in prob.layers]


def ranks_of(prob, ks, dense):
    return {L.name: int(k) for L, k, d in zip(prob.layers, ks, dense) if not d}


def monotone(costs):
    return {n: {"dense_s": c["dense_s"], "rank_s": np.maximum.accumulate(c["rank_s"])} for n, c in costs.items()}


def limits(mb, pb, tb):
    return np.array([np.inf if b is None else b for b in (mb, pb, tb)])


def fits(prob, z, mb, pb, tb):
    return prob.feasible(z, mb, pb, tb)


# ------------------------------------------------------------------ the row
@settings(**SETTINGS)
@given(latency_problems(with_budgets=False), st.integers(0, 2**31 - 1))
def test_latency_row_reproduces_network_latency(case, seed):
    prob, costs, fixed_s = case
    rng = np.random.default_rng(seed)
    for _ in range(10):
        dense = rng.random(len(prob.layers)) < 0.3
        ks = np.array([rng.integers(1, L.break_even + 1) for L in prob.layers])
        z = prob.selection(ks, dense)
        ranks = ranks_of(prob, ks, dense)
        seconds = prob.latency(z)
        # the row (per-component increments) is the table's time at each rank, running-max'd
        assert seconds == pytest.approx(network_latency(ranks, monotone(costs), fixed_s), rel=1e-9, abs=1e-11)
        # an upper bound of the raw (noisy) table's prediction, equal to it for a monotone table
        assert seconds >= network_latency(ranks, costs, fixed_s) - 1e-11
        # per configuration and per row: the same number to the last bit (both exact)
        assert prob.config_totals(ks, dense)[2] == seconds
        assert seconds / LATENCY_QUANTUM == np.round(seconds / LATENCY_QUANTUM)
    assert prob.dense_latency_total == pytest.approx(network_latency({}, costs, fixed_s), abs=1e-11)
    assert prob.min_latency == pytest.approx(
        network_latency({n: 1 for n in prob.names}, costs, fixed_s), abs=1e-11)
    # every increment but the dense switch is >= 0
    for L in prob.layers:
        assert np.all(prob.latency_row[L.offset:L.d_index] >= 0)


def test_set_latency_names_missing_and_extra_layers():
    prob = AllocationProblem.from_arrays([4, 4], [2, 2], [3, 3], [5, 5], [7, 7], [16, 16], [[4, 3, 2, 1]] * 2)
    good = {"layer0": {"dense_s": 1.0, "rank_s": [0.5, 0.8]}, "layer1": {"dense_s": 1.0, "rank_s": [0.5, 0.8]}}
    with pytest.raises(ValueError, match=r"missing \['layer1'\]"):
        prob.set_latency({"layer0": good["layer0"]})
    with pytest.raises(ValueError, match="layer7"):
        prob.set_latency({**good, "layer7": good["layer0"]})
    with pytest.raises(ValueError, match="break-even rank is 2"):
        prob.set_latency({**good, "layer1": {"dense_s": 1.0, "rank_s": [0.5]}})
    with pytest.raises(ValueError, match="needs latency costs"):
        solve_milp(prob, latency_budget=1.0)  # no costs set yet
    prob.set_latency(good, 0.25)
    assert prob.min_latency == pytest.approx(1.25) and prob.dense_latency_total == pytest.approx(2.25)


# ------------------------------------------------------------------ every method meets it
@settings(**SETTINGS)
@given(latency_problems(), st.integers(0, 2**31 - 1))
def test_every_method_meets_the_latency_budget(case, seed):
    prob, costs, fixed_s, mb, pb, tb = case
    lim = limits(mb, pb, tb)
    if brute_force(prob, mb, pb, tb) == np.inf:  # no allocation fits: every method says so
        for call in (lambda: starts(prob, mb, pb, tb), lambda: solve_milp(prob, mb, pb, latency_budget=tb),
                     lambda: round_selection(prob, np.zeros(prob.n_vars), mb, pb, latency_budget=tb)):
            with pytest.raises(InfeasibleBudget, match="latency budget infeasible"):
                call()
        return
    zs = {s.name: s.z for s in starts(prob, mb, pb, tb)}
    for solver in ("highs", "auto"):
        zs[solver] = solve_milp(prob, mb, pb, solver=solver, latency_budget=tb).z
    r = solve_mckp(prob, mb, pb, tb)
    if r is not None:
        zs["mckp"] = prob.selection(r.ks, r.dense)
    rng = np.random.default_rng(seed)
    z_rel = np.zeros(prob.n_vars)
    for L in prob.layers:
        d = rng.random() if rng.random() < 0.3 else 0.0
        z_rel[L.d_index] = d
        z_rel[L.offset:L.d_index] = rng.random(L.break_even) * (1 - d)
    rnd = round_selection(prob, z_rel, mb, pb, trials=4, seed=seed, latency_budget=tb)
    zs["rounding"] = rnd.z
    for name, z in zs.items():
        assert fits(prob, z, mb, pb, tb), name
        ks, dense = prob.config(z)
        assert network_latency(ranks_of(prob, ks, dense), costs, fixed_s) <= tb + 1e-11, name  # raw table too
    for t in rnd.trials:  # every trial meets all three budgets and is filled: no further step fits
        z = prob.selection(t["ks"], t["dense"])
        assert fits(prob, z, mb, pb, tb)
        assert t["latency_s"] == prob.latency(z)
        used = prob.totals(z)
        for i, (k, d) in enumerate(zip(t["ks"], t["dense"])):
            if not d:
                assert np.any(used + prob.step_costs(i, k)[1] > lim)


def brute_force(prob, mb, pb, tb):
    """Least discarded energy over every per-layer choice of rank or dense within the budgets."""
    best, lim = np.inf, limits(mb, pb, tb)
    total = sum(e.sum() for e in prob.energy)
    for combo in itertools.product(*options(prob)):
        ks, dense = [c[0] for c in combo], [c[1] for c in combo]
        if np.any(prob.config_totals(ks, dense) > lim):
            continue
        kept = sum(e.sum() if d else e[:k].sum() for e, k, d in zip(prob.energy, ks, dense))
        best = min(best, total - kept)
    return best


@settings(**SETTINGS)
@given(latency_problems(max_layers=3, max_b=4))
def test_milp_with_a_latency_budget_is_optimal(case):
    prob, _, _, mb, pb, tb = case
    expected = brute_force(prob, mb, pb, tb)
    if expected == np.inf:
        with pytest.raises(InfeasibleBudget):
            solve_milp(prob, mb, pb, latency_budget=tb)
        return
    for solver in ("highs", "auto"):
        r = solve_milp(prob, mb, pb, solver=solver, latency_budget=tb)
        assert fits(prob, r.z, mb, pb, tb)
        assert r.value == pytest.approx(expected, abs=1e-9)
    r = solve_mckp(prob, None, None, tb)  # the latency budget alone: always the DP
    assert r is not None and r.value == pytest.approx(brute_force(prob, None, None, tb), abs=1e-9)


@settings(**SETTINGS)
@given(latency_problems(max_layers=3, max_b=4))
def test_a_binding_latency_budget_changes_the_allocation_and_a_loose_one_does_not(case):
    prob, _, _, mb, pb, _ = case
    mb = mb if mb is not None else prob.dense_total[0] * 0.8
    mb = max(mb, prob.min_total[0])
    free = solve_milp(prob, mb, pb)
    t_free = prob.latency(free.z)
    lim = limits(mb, pb, np.inf)
    t_min = min(prob.config_totals([c[0] for c in combo], [c[1] for c in combo])[2]
                for combo in itertools.product(*options(prob))
                if np.all(prob.config_totals([c[0] for c in combo], [c[1] for c in combo]) <= lim))
    # loose: the MAC-only optimum fits, so the optimum is unchanged (the same allocation unless tied)
    for tb in (t_free, max_latency(prob)):
        loose = solve_milp(prob, mb, pb, latency_budget=tb)
        assert loose.value == pytest.approx(free.value, abs=1e-12)
        if pb is None:  # the DP under the MAC budget, as without the latency budget: the same allocation
            assert np.array_equal(loose.z, free.z)
    # binding: below the MAC-only optimum's latency, which is then excluded (still feasible)
    if t_free > t_min:
        tb = (t_free + t_min) / 2
        tight = solve_milp(prob, mb, pb, latency_budget=tb)
        assert not np.array_equal(tight.z, free.z) and prob.latency(tight.z) <= tb
        assert tight.value >= free.value - 1e-12


def test_infeasible_latency_budget_is_refused():
    prob = AllocationProblem.from_arrays([5, 5], [3, 3], [2, 2], [5, 5], [7, 7], [25, 25], [[5, 4, 3, 2, 1]] * 2)
    prob.set_latency({"layer0": {"dense_s": 1.0 * MS, "rank_s": [0.4 * MS, 0.6 * MS, 0.9 * MS]},
                      "layer1": {"dense_s": 0.2 * MS, "rank_s": [0.5 * MS, 0.7 * MS, 0.8 * MS]}})
    assert prob.min_latency == pytest.approx(0.9 * MS)
    calls = [lambda mb, tb: solve_milp(prob, mb, latency_budget=tb), lambda mb, tb: solve_mckp(prob, mb, None, tb),
             lambda mb, tb: starts(prob, mb, None, tb),
             lambda mb, tb: round_selection(prob, np.full(prob.n_vars, 0.5), mb, latency_budget=tb)]
    head = r"latency budget infeasible: every layer at rank 1 is predicted at 0\.9 ms, budget is "
    for call in calls:
        # below the fastest allocation (layer1 dense, layer0 at rank 1: 0.6 ms)
        with pytest.raises(InfeasibleBudget, match=head + r"0\.5 ms; 1 layers are faster dense than at rank 1 "
                                                          r"\(layer1\): with them dense 0\.6 ms, the fastest"):
            call(None, 0.5 * MS)
        # layer1 dense (7 MACs instead of 2) does not fit 8 MACs
        with pytest.raises(InfeasibleBudget, match=head + r"0\.8 ms.*no set of them that is fast enough fits"):
            call(8, 0.8 * MS)
        call(9, 0.8 * MS)  # but 9
        call(None, prob.min_latency)
    # below all-rank-1, the heuristics keep layer1 dense (the floor); the optimum spends the time saved on layer0
    assert all(s.dense.tolist() == [False, True] for s in starts(prob, None, None, 0.8 * MS))
    ks, dense = prob.config(solve_milp(prob, latency_budget=0.85 * MS).z)  # 0.6 + 0.2 ms
    assert ks[0] == 2 and dense.tolist() == [False, True]
    slow = AllocationProblem.from_arrays([4], [2], [3], [5], [7], [16], [[4, 3, 2, 1]])
    slow.set_latency({"layer0": {"dense_s": 1.0, "rank_s": [0.5, 0.8]}})
    with pytest.raises(InfeasibleBudget, match="no layer is faster dense than at rank 1$"):
        solve_milp(slow, latency_budget=0.4)


# ------------------------------------------------------------------ allocate and budget_ranks
class TinyCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.a = nn.Conv2d(8, 16, 3, padding=1, bias=False)
        self.b = nn.Conv2d(16, 16, 3, stride=2, padding=1)
        self.fc = nn.Linear(16, 10)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        x = torch.relu(self.a(x))
        x = torch.relu(self.b(x))
        return self.fc(x.mean((2, 3)))


def made_up_costs(sites, slow="b"):
    """ms-scale costs: layer `slow` 4x slower per rank than the others; dense = rank break-even."""
    out = {}
    for s in sites:
        per = (4.0 if s.name == slow else 1.0) * 1e-5
        k = np.arange(1, max(1, s.break_even) + 1)
        out[s.name] = {"dense_s": per * (s.break_even + 1), "rank_s": per * k}
    return out


def test_allocate_and_budget_ranks_with_a_latency_budget():
    torch.manual_seed(0)
    model = TinyCNN()
    sites = find_sites(model, (3, 8, 8), "channel", exclude=("stem",))
    costs = made_up_costs(sites)
    kw = dict(sites=sites, input_size=(3, 8, 8), latency_costs=costs)
    free = allocate(model, None, "channel", target_speedup=1.5, method="milp", **kw)
    assert free["latency_s"] == pytest.approx(network_latency(free["ranks"], costs), abs=1e-12)
    assert free["dense"]["latency_s"] == pytest.approx(network_latency({}, costs), abs=1e-12)
    assert free["budget"]["latency_s"] is None and free["latency_speedup"] > 1
    loose = allocate(model, None, "channel", target_speedup=1.5, method="milp", max_latency=free["latency_s"], **kw)
    assert loose["ranks"] == free["ranks"]
    tb = 0.7 * free["latency_s"]
    for method in ("milp", "energy"):
        tight = allocate(model, None, "channel", target_speedup=1.5, method=method, max_latency=tb, **kw)
        assert tight["latency_s"] <= tb and tight["macs"] <= tight["budget"]["macs"]
        assert tight["latency_s"] == pytest.approx(network_latency(tight["ranks"], costs), abs=1e-12)
        assert tight["ranks"] != free["ranks"]
    # the latency budget alone; and budgeted TRP's allocator
    alone = allocate(model, None, "channel", method="milp", max_latency=tb, **kw)
    assert alone["latency_s"] <= tb and alone["budget"]["macs"] is None
    ranks = budget_ranks(sites, "channel", latency_costs=costs, max_latency=tb)
    full = {s.name: s.full_rank for s in sites}
    assert network_latency({n: r for n, r in ranks.items() if r != full[n]}, costs) <= tb
    with pytest.raises(ValueError, match="needs latency_costs"):
        allocate(model, None, "channel", method="milp", max_latency=tb, sites=sites, input_size=(3, 8, 8))
    with pytest.raises(InfeasibleBudget, match="latency"):
        allocate(model, None, "channel", method="energy", max_latency=1e-9, **kw)


# ------------------------------------------------------------------ the command line
def one_line_error(capsys, argv, *needles):
    from trp.cli import main

    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith(f"trp {argv[0]}: error: ") and "Traceback" not in err, err
    for n in needles:
        assert n in err, err


@pytest.fixture(scope="module")
def resnet20_checkpoint(tmp_path_factory):
    from trp.artifacts import save_dense
    from trp.models import build

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "model.pt"
    save_dense(path, build("resnet20"), "resnet20", {"seed": 0})
    return path


def fake_table(model="resnet20", scheme="channel"):
    """A layer latency table (trp.deploy.layer_table's format) with made-up times for resnet20."""
    from trp.deploy.layer_table import SCHEMA
    from trp.models import build, input_size, stem

    torch.manual_seed(0)
    sites = find_sites(build("resnet20"), input_size("resnet20"), scheme, exclude=(stem("resnet20"),))
    layers = {}
    for s in sites:
        ranks = sorted({1, max(1, s.break_even // 2), max(1, s.break_even)})
        layers[s.name] = {"full_rank": s.full_rank, "break_even": s.break_even, "dense_s": 1e-4, "ranks": ranks,
                          "rank_s": [1e-4 * r / max(1, s.break_even) for r in ranks]}
    return {"schema": SCHEMA, "model": model, "scheme": scheme, "runtime": "eager", "memory_format": "contiguous",
            "batch_size": 1, "threads": 1, "device": "cpu", "layers": layers}


def test_cli_latency_budget_and_mismatched_tables(resnet20_checkpoint, tmp_path, capsys):
    from trp.cli import main

    base = ["allocate", "--checkpoint", str(resnet20_checkpoint), "--scheme", "channel", "--method", "energy",
            "--out", str(tmp_path / "a.json")]
    for name, table, needle in [("other-model", fake_table(model="resnet56"), "a latency table of resnet56"),
                                ("other-scheme", fake_table(scheme="spatial"), "spatial scheme"),
                                ("not-a-table", {"layers": {}}, "not a layer latency table")]:
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(table))
        one_line_error(capsys, base + ["--latency-table", str(path), "--latency-speedup", "2"], str(path), needle)
    t = fake_table()
    t["layers"].pop(next(iter(t["layers"])))
    (tmp_path / "short.json").write_text(json.dumps(t))
    one_line_error(capsys, base + ["--latency-table", str(tmp_path / "short.json"), "--latency-speedup", "2"],
                   "do not match")
    one_line_error(capsys, base + ["--latency-speedup", "2"], "--latency-table")
    one_line_error(capsys, base + ["--latency-table", str(tmp_path / "none.json"), "--latency-speedup", "2"],
                   "none.json", "not found")
    (tmp_path / "good.json").write_text(json.dumps(fake_table()))
    one_line_error(capsys, base + ["--latency-table", str(tmp_path / "good.json"), "--latency-speedup", "1000"],
                   "latency budget infeasible")
    assert not (tmp_path / "a.json").exists()
    assert main(base + ["--latency-table", str(tmp_path / "good.json"), "--latency-speedup", "2"]) == 0
    printed = json.loads(capsys.readouterr().out)
    saved = json.loads((tmp_path / "a.json").read_text())
    assert saved["latency_speedup"] == printed["latency_speedup"] >= 2
    assert saved["latency_s"] <= saved["budget"]["latency_s"] and saved["config"]["latency_speedup"] == 2
