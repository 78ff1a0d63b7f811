"""BatchNorm folded into the conv before it, for inference: W' = W * g / sqrt(v + eps) per output
channel and b' = (b - m) * g / sqrt(v + eps) + beta, the BN replaced by an identity. A decomposed
layer (LowRankConv2d, two convs) gets its BN folded into its second conv, the one that makes the
original conv's output channels."""
import copy

import torch
from torch import fx, nn
from torch.nn.utils.fusion import fuse_conv_bn_eval


def conv_bn_pairs(model: nn.Module) -> list[tuple[str, str]]:
    """(conv, bn) module names where the BN's input is that conv's output, that output has no
    other use, and each module is called once: the pairs whose folding preserves the outputs.
    Found on the FX graph of the model (LowRankConv2d is traced through, so its second conv is
    the one named)."""
    graph = fx.symbolic_trace(model).graph
    modules = dict(model.named_modules())
    calls = [n for n in graph.nodes if n.op == "call_module"]
    once = {t for t in {n.target for n in calls} if sum(n.target == t for n in calls) == 1}
    pairs = []
    for node in calls:
        src = node.args[0] if node.args else None
        if (isinstance(modules[node.target], nn.BatchNorm2d) and isinstance(src, fx.Node) and src.op == "call_module"
                and isinstance(modules[src.target], nn.Conv2d) and len(src.users) == 1
                and {node.target, src.target} <= once and modules[node.target].track_running_stats):
            pairs.append((src.target, node.target))
    return pairs


def set_module(model: nn.Module, name: str, module: nn.Module) -> None:
    """Put `module` at the dotted `name` of `model`."""
    parent, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent) if parent else model, child, module)


@torch.no_grad()
def fold_bn(model: nn.Module) -> nn.Module:
    """An eval-mode copy of `model` with every foldable BN (see `conv_bn_pairs`) folded into its
    conv; its outputs equal the model's in eval mode up to rounding."""
    folded = copy.deepcopy(model).eval()
    modules = dict(folded.named_modules())
    for conv, bn in conv_bn_pairs(folded):
        set_module(folded, conv, fuse_conv_bn_eval(modules[conv], modules[bn]))
        set_module(folded, bn, nn.Identity())
    return folded
