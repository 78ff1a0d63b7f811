"""MACs and parameters of dense and decomposed convolutions, per layer and per network.

Conventions: MACs are multiply-accumulates of one image (batch 1). "conv" counts convolutions
only, as the authors did; "whole" adds the fully connected layer. BN, ReLU, pooling and the
residual additions are not counted (torch's FlopCounterMode does not count them either; its
FLOPs are 2 x these MACs). Speedup = dense MACs / decomposed MACs.
"""
import torch
from torch import nn

from .decompose import LowRankConv2d, conv_padding
from .matricize import check_scheme, matrix_shape


def _pair(v) -> tuple[int, int]:
    return tuple(v) if isinstance(v, (tuple, list)) else (v, v)


def _largest_input(out: int, k: int, stride: int, pad: int, dil: int) -> int:
    """The largest input length that a conv maps to `out` (inverse of PyTorch's floor rule)."""
    return (out - 1) * stride + dil * (k - 1) + 1 - 2 * pad + stride - 1


def conv_macs(conv: nn.Conv2d, rank: int | None, scheme: str | None, out_hw, in_hw=None) -> int:
    """MACs of `conv` for one image at output size `out_hw`, dense (rank None) or decomposed at
    `rank` with `scheme`. The spatial scheme's first (kh x 1) conv runs at the input width, so
    `in_hw` matters there; by default it is the largest input that gives `out_hw`."""
    n, cg, kh, kw = conv.weight.shape
    ho, wo = _pair(out_hw)
    if rank is None:
        return ho * wo * n * cg * kh * kw
    check_scheme(scheme)
    c = cg * conv.groups
    if scheme == "channel":
        return ho * wo * rank * (c * kh * kw + n)
    if in_hw is None:
        sw, pw, dw = conv.stride[1], conv_padding(conv)[1], conv.dilation[1]
        wi = _largest_input(wo, kw, sw, pw, dw)
    else:
        wi = _pair(in_hw)[1]
    return ho * wi * rank * c * kh + ho * wo * n * rank * kw


def conv_params(conv: nn.Conv2d, rank: int | None, scheme: str | None) -> int:
    """Weights (and bias) of a dense or decomposed conv."""
    bias = conv.out_channels if conv.bias is not None else 0
    if rank is None:
        return conv.weight.numel() + bias
    rows, cols = matrix_shape(conv.weight.shape, scheme)
    return rank * (rows + cols) + bias


def break_even_rank(conv: nn.Conv2d, scheme: str, out_hw, in_hw=None) -> int:
    """The largest rank whose decomposed form needs fewer MACs than the dense conv (0 if none)."""
    dense = conv_macs(conv, None, None, out_hw)
    per_rank = conv_macs(conv, 1, scheme, out_hw, in_hw)
    return (dense - 1) // per_rank


def dry_forward(model: nn.Module, input_size, hooks: dict) -> None:
    """One eval-mode forward pass of a zero image of `input_size` (C, H, W) with forward hooks
    {module: hook} attached, to read layer shapes; the model's mode is restored."""
    handles = [m.register_forward_hook(h) for m, h in hooks.items()]
    p = next(model.parameters())
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            model(torch.zeros(1, *input_size, device=p.device, dtype=p.dtype))
    finally:
        model.train(was_training)
        for h in handles:
            h.remove()


def model_cost(model: nn.Module, input_size: tuple[int, ...]) -> dict:
    """Per-layer and total MACs and parameters, measured from one forward pass at `input_size`
    (C, H, W). Decomposed layers (LowRankConv2d) are reported under their original name."""
    rows: dict[str, dict] = {}
    owners = {}
    for name, mod in model.named_modules():
        if isinstance(mod, LowRankConv2d):
            owners[id(mod[0])] = owners[id(mod[1])] = (name, mod)

    def hook(mod, inputs, output):
        name, owner = owners.get(id(mod), (names[id(mod)], None))
        row = rows.setdefault(name, {"name": name, "kind": "conv" if isinstance(mod, nn.Conv2d) else "linear",
                                     "rank": None, "scheme": None, "macs": 0, "params": 0})
        if isinstance(mod, nn.Conv2d):
            row["macs"] += conv_macs(mod, None, None, output.shape[-2:])
        else:
            row["macs"] += mod.in_features * mod.out_features
        row["params"] += sum(p.numel() for p in mod.parameters(recurse=False))
        if owner is not None:
            row["rank"], row["scheme"] = owner.rank, owner.scheme

    names = {id(m): n for n, m in model.named_modules()}
    dry_forward(model, input_size, {m: hook for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))})
    layers = list(rows.values())
    conv = [r for r in layers if r["kind"] == "conv"]
    return {
        "layers": layers,
        "conv_macs": sum(r["macs"] for r in conv),
        "whole_macs": sum(r["macs"] for r in layers),
        "conv_params": sum(r["params"] for r in conv),
        "total_params": sum(p.numel() for p in model.parameters()),
    }


def speedup(dense_cost: dict, decomposed_cost: dict) -> dict:
    """Dense MACs / decomposed MACs, in both conventions."""
    return {k: dense_cost[f"{k}_macs"] / decomposed_cost[f"{k}_macs"] for k in ("conv", "whole")}
