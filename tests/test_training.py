"""A short TRP run on a tiny problem: ranks fall, Theorem 2 holds where its bound holds, the
nuclear sub-gradient matches the SVD, and a crashed run resumes from its checkpoint."""
import json

import pytest
import torch
from torch import nn

from trp.artifacts import load_training_state, save_training_state
from trp.config import TrainConfig
from trp.lowrank import find_sites
from trp.lowrank.nuclear import polar_factor
from trp.train import RankRegularizer, fit




class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1, bias=False)
        self.conv_a = nn.Conv2d(8, 16, 3, padding=1, bias=False)
        self.conv_b = nn.Conv2d(16, 16, 3, stride=2, padding=1, bias=False)
        self.fc = nn.Linear(16, 4)

    def forward(self, x):
        x = torch.relu(self.stem(x))
        x = torch.relu(self.conv_b(torch.relu(self.conv_a(x))))
        return self.fc(x.mean((2, 3)))


def tiny_batches(n=12, seed=0):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 16, 3, 8, 8, generator=g)
    return [(xb, (xb[:, 0].mean((1, 2)) > 0).long() + 2 * (xb[:, 1].mean((1, 2)) > 0).long()) for xb in x]


def run_trp(scheme, steps=60, m=3, e=0.1, lam=1e-3, lr=0.05, momentum=0.9, spectrum=True):
    torch.manual_seed(0)
    net = TinyNet()
    sites = find_sites(net, (3, 8, 8), scheme, exclude=("stem",))
    records = []
    reg = RankRegularizer(sites, scheme, True, e, m, lam, log=records.append, spectrum=spectrum)
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=momentum)
    batches = tiny_batches()
    for t in range(steps):
        x, y = batches[t % len(batches)]
        reg.before_forward(t, t)
        loss = nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        reg.after_backward(lr)
        opt.step()
    return records


@pytest.mark.parametrize("scheme", ["channel", "spatial"])
def test_trp_ranks_fall_and_theorem2_holds(scheme):
    records = run_trp(scheme)
    for layer in ("conv_a", "conv_b"):
        recs = [r for r in records if r["layer"] == layer]
        assert len(recs) == 20
        assert recs[-1]["rank_after"] < recs[0]["full_rank"]
        for r in recs[1:]:
            # Theorem 2: where the logged bound holds, the rank never rises.
            if r["displacement"] < r["sqrt_e"]:
                assert r["rank_after"] <= r["rank_before"]
            assert r["bound_holds"] == (r["displacement"] < r["sqrt_e"])
            assert r["rank_rose"] == (r["rank_after"] > r["rank_before"])
            # Eq. (11): the tail energy beyond the previous rank is bounded by the displacement
            assert r["tail_ratio"] <= r["displacement"] + 1e-9
        assert all(abs(sum(r["energy_ratios"]) - 1) < 1e-9 for r in recs)


def test_rank_log_holds_the_spectrum_only_when_asked():
    """The same run without `spectrum`: the same records less the energy ratios (Fig. 2's only input)."""
    full, lean = run_trp("channel", steps=12), run_trp("channel", steps=12, spectrum=False)
    assert [{k: v for k, v in r.items() if k != "energy_ratios"} for r in full] == lean
    assert all("energy_ratios" in r for r in full)


@pytest.mark.parametrize("scheme", ["channel", "spatial"])
def test_step_bound_mG_bounds_the_displacement_under_plain_sgd(scheme):
    """With plain SGD (no momentum, no weight decay) W^{t+m} - T^z is the sum of the m steps
    lr * grad f, so the logged displacement is at most the paper's mG/||W^{t+m}||_F (Eq. 11-12)."""
    records = [r for r in run_trp(scheme, momentum=0.0) if "rank_before" in r]
    assert records and all(r["steps"] == 3 for r in records)
    for r in records:
        assert r["displacement"] <= r["step_bound"] * (1 + 1e-5)
        assert r["assumption_holds"] == (r["step_bound"] < r["sqrt_e"])
    # with momentum the steps are not lr * grad f, and the log shows it can exceed mG
    assert any(r["displacement"] > r["step_bound"] for r in run_trp(scheme) if "rank_before" in r)


def test_large_steps_break_the_bound_and_can_raise_the_rank():
    """With a huge learning rate the displacement exceeds sqrt(e): the log must say so."""
    records = run_trp("channel", steps=30, m=3, e=0.02, lam=0.0, lr=20.0)
    assert any(not r["bound_holds"] for r in records if "bound_holds" in r)


def test_nuclear_subgradient_equals_svd_polar_factor():
    A = torch.randn(3, 7, 20, dtype=torch.float64)
    U, S, Vh = torch.linalg.svd(A, full_matrices=False)
    assert torch.allclose(polar_factor(A), U @ Vh, atol=1e-8)
    assert torch.allclose(polar_factor(A.mT), (U @ Vh).mT, atol=1e-8)
    B = U[..., :, :3] @ torch.diag_embed(S[..., :3]) @ Vh[..., :3, :]  # rank 3: U_3 V_3^T
    assert torch.allclose(polar_factor(B), U[..., :, :3] @ Vh[..., :3, :], atol=1e-6)


def test_nuclear_cadence_projection_only_adds_on_projection_steps():
    torch.manual_seed(0)
    net = TinyNet()
    sites = find_sites(net, (3, 8, 8), "channel", exclude=("stem",))
    reg = RankRegularizer(sites, "channel", True, 0.1, 5, 1.0, nuclear_cadence="projection")
    for t, expect in ((1, False), (5, True)):
        for s in sites:
            s.conv.weight.grad = torch.zeros_like(s.conv.weight)
        reg.before_forward(t, t)
        reg.after_backward()
        assert any(s.conv.weight.grad.abs().sum() > 0 for s in sites) == expect


class Crash(Exception):
    pass


def test_training_resumes_after_a_crash(tmp_path):
    """Kill a run in its second epoch; rerunning continues from the epoch-1 checkpoint and ends
    with the same weights as an uninterrupted run."""
    cfg = TrainConfig(model="resnet20", method="trp", e=0.1, m=2, lam=1e-4, epochs=2, milestones=[1],
                      batch_size=8, channels_last=False)
    data = [(torch.randn(8, 3, 8, 8), torch.randint(0, 4, (8,))) for _ in range(3)]

    class Loader:
        def __init__(self, crash_at=None):
            self.crash_at, self.calls = crash_at, 0

        def __iter__(self):
            self.calls += 1
            if self.crash_at == self.calls:
                raise Crash
            g = torch.Generator().manual_seed(self.calls)
            return iter([data[i] for i in torch.randperm(3, generator=g)])

        def __len__(self):
            return 3

    def run(workdir, crash_at=None):
        torch.manual_seed(0)
        net = TinyNet()
        sites = find_sites(net, (3, 8, 8), "channel", exclude=("stem",))
        reg = RankRegularizer(sites, "channel", True, cfg.e, cfg.m, cfg.lam)
        loader = Loader(crash_at)
        if crash_at is None and (workdir / "last.pt").exists():
            loader.calls = 1  # the loader of a resumed run has done epoch 1 already
        last = workdir / "last.pt"
        resume = load_training_state(last) if last.exists() else None
        fit(net, cfg, loader, [data[0]], torch.Generator().manual_seed(0), torch.device("cpu"), reg, resume,
            save=lambda state: save_training_state(last, state), progress=False)
        return net

    ref = run(tmp_path / "ref")
    with pytest.raises(Crash):
        run(tmp_path / "crash", crash_at=2)
    assert (tmp_path / "crash" / "last.pt").exists()
    assert not list((tmp_path / "crash").glob("*.tmp"))
    resumed = run(tmp_path / "crash")
    for a, b in zip(ref.state_dict().values(), resumed.state_dict().values()):
        assert torch.equal(a, b)
    saved = torch.load(tmp_path / "crash" / "last.pt", weights_only=True)
    assert saved["state"]["epoch"] == 2 and json.dumps(saved["state"]["history"])


def test_a_state_resumed_on_another_device_keeps_its_generator_on_the_cpu(tmp_path):
    """Resuming on an accelerator (the meta device stands in for one) puts the weights and the
    optimizer's momenta there, while the data-order generator's state stays a CPU ByteTensor that
    a CPU generator takes back and draws the same order from."""
    net = TinyNet()
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    nn.functional.cross_entropy(net(torch.randn(2, 3, 8, 8)), torch.tensor([0, 1])).backward()
    opt.step()
    generator = torch.Generator().manual_seed(3)
    save_training_state(tmp_path / "last.pt", {"model": net.state_dict(), "optimizer": opt.state_dict(), "scheduler": {},
                                               "generator": generator.get_state(), "state": {"epoch": 1},
                                               "regularizer": None})
    state = load_training_state(tmp_path / "last.pt", torch.device("meta"))
    assert state["model"]["fc.weight"].is_meta and state["optimizer"]["state"][0]["momentum_buffer"].is_meta
    resumed = torch.Generator()
    resumed.set_state(state["generator"])
    assert torch.equal(torch.randperm(50, generator=resumed), torch.randperm(50, generator=generator))


def test_history_records_the_rate_each_epoch_trained_at():
    """lr 0.1, divided by 10 after epoch 1: epoch 1 trains at 0.1 and epoch 2 at 0.01 (the record once
    held the rate after the epoch's scheduler step, i.e. the next epoch's)."""
    cfg = TrainConfig(model="resnet20", method="baseline", epochs=2, milestones=[1], lr=0.1, batch_size=8,
                      channels_last=False)
    data = [(torch.randn(8, 3, 8, 8), torch.randint(0, 4, (8,)))]
    torch.manual_seed(0)
    state = fit(TinyNet(), cfg, data, data, torch.Generator().manual_seed(0), torch.device("cpu"), None, None,
                progress=False)
    assert [h["lr"] for h in state["history"]] == pytest.approx([0.1, 0.01])


def test_the_step_benchmark_times_the_training_loops_own_step(monkeypatch):
    """benchmarks/train_step.py calls trp.train.loop.sgd_step, the function fit() trains with (it
    once timed a copy of the step)."""
    import importlib.util
    from pathlib import Path

    from trp.train import loop
    spec = importlib.util.spec_from_file_location("train_step", Path(__file__).parents[1] / "benchmarks/train_step.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    assert bench.sgd_step is loop.sgd_step
    calls = []
    monkeypatch.setattr(loop, "sgd_step", lambda *a: calls.append(1) or loop_step(*a))
    loop_step = bench.sgd_step
    cfg = TrainConfig(model="resnet20", method="baseline", epochs=1, lr=0.1, batch_size=8, channels_last=False)
    data = [(torch.randn(8, 3, 8, 8), torch.randint(0, 4, (8,)))] * 3
    fit(TinyNet(), cfg, data, data[:1], torch.Generator().manual_seed(0), torch.device("cpu"), None, None, progress=False)
    assert len(calls) == 3


def test_compiled_training_step_trains_the_same_weights(monkeypatch):
    """cfg.compile: TRP+Nu trained through torch.compile (its graph capture, with the aot_eager backend so
    that no C++ compiler is needed) ends with the eager run's weights; projections change them in place."""
    import functools
    monkeypatch.setattr(torch, "compile", functools.partial(torch.compile, backend="aot_eager"))
    data = [(torch.randn(8, 3, 8, 8, generator=torch.Generator().manual_seed(i)), torch.arange(8) % 4) for i in range(3)]

    def run(compiled):
        cfg = TrainConfig(model="resnet20", method="trp", e=0.1, m=2, lam=1e-4, epochs=2, milestones=[1],
                          batch_size=8, channels_last=False, compile=compiled)
        torch.manual_seed(0)
        net = TinyNet()
        sites = find_sites(net, (3, 8, 8), "channel", exclude=("stem",))
        reg = RankRegularizer(sites, "channel", True, cfg.e, cfg.m, cfg.lam)
        fit(net, cfg, data, [data[0]], torch.Generator().manual_seed(0), torch.device("cpu"), reg, progress=False)
        return net, reg.projections

    (eager, n_eager), (compiled, n_compiled) = run(False), run(True)
    assert n_eager == n_compiled == 3
    for a, b in zip(eager.state_dict().values(), compiled.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_svd_device_gives_the_same_projections():
    """svd_device: the SVDs run on the named device and their factors come back; on a CPU-only machine the
    named device is the weights' own, so the run must equal the default one bit for bit."""
    def run(svd_device):
        torch.manual_seed(0)
        net = TinyNet()
        records = []
        reg = RankRegularizer(find_sites(net, (3, 8, 8), "spatial", exclude=("stem",)), "spatial", True, 0.1, 2, 1e-3,
                              log=records.append, svd_device=svd_device)
        opt = torch.optim.SGD(net.parameters(), lr=0.05)
        for t, (x, y) in enumerate(tiny_batches()[:6]):
            reg.before_forward(t, t)
            loss = nn.functional.cross_entropy(net(x), y)
            opt.zero_grad()
            loss.backward()
            reg.after_backward(0.05)
            opt.step()
        return net, records

    (a, ra), (b, rb) = run(None), run("cpu")
    assert ra == rb and all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    with pytest.raises(ValueError, match="unknown svd_device 'gpu'"):
        TrainConfig(svd_device="gpu")
