"""The energy rule of TSVD (Eq. 4 / Eq. 10)."""
import torch


def check_e(e: float) -> float:
    """The energy threshold e of Eq. (4) as a float; ValueError unless 0 < e < 1."""
    if not 0.0 < e < 1.0:
        raise ValueError(f"energy threshold e must lie in (0, 1), got {e}")
    return float(e)


def energy_ranks(singular_values: torch.Tensor, e: float) -> torch.Tensor:
    """Batched Eq. (4): for each row of descending singular values, the smallest k with
    sum_{j>k} s_j^2 <= e * sum_j s_j^2. Computed in float64."""
    check_e(e)
    s2 = singular_values.detach().to(torch.float64) ** 2
    total = s2.sum(-1, keepdim=True)
    # tail[..., k] = sum_{j >= k} s_j^2 (0-based) = energy discarded when keeping k values.
    tail = s2.flip(-1).cumsum(-1).flip(-1)
    return (tail > e * total).sum(-1)


def energy_rank(singular_values: torch.Tensor, e: float) -> int:
    """Eq. (4): the smallest k such that sum_{j>k} s_j^2 <= e * sum_j s_j^2."""
    s = torch.as_tensor(singular_values)
    if s.dim() != 1:
        raise ValueError(f"singular_values must be 1-D, got shape {tuple(s.shape)}")
    return int(energy_ranks(s, e))


def energy_ratios(singular_values: torch.Tensor) -> torch.Tensor:
    """Eq. (13): ER(i) = s_i^2 / sum_j s_j^2 (zeros for an all-zero spectrum)."""
    s2 = singular_values.detach().to(torch.float64) ** 2
    return s2 / s2.sum(-1, keepdim=True).clamp_min(torch.finfo(torch.float64).tiny)
