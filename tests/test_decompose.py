"""The real two-conv decomposition computes exactly the conv with the projected weight D(W)."""
import copy

import pytest
import torch
from torch import nn

from trp.lowrank import SCHEMES, LowRankConv2d, conv_params, decompose_conv, decompose_model, from_matrix, to_matrix
from trp.models import build



# (kernel, stride, padding, dilation, bias, input hw)
CONFIGS = [
    ((1, 1), 1, 0, 1, False, (7, 9)),
    ((1, 1), 2, 0, 1, True, (8, 9)),
    ((3, 3), 1, 1, 1, False, (8, 8)),
    ((3, 3), 2, 1, 1, True, (9, 8)),
    ((3, 3), (2, 1), 1, 1, True, (9, 10)),
    ((3, 3), 1, 0, 2, False, (11, 9)),
    ((3, 3), 1, "same", 2, True, (7, 8)),
    ((3, 3), 2, (0, 2), 1, False, (10, 11)),
    ((5, 5), 1, 2, 1, True, (9, 9)),
    ((5, 5), 2, 0, 1, False, (12, 11)),
    ((5, 5), 1, "valid", (2, 1), True, (13, 10)),
    ((3, 5), 1, (1, 2), 1, False, (8, 9)),
    ((3, 5), 1, "same", 1, True, (8, 9)),
    ((3, 5), 2, (2, 0), (1, 2), True, (11, 13)),
    ((1, 3), 1, (0, 1), 1, True, (6, 7)),
    ((1, 3), (2, 1), 0, 1, False, (9, 9)),
    ((5, 3), 2, 1, 2, True, (12, 12)),
]


def make_conv(c, n, kernel, stride, padding, dilation, bias, dtype=torch.float64, seed=0, **kw):
    torch.manual_seed(seed)
    conv = nn.Conv2d(c, n, kernel, stride, padding, dilation, bias=bias, **kw).to(dtype)
    with torch.no_grad():  # weights of unit scale, bias clearly non-zero
        conv.weight.normal_()
        if bias:
            conv.bias.normal_()
    return conv


def projected_weight(weight, rank, scheme):
    """D(W) at a given rank, independently: float64 SVD of the matricized weight, truncated, folded back."""
    M = to_matrix(weight.detach().double(), scheme)
    U, S, Vh = torch.linalg.svd(M, full_matrices=False)
    return from_matrix((U[:, :rank] * S[:rank]) @ Vh[:rank], weight.shape, scheme)


def projected_conv(conv, rank, scheme):
    out = copy.deepcopy(conv)
    with torch.no_grad():
        out.weight.copy_(projected_weight(conv.weight, rank, scheme))
    return out


def max_rel_err(a, b):
    a, b = a.detach().double(), b.detach().double()
    return float((a - b).abs().max() / b.abs().max().clamp_min(1e-12))


def ranks_for(conv, scheme):
    rows, cols = to_matrix(conv.weight, scheme).shape
    full = min(rows, cols)
    return sorted({1, max(1, full // 2), full})


@pytest.mark.parametrize("scheme", SCHEMES)
@pytest.mark.parametrize("kernel, stride, padding, dilation, bias, hw", CONFIGS)
def test_decomposition_equals_projection(scheme, kernel, stride, padding, dilation, bias, hw):
    gen = torch.Generator().manual_seed(hash((kernel, hw)) % 1000)
    c, n = (int(v) for v in torch.randint(1, 7, (2,), generator=gen))
    conv = make_conv(c, n, kernel, stride, padding, dilation, bias)
    x = torch.randn(2, c, *hw, dtype=torch.float64, generator=gen)
    for rank in ranks_for(conv, scheme):
        low = decompose_conv(conv, rank, scheme)
        assert isinstance(low, LowRankConv2d) and low.rank == rank and low.scheme == scheme
        assert low[0].out_channels == rank and low[1].in_channels == rank and low[1].out_channels == n
        assert low[0].weight.dtype == torch.float64
        assert sum(p.numel() for p in low.parameters()) == conv_params(conv, rank, scheme)
        ref = projected_conv(conv, rank, scheme)(x)
        out = low(x)
        assert out.shape == ref.shape
        assert max_rel_err(out, ref) < 1e-10, (rank, max_rel_err(out, ref))
    # at full rank the decomposition is the conv itself
    full = ranks_for(conv, scheme)[-1]
    assert max_rel_err(decompose_conv(conv, full, scheme)(x), conv(x)) < 1e-10


def test_decomposition_float32_conv():
    conv = make_conv(8, 12, 3, 1, 1, 1, True, dtype=torch.float32)
    x = torch.randn(2, 8, 10, 10)
    for scheme in SCHEMES:
        ref = projected_conv(conv, 4, scheme)(x)
        assert max_rel_err(decompose_conv(conv, 4, scheme)(x), ref) < 1e-4


@pytest.mark.parametrize("scheme", SCHEMES)
def test_decomposition_float64_precision(scheme):
    conv = make_conv(5, 7, 3, 1, 1, 1, True)
    x = torch.randn(2, 5, 9, 9, dtype=torch.float64)
    ref = projected_conv(conv, 3, scheme)(x)
    assert max_rel_err(decompose_conv(conv, 3, scheme)(x), ref) < 1e-10


@pytest.mark.parametrize("mode", ["reflect", "circular", "replicate"])
def test_padding_modes(mode):
    conv = make_conv(4, 6, 3, 1, 1, 1, True, padding_mode=mode)
    x = torch.randn(2, 4, 7, 8, dtype=torch.float64)
    assert max_rel_err(decompose_conv(conv, 3, "channel")(x), projected_conv(conv, 3, "channel")(x)) < 1e-5
    with pytest.raises(ValueError):  # the spatial scheme's two 1-D convs cannot reproduce non-zero padding
        decompose_conv(conv, 3, "spatial")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_invalid_arguments(scheme):
    conv = make_conv(4, 6, 3, 1, 1, 1, False)
    full = min(to_matrix(conv.weight, scheme).shape)
    for rank in (0, -1, full + 1):
        with pytest.raises(ValueError):
            decompose_conv(conv, rank, scheme)
    decompose_conv(conv, full, scheme)  # the largest valid rank
    grouped = nn.Conv2d(4, 6, 3, groups=2)
    with pytest.raises(ValueError):
        decompose_conv(grouped, 1, scheme)
    with pytest.raises(ValueError):
        decompose_conv(nn.Conv2d(4, 6, (2, 2), padding="same"), 1, scheme)  # even kernel, 'same'
    with pytest.raises(TypeError):
        decompose_conv(nn.Linear(4, 6), 1, scheme)
    with pytest.raises(ValueError):
        decompose_conv(conv, 1, "tucker")


def randomize_bn(model, seed=0):
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.running_mean.copy_(0.1 * torch.randn(m.num_features, generator=g))
            m.running_var.copy_(0.5 + torch.rand(m.num_features, generator=g))
            m.weight.data.copy_(0.5 + torch.rand(m.num_features, generator=g))
            m.bias.data.copy_(0.1 * torch.randn(m.num_features, generator=g))


@pytest.mark.parametrize("scheme", SCHEMES)
def test_decompose_model_equals_projected_network(scheme):
    torch.manual_seed(0)
    model = build("resnet20")
    randomize_bn(model)
    model = model.double().eval()
    ranks = {"layer1.0.conv1": 4, "layer1.2.conv2": 9, "layer2.0.conv1": 7, "layer3.1.conv2": 20, "conv1": 2}
    projected = copy.deepcopy(model)
    modules = dict(projected.named_modules())
    with torch.no_grad():
        for name, r in ranks.items():
            modules[name].weight.copy_(projected_weight(modules[name].weight, r, scheme))
    decomposed = decompose_model(copy.deepcopy(model), ranks, scheme).eval()
    dec_modules = dict(decomposed.named_modules())
    for name, r in ranks.items():
        assert isinstance(dec_modules[name], LowRankConv2d) and dec_modules[name].rank == r
    assert sum(isinstance(m, LowRankConv2d) for m in decomposed.modules()) == len(ranks)
    x = torch.randn(3, 3, 32, 32, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref, out, dense = projected(x), decomposed(x), model(x)
    assert max_rel_err(out, ref) < 1e-4
    assert max_rel_err(dense, ref) > 1e-3  # the projection really changed the network
    with pytest.raises(KeyError):
        decompose_model(copy.deepcopy(model), {"layer9.conv": 1}, scheme)


def test_save_and_load_decomposed(tmp_path):
    from trp.artifacts import load_network, save_decomposed

    torch.manual_seed(0)
    model = build("resnet20")
    randomize_bn(model)
    ranks = {"layer1.0.conv1": 3, "layer3.2.conv2": 11}
    model = decompose_model(model, ranks, "spatial").eval()
    save_decomposed(tmp_path / "m.pt", model, "resnet20", "spatial", ranks, meta={"e": 0.1})
    loaded, record = load_network(tmp_path / "m.pt")
    assert record["ranks"] == ranks and record["scheme"] == "spatial" and record["meta"] == {"e": 0.1}
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(loaded.eval()(x), model(x))
