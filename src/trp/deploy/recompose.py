"""A decomposed layer turned back into one dense conv with the same output: its weight is the
product of the two factors (the rank-r weight D(W)), its stride, padding and dilation those of
the original conv. For keeping dense, in a trained decomposed network, the layers whose two-conv
form is not faster (latency_aware.keep_faster)."""
import torch
from torch import nn

from ..lowrank import LowRankConv2d
from .fold import set_module


def dense_conv(low: LowRankConv2d) -> nn.Conv2d:
    """The dense conv computing what `low` computes (up to rounding)."""
    first, second = low[0], low[1]
    a, b = first.weight, second.weight  # (r, c, kh, kw) and (n, r, 1, 1); spatial: (r, c, kh, 1) and (n, r, 1, kw)
    if low.scheme == "channel":
        weight = torch.einsum("nr,rcij->ncij", b[:, :, 0, 0], a)
        stride, padding, dilation = first.stride, first.padding, first.dilation
    else:
        weight = torch.einsum("rci,nrj->ncij", a[..., 0], b[:, :, 0])
        stride, padding, dilation = ((first.stride[0], second.stride[1]), (first.padding[0], second.padding[1]),
                                     (first.dilation[0], second.dilation[1]))
    conv = nn.Conv2d(a.shape[1], b.shape[0], tuple(weight.shape[2:]), stride, padding, dilation,
                     bias=second.bias is not None, padding_mode=first.padding_mode, device=a.device, dtype=a.dtype)
    with torch.no_grad():
        conv.weight.copy_(weight)
        if second.bias is not None:
            conv.bias.copy_(second.bias)
    return conv


def recompose(model: nn.Module, names) -> nn.Module:
    """Replace the named LowRankConv2d layers of `model` by their dense convs, in place."""
    for name in names:
        low = model.get_submodule(name)
        if not isinstance(low, LowRankConv2d):
            raise ValueError(f"{name} is not a decomposed layer (LowRankConv2d) of this network")
        set_module(model, name, dense_conv(low))
    return model
