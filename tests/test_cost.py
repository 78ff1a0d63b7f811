"""The MAC / parameter cost model against torch's FlopCounterMode (FLOPs = 2 x MACs)."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from trp.lowrank import (SCHEMES, break_even_rank, conv_macs, conv_params, decompose_conv, decompose_model,
                         find_sites, model_cost, speedup, to_matrix)
from trp.models import build



# (c, n, kernel, stride, padding, dilation, bias, input hw)
CONFIGS = [
    (3, 16, 3, 1, 1, 1, False, (16, 16)),
    (16, 32, 3, 2, 1, 1, False, (16, 16)),
    (16, 32, 3, 2, 1, 1, False, (17, 15)),  # odd input: not the largest input for its output size
    (8, 12, 1, 1, 0, 1, True, (10, 11)),
    (8, 12, 1, 2, 0, 1, False, (11, 10)),
    (6, 10, 5, 1, 2, 1, True, (9, 12)),
    (6, 10, 5, 2, 0, 1, False, (15, 14)),
    (5, 9, (3, 5), 1, (1, 2), 1, False, (8, 13)),
    (5, 9, (3, 5), 2, 1, 1, True, (12, 13)),
    (4, 7, (1, 3), (2, 1), (0, 1), 1, False, (9, 9)),
    (4, 7, (5, 3), (1, 2), 1, 2, True, (14, 10)),
    (7, 5, 3, 1, 0, (2, 1), True, (11, 12)),
]


def flops(module, x):
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(x)
    return counter.get_total_flops()


def make(c, n, kernel, stride, padding, dilation, bias):
    torch.manual_seed(0)
    return nn.Conv2d(c, n, kernel, stride, padding, dilation, bias=bias)


@pytest.mark.parametrize("c, n, kernel, stride, padding, dilation, bias, hw", CONFIGS)
def test_conv_macs_match_flop_counter(c, n, kernel, stride, padding, dilation, bias, hw):
    conv = make(c, n, kernel, stride, padding, dilation, bias)
    x = torch.randn(1, c, *hw)
    out_hw = tuple(conv(x).shape[-2:])
    assert flops(conv, x) == 2 * conv_macs(conv, None, None, out_hw)
    assert conv_params(conv, None, None) == sum(p.numel() for p in conv.parameters())
    n_, c_, kh, kw = conv.weight.shape
    for scheme in SCHEMES:
        full = min(to_matrix(conv.weight, scheme).shape)
        for rank in sorted({1, max(1, full // 2), full}):
            low = decompose_conv(conv, rank, scheme)
            assert tuple(low(x).shape[-2:]) == out_hw
            macs = conv_macs(conv, rank, scheme, out_hw, in_hw=hw)
            assert flops(low, x) == 2 * macs, (scheme, rank)
            assert conv_params(conv, rank, scheme) == sum(p.numel() for p in low.parameters())
            if scheme == "channel":  # per output pixel: r * (c kh kw + n), independent of the input size
                assert macs == out_hw[0] * out_hw[1] * rank * (c * kh * kw + n)
                assert conv_macs(conv, rank, scheme, out_hw) == macs


@pytest.mark.parametrize("c, n, kernel, stride, padding, dilation, bias, hw", CONFIGS)
def test_spatial_default_input_is_the_largest(c, n, kernel, stride, padding, dilation, bias, hw):
    """Without in_hw the spatial scheme assumes the largest input width that gives out_hw."""
    conv = make(c, n, kernel, stride, padding, dilation, bias)
    out_hw = tuple(conv(torch.zeros(1, c, *hw)).shape[-2:])
    (_, kw), (_, sw), (_, pw), (_, dw) = conv.kernel_size, conv.stride, conv.padding, conv.dilation

    def out_width(w):  # PyTorch's output-size rule
        return (w + 2 * pw - dw * (kw - 1) - 1) // sw + 1

    widest = max(w for w in range(dw * (kw - 1) + 1, 4 * hw[1]) if out_width(w) == out_hw[1])
    x = torch.randn(1, c, hw[0], widest)
    assert tuple(conv(x).shape[-2:]) == out_hw
    low = decompose_conv(conv, 2, "spatial")
    assert flops(low, x) == 2 * conv_macs(conv, 2, "spatial", out_hw)


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_spatial_default_input_with_string_padding(padding):
    conv = nn.Conv2d(4, 6, 3, padding=padding)
    out_hw = tuple(conv(torch.zeros(1, 4, 8, 8)).shape[-2:])
    assert conv_macs(conv, 2, "spatial", out_hw) == conv_macs(conv, 2, "spatial", out_hw, in_hw=(8, 8))


@pytest.mark.parametrize("padding", ["same", "valid"])
def test_string_padding_with_input_size(padding):
    conv = nn.Conv2d(4, 6, 3, padding=padding)
    x = torch.randn(1, 4, 8, 9)
    out_hw = tuple(conv(x).shape[-2:])
    for scheme in SCHEMES:
        assert flops(decompose_conv(conv, 2, scheme), x) == 2 * conv_macs(conv, 2, scheme, out_hw, in_hw=(8, 9))


def test_resnet_dense_costs():
    model = build("resnet20")
    cost = model_cost(model, (3, 32, 32))
    assert cost["conv_macs"] == 40_550_400  # the ~40.55M of the paper's baseline
    assert cost["whole_macs"] == cost["conv_macs"] + 64 * 10
    assert model.training  # model_cost restores the mode
    assert 2 * cost["whole_macs"] == flops(model.eval(), torch.zeros(1, 3, 32, 32))
    assert cost["total_params"] == pytest.approx(0.27e6, rel=0.01)
    assert cost["conv_params"] == sum(m.weight.numel() for m in model.modules() if isinstance(m, nn.Conv2d))
    assert len([r for r in cost["layers"] if r["kind"] == "conv"]) == 19
    cost56 = model_cost(build("resnet56"), (3, 32, 32))
    assert cost56["total_params"] == pytest.approx(0.85e6, rel=0.01)
    assert cost56["conv_macs"] == pytest.approx(125.5e6, rel=0.001)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_decomposed_resnet20_costs(scheme):
    torch.manual_seed(0)
    dense = build("resnet20").eval()
    sites = {s.name: s for s in find_sites(dense, (3, 32, 32), scheme, exclude=("conv1",))}
    assert len(sites) == 18
    ranks = {name: max(1, min(s.break_even, s.full_rank) // (2 + i % 3)) for i, (name, s) in enumerate(sites.items())}
    dense_cost = model_cost(dense, (3, 32, 32))
    model = decompose_model(build("resnet20"), ranks, scheme).eval()
    cost = model_cost(model, (3, 32, 32))
    assert 2 * cost["whole_macs"] == flops(model, torch.zeros(1, 3, 32, 32))
    rows = {r["name"]: r for r in cost["layers"]}
    assert set(rows) == {r["name"] for r in dense_cost["layers"]}  # reported under the original names
    for name, r in ranks.items():
        site = sites[name]
        assert rows[name]["rank"] == r and rows[name]["scheme"] == scheme
        assert rows[name]["macs"] == conv_macs(site.conv, r, scheme, site.out_hw, site.in_hw)
        assert rows[name]["params"] == conv_params(site.conv, r, scheme)
        assert rows[name]["macs"] < conv_macs(site.conv, None, None, site.out_hw)  # below break-even
    assert rows["conv1"]["rank"] is None and rows["conv1"]["macs"] == 32 * 32 * 16 * 27
    assert cost["conv_params"] == sum(rows[n]["params"] for n in rows if rows[n]["kind"] == "conv")
    assert cost["total_params"] == sum(p.numel() for p in model.parameters())
    s = speedup(dense_cost, cost)
    assert s["conv"] == pytest.approx(dense_cost["conv_macs"] / cost["conv_macs"]) and s["conv"] > 1
    assert 1 < s["whole"] < s["conv"]


@settings(max_examples=150, deadline=None)
@given(c=st.integers(1, 64), n=st.integers(1, 64), kh=st.integers(1, 5), kw=st.integers(1, 5),
       stride=st.integers(1, 2), h=st.integers(5, 40), w=st.integers(5, 40),
       scheme=st.sampled_from(SCHEMES))
def test_break_even_rank(c, n, kh, kw, stride, h, w, scheme):
    conv = nn.Conv2d(c, n, (kh, kw), stride, (kh // 2, kw // 2), device="meta")
    out_hw = ((h + 2 * (kh // 2) - kh) // stride + 1, (w + 2 * (kw // 2) - kw) // stride + 1)
    dense = conv_macs(conv, None, None, out_hw)
    r = break_even_rank(conv, scheme, out_hw, (h, w))
    assert r >= 0
    if r >= 1:
        assert conv_macs(conv, r, scheme, out_hw, (h, w)) < dense  # r saves MACs
    assert conv_macs(conv, r + 1, scheme, out_hw, (h, w)) >= dense  # r + 1 does not


def test_break_even_rank_examples():
    conv = nn.Conv2d(16, 16, 3, padding=1)
    # channel: 32*32*16*144 dense vs 32*32*r*(144 + 16) per rank: r < 14.4
    assert break_even_rank(conv, "channel", (32, 32)) == 14
    # spatial at 32x32 in and out: r * (48 + 48) < 16 * 144 = 2304: r < 24
    assert break_even_rank(conv, "spatial", (32, 32), (32, 32)) == 23
    assert break_even_rank(nn.Conv2d(1, 1, 1), "channel", (4, 4)) == 0  # a 1x1 conv with one channel never saves
