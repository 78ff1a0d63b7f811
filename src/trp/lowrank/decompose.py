"""Decomposition of a dense conv into the real two-conv low-rank layer, and of whole networks."""
import torch
from torch import nn

from .matricize import check_scheme, matrix_shape, to_matrix
from .svd import batched_svd, float32_or_better


class LowRankConv2d(nn.Sequential):
    """Two convs that together compute a rank-`rank` conv (see `matricize` for the schemes)."""

    def __init__(self, first: nn.Conv2d, second: nn.Conv2d, rank: int, scheme: str):
        super().__init__(first, second)
        self.rank, self.scheme = rank, scheme

    def extra_repr(self) -> str:
        return f"rank={self.rank}, scheme={self.scheme!r}"


def conv_padding(conv: nn.Conv2d) -> tuple[int, int]:
    """The conv's padding as two integers ('valid' and odd-kernel 'same' resolved)."""
    if isinstance(conv.padding, str):
        if conv.padding == "valid":
            return (0, 0)
        if any(k % 2 == 0 for k in conv.kernel_size):
            raise ValueError("padding='same' with an even kernel cannot be split into two convs")
        return tuple(d * (k - 1) // 2 for d, k in zip(conv.dilation, conv.kernel_size))
    return tuple(conv.padding)


def check_decomposable(conv: nn.Conv2d, scheme: str) -> None:
    check_scheme(scheme)
    if not isinstance(conv, nn.Conv2d):
        raise TypeError(f"expected nn.Conv2d, got {type(conv).__name__}")
    if conv.groups != 1:
        raise ValueError("grouped convolutions are not decomposed (groups must be 1)")
    if scheme == "spatial" and conv.padding_mode != "zeros":
        raise ValueError("the spatial scheme needs zero padding (padding_mode='zeros')")


def factors(weight: torch.Tensor, rank: int, scheme: str, svd=None) -> tuple[torch.Tensor, torch.Tensor]:
    """Weights of the two convs of a rank-`rank` decomposition; sqrt(S) goes to each factor."""
    n, c, kh, kw = weight.shape
    U, S, Vh = svd if svd is not None else torch.linalg.svd(to_matrix(float32_or_better(weight), scheme), full_matrices=False)
    root = S[:rank].sqrt()
    left, right = U[:, :rank] * root, root[:, None] * Vh[:rank]  # (rows, r), (r, cols)
    if scheme == "channel":
        return right.reshape(rank, c, kh, kw), left.reshape(n, rank, 1, 1)
    return left.T.reshape(rank, c, kh, 1), right.reshape(rank, n, kw).transpose(0, 1).reshape(n, rank, 1, kw)


def decompose_conv(conv: nn.Conv2d, rank: int, scheme: str, svd=None) -> LowRankConv2d:
    """Replace `conv` by its rank-`rank` truncated-SVD decomposition (Eq. 3): stride, padding,
    dilation and bias preserved. Its output equals that of the conv with the projected weight."""
    check_decomposable(conv, scheme)
    rows, cols = matrix_shape(conv.weight.shape, scheme)
    if not 1 <= rank <= min(rows, cols):
        raise ValueError(f"rank must lie in [1, {min(rows, cols)}], got {rank}")
    n, c, kh, kw = conv.weight.shape
    (sh, sw), (ph, pw), (dh, dw) = conv.stride, conv_padding(conv), conv.dilation
    kwargs = dict(device=conv.weight.device, dtype=conv.weight.dtype)
    if scheme == "channel":
        first = nn.Conv2d(c, rank, (kh, kw), conv.stride, (ph, pw), conv.dilation, bias=False,
                          padding_mode=conv.padding_mode, **kwargs)
        second = nn.Conv2d(rank, n, 1, bias=conv.bias is not None, **kwargs)
    else:
        first = nn.Conv2d(c, rank, (kh, 1), (sh, 1), (ph, 0), (dh, 1), bias=False, **kwargs)
        second = nn.Conv2d(rank, n, (1, kw), (1, sw), (0, pw), (1, dw), bias=conv.bias is not None, **kwargs)
    w1, w2 = factors(conv.weight, rank, scheme, svd)
    with torch.no_grad():
        first.weight.copy_(w1)
        second.weight.copy_(w2)
        if conv.bias is not None:
            second.bias.copy_(conv.bias)
    return LowRankConv2d(first, second, rank, scheme)


def decompose_model(model: nn.Module, ranks: dict[str, int], scheme: str) -> nn.Module:
    """Replace each named conv by its decomposition at the given rank, in place."""
    modules = dict(model.named_modules())
    unknown = sorted(set(ranks) - set(modules))
    if unknown:
        raise KeyError(f"no such layers in the model: {unknown}")
    names = list(ranks)
    svds = batched_svd([to_matrix(modules[n].weight, scheme) for n in names])
    for name, svd in zip(names, svds):
        parent, _, child = name.rpartition(".")
        owner = modules[parent] if parent else model
        setattr(owner, child, decompose_conv(modules[name], ranks[name], scheme, svd))
    return model
