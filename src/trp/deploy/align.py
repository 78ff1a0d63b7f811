"""Ranks of a decomposed network padded up to hardware-friendly multiples without changing its
output: the first conv gets zero filters and the second zero input channels, so the extra
components contribute exactly nothing (for trained networks, whose weights must not change;
from dense weights, `latency_aware.round_ranks` chooses the ranks instead)."""
import torch
from torch import nn

from ..lowrank import LowRankConv2d
from .fold import set_module


def full_rank(low: LowRankConv2d) -> int:
    """The largest rank of the layer's matricized weight (see lowrank.matricize)."""
    c, n = low[0].in_channels, low[1].out_channels
    kh, kw = low[0].kernel_size[0], low[1].kernel_size[1]
    return min(n, c * kh * low[0].kernel_size[1]) if low.scheme == "channel" else min(c * kh, n * kw)


def _grown(conv: nn.Conv2d, out_channels: int, in_channels: int) -> nn.Conv2d:
    """A copy of `conv` with more output or input channels, the new weights zero."""
    new = nn.Conv2d(in_channels, out_channels, conv.kernel_size, conv.stride, conv.padding, conv.dilation,
                    bias=conv.bias is not None, padding_mode=conv.padding_mode, device=conv.weight.device,
                    dtype=conv.weight.dtype)
    with torch.no_grad():
        new.weight.zero_()
        new.weight[:conv.out_channels, :conv.in_channels] = conv.weight
        if conv.bias is not None:
            new.bias.zero_()
            new.bias[:conv.out_channels] = conv.bias
    return new


def pad_ranks(model: nn.Module, multiple: int = 8) -> nn.Module:
    """Every LowRankConv2d of `model` padded, in place, to the next multiple of `multiple` (at
    most its full rank); the outputs are unchanged."""
    if multiple < 1:
        raise ValueError(f"multiple must be >= 1, got {multiple}")
    for name, low in [(n, m) for n, m in model.named_modules() if isinstance(m, LowRankConv2d)]:
        rank = min(full_rank(low), -(-low.rank // multiple) * multiple)
        if rank > low.rank:
            first, second = _grown(low[0], rank, low[0].in_channels), _grown(low[1], low[1].out_channels, rank)
            set_module(model, name, LowRankConv2d(first, second, rank, low.scheme))
    return model
