"""Reads of device values on the host (each a wait for the GPU): a TRP projection makes a fixed
number, whatever the number of layers, a finiteness check makes one, and a step between
projections makes none; the rank log they yield is the per-layer definition's, bit for bit."""
import math

import pytest
import torch
from torch import nn

from trp import models
from trp.lowrank import energy_ratios, find_sites, to_matrix
from trp.lowrank.host import DeviceWork
from trp.train import RankRegularizer
from trp.train.loop import NonFiniteError, _check_finite, sgd_step

from test_training import TinyNet, tiny_batches


def test_device_work_counts_reads_kernels_and_linear_algebra():
    x = torch.arange(3.0)
    with DeviceWork() as work:
        x.sum().item(), float(x[0]), int(x[1]), bool(x[2] > 0), x.tolist(), x.numpy(), x.cpu()
    assert work.reads == 7
    with DeviceWork() as work:
        eye = torch.eye(3)  # one kernel
        (x * 2).view(3, 1)  # one kernel; the view is none
        torch.linalg.svd(eye), torch.linalg.eigh(eye)
    assert (work.kernels, work.linalg, work.reads) == (4, 2, 0)


def trp_step(reg, net, x, y, opt, step):
    """Step `step` as trp train takes it: the projection if due, then trp.train.loop.sgd_step."""
    reg.before_forward(step, step)
    sgd_step(net, x, y, opt, reg, torch.device("cpu"), "fp32")


def regularized(net, input_size, exclude, m=2, lam=1e-3, log=None, allocate=None):
    sites = find_sites(net, input_size, "spatial", exclude=exclude)
    reg = RankRegularizer(sites, "spatial", True, 0.1, m, lam, log=log, spectrum=True, allocate=allocate)
    return sites, reg, torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)


def projection_reads(net, input_size, exclude, x, y, allocate=None):
    """(sites, host reads of the second projection, of the step after it) of TRP+Nu with the
    full rank log (spectrum, Theorem 2's quantities, G)."""
    records = []
    sites, reg, opt = regularized(net, input_size, exclude, log=records.append, allocate=allocate)
    for t in range(2):
        trp_step(reg, net, x, y, opt, t)
    with DeviceWork() as at_projection:
        reg.before_forward(2, 2)
    assert len(records) == 2 * len(sites) and "displacement" in records[-1] and "max_step" in records[-1]
    with DeviceWork() as between:
        sgd_step(net, x, y, opt, reg, torch.device("cpu"), "fp32")
        trp_step(reg, net, x, y, opt, 3)
    return len(sites), at_projection.reads, between.reads


def test_a_projection_reads_the_device_a_fixed_number_of_times():
    """Two reads per projection (the ranks, then the rank log's values), for 2 layers as for 18;
    none in the steps between projections."""
    torch.manual_seed(0)
    x, y = tiny_batches()[0]
    tiny = projection_reads(TinyNet(), (3, 8, 8), ("stem",), x, y)
    cifar_x, cifar_y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    resnet = projection_reads(models.build("resnet20"), models.input_size("resnet20"), (models.stem("resnet20"),),
                              cifar_x, cifar_y)
    assert (tiny[0], resnet[0]) == (2, 18)
    assert tiny[1:] == resnet[1:] == (2, 0)


def half_ranks(sites, singular_values):
    """A budget allocator's interface: {layer: rank} from the spectra, which come on the host in float64."""
    assert all(S.device.type == "cpu" and S.dtype == torch.float64 for S in singular_values)
    return {s.name: max(1, s.full_rank // 2) for s in sites}


def test_a_projection_with_a_budget_allocator_reads_the_spectra_once():
    """The allocator's spectra replace the energy rule's ranks: still two reads, for 18 layers."""
    torch.manual_seed(0)
    x, y = torch.randn(4, 3, 32, 32), torch.randint(0, 10, (4,))
    net = models.build("resnet20")
    assert projection_reads(net, models.input_size("resnet20"), (models.stem("resnet20"),), x, y,
                            allocate=half_ranks) == (18, 2, 0)


def test_a_projection_without_a_log_reads_only_the_ranks():
    torch.manual_seed(0)
    net = models.build("resnet20")
    _, reg, _ = regularized(net, models.input_size("resnet20"), (models.stem("resnet20"),))
    with DeviceWork() as reads:
        reg.before_forward(0, 0)
    assert reads.reads == 1


def check(model, first_bad=-1, weights=True):
    _check_finite(torch.tensor(first_bad), model, {"step": 7, "epoch": 0}, 10, weights=weights)


@pytest.mark.parametrize("weights", [True, False])
def test_a_finiteness_check_reads_the_device_once(weights):
    net = models.build("resnet20")
    assert len(list(net.parameters())) > 50
    with DeviceWork() as reads:
        check(net, weights=weights)
    assert reads.reads == 1


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_finiteness_check_finds_one_non_finite_weight(value):
    net = models.build("resnet20")
    with torch.no_grad():
        list(net.parameters())[-3].view(-1)[5] = value
    with pytest.raises(NonFiniteError, match="non-finite weights after step 7 "):
        check(net)
    check(net, weights=False)  # the loss alone is finite


def test_a_finiteness_check_passes_huge_finite_weights_and_finds_the_loss_step():
    net = models.build("resnet20")
    with torch.no_grad():
        for p in net.parameters():
            p.fill_(torch.finfo(torch.float32).max)  # their norms overflow; the weights are finite
    check(net)
    with pytest.raises(NonFiniteError, match="non-finite loss at step 13 \\(epoch 2\\)"):
        check(net, first_bad=13)


def expected_records(reg, weights, previous, max_step, steps, step):
    """The rank log's records as the per-layer definition gives them, one scalar read at a time
    (Eq. 11-13): ||W - T^z||_F / ||W||_F, the tail energy beyond rank(T^z) over ||W||_F, mG/||W||_F,
    the energy ratios of the kept singular values."""
    out = []
    for site, p, w, g in zip(reg.sites, reg._last, weights, max_step.tolist()):
        T_prev, rank_prev = previous[site.name]
        W, T = to_matrix(w.double(), "spatial"), to_matrix(T_prev.double(), "spatial")
        norm = float(torch.linalg.matrix_norm(W))
        s = p.singular_values.double()
        displacement = float(torch.linalg.matrix_norm(W - T)) / norm
        out.append({"projection": reg.projections, "step": step, "layer": site.name, "rank_after": p.rank,
                    "saves_macs": p.saves_macs, "full_rank": site.full_rank,
                    "energy_ratios": energy_ratios(s[:p.rank]).tolist(), "rank_before": rank_prev,
                    "displacement": displacement, "tail_ratio": float(s[rank_prev:].square().sum().sqrt()) / norm,
                    "sqrt_e": math.sqrt(0.1), "bound_holds": displacement < math.sqrt(0.1),
                    "rank_rose": p.rank > rank_prev, "steps": steps, "max_step": g,
                    "step_bound": steps * g / norm, "assumption_holds": steps * g / norm < math.sqrt(0.1)})
    return out


def test_the_rank_log_and_weights_are_the_per_layer_definitions_bit_for_bit():
    """Every record of a TRP+Nu run read at once equals the one computed layer by layer, exactly;
    the weights equal those of the same run without a log (reading the log changes no weight)."""
    def run(log):
        torch.manual_seed(0)
        net = TinyNet()
        _, reg, opt = regularized(net, (3, 8, 8), ("stem",), m=3, log=log)
        expected = []
        for t, (x, y) in enumerate(tiny_batches() * 2):
            if log is not None and reg.projects_at(t) and reg.previous:
                weights, previous = [s.conv.weight.detach().clone() for s in reg.sites], dict(reg.previous)
                max_step, steps = reg._max_step, reg._steps
                reg.before_forward(t, t)
                expected += expected_records(reg, weights, previous, max_step, steps, t)
                sgd_step(net, x, y, opt, reg, torch.device("cpu"), "fp32")
            else:
                trp_step(reg, net, x, y, opt, t)
        return net, expected

    records = []
    logged, expected = run(records.append)
    unlogged, _ = run(None)
    assert len(expected) == 14 and any(r["rank_rose"] or r["rank_after"] < r["rank_before"] for r in expected)
    assert [r for r in records if "rank_before" in r] == expected
    assert all(torch.equal(a, b) for a, b in zip(logged.state_dict().values(), unlogged.state_dict().values()))
