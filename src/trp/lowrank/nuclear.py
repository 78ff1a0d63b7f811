"""Stochastic sub-gradient of the nuclear norm (Eq. 5-6): U_r V_r^T, r = rank(W)."""
import torch

from .matricize import from_matrix, to_matrix
from .svd import batched, float32_or_better


def polar_factor(A: torch.Tensor) -> torch.Tensor:
    """U_r V_r^T of A = U S V^T over its numerically non-zero singular values (Eq. 6), batched.

    Computed from the eigendecomposition of the smaller Gram matrix in float64
    (U_r V_r^T = Q_r L_r^{-1/2} Q_r^T A with A A^T = Q L Q^T): faster than an SVD on a CPU for
    these small matrices, and equal to U_r V_r^T from the SVD within test tolerance. The numerical rank counts singular values
    above s_max * max(p, q) * eps(float32), the precision the weights are stored in."""
    wide = A.shape[-2] <= A.shape[-1]
    X = (A if wide else A.mT).to(torch.float64)
    L, Q = torch.linalg.eigh(X @ X.mT)
    s = L.clamp_min(0).sqrt()
    tol = s.amax(-1, keepdim=True) * max(X.shape[-2:]) * torch.finfo(torch.float32).eps
    inv = torch.where(s > tol, 1.0 / s.clamp_min(torch.finfo(torch.float64).tiny), torch.zeros_like(s))
    P = ((Q * inv.unsqueeze(-2)) @ Q.mT) @ X
    return (P if wide else P.mT).to(A.dtype)


def add_nuclear_subgradient(weights: list[torch.Tensor], lam: float, scheme: str) -> None:
    """grad += lam * U_r V_r^T for each weight (Eq. 6), batched over equal matrix shapes."""
    if lam == 0 or not weights:
        return
    with torch.no_grad():
        directions = batched(lambda W: from_matrix(polar_factor(to_matrix(float32_or_better(W), scheme)), W.shape, scheme),
                             weights)
        for w, g in zip(weights, directions):
            add_to_grad(w, g, lam)


def add_to_grad(weight: torch.Tensor, direction: torch.Tensor, lam: float) -> None:
    direction = direction.to(weight.dtype)
    if weight.grad is None:
        weight.grad = lam * direction
    else:
        weight.grad.add_(direction, alpha=lam)
