"""SVDs of many matrices, batched over equal shapes, always in float32 or better."""
from collections import defaultdict

import torch


def batched_svd(matrices: list[torch.Tensor]) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Thin SVD (U, S, Vh) of each matrix; matrices of equal shape share one batched call."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for i, m in enumerate(matrices):
        groups[(tuple(m.shape), m.device)].append(i)
    out: list = [None] * len(matrices)
    for idx in groups.values():
        stack = torch.stack([matrices[i].detach() for i in idx])
        if stack.dtype not in (torch.float32, torch.float64):
            stack = stack.float()
        U, S, Vh = torch.linalg.svd(stack, full_matrices=False)
        for j, i in enumerate(idx):
            out[i] = (U[j], S[j], Vh[j])
    return out


def truncate(U: torch.Tensor, S: torch.Tensor, Vh: torch.Tensor, rank: int) -> torch.Tensor:
    """U_k diag(S_k) Vh_k."""
    return (U[..., :rank] * S[..., :rank].unsqueeze(-2)) @ Vh[..., :rank, :]
