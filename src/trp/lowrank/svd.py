"""SVDs of many matrices, batched over equal shapes, always in float32 or better."""
from collections import defaultdict
from typing import Callable

import torch


def float32_or_better(t: torch.Tensor) -> torch.Tensor:
    """`t` detached, cast to float32 unless it is float32 or float64 already: the precision every
    SVD and spectral computation runs in (float64 weights keep float64)."""
    t = t.detach()
    return t if t.dtype in (torch.float32, torch.float64) else t.float()


def by_shape(tensors: list[torch.Tensor]) -> list[list[int]]:
    """Indices of `tensors` grouped by (shape, device), groups in order of first appearance."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, t in enumerate(tensors):
        groups[(tuple(t.shape), t.device)].append(i)
    return list(groups.values())


def batched(fn: Callable, tensors: list[torch.Tensor]) -> list:
    """fn applied once per group of equal-shape tensors (stacked and detached); returns, per
    tensor, its slice of fn's result (a tensor, or a tuple of tensors when fn returns a tuple)."""
    out: list = [None] * len(tensors)
    for idx in by_shape(tensors):
        res = fn(torch.stack([tensors[i].detach() for i in idx]))
        for j, i in enumerate(idx):
            out[i] = tuple(r[j] for r in res) if isinstance(res, tuple) else res[j]
    return out


def batched_svd(matrices: list[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Thin SVD (U, S, Vh) of each matrix, in float32 or better; matrices of equal shape share
    one batched call."""
    return batched(lambda stack: torch.linalg.svd(float32_or_better(stack), full_matrices=False), matrices)


def truncate(U: torch.Tensor, S: torch.Tensor, Vh: torch.Tensor, rank: int) -> torch.Tensor:
    """U_k diag(S_k) Vh_k."""
    return (U[..., :rank] * S[..., :rank].unsqueeze(-2)) @ Vh[..., :rank, :]
