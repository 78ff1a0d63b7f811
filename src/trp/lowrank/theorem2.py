"""Theorem 2 and the quantities of the paper's rank-convergence analysis (Sec. 3.4), as small pure
functions: the one implementation that the property tests check and the rank log records.

Everything is computed in float64 and returned as Python numbers, except theorem2_norms: a tensor
on the weights' device, so that a projection reads every layer's at once. Matrices may be torch tensors
or anything `torch.as_tensor` accepts; 4-D conv weights are matricized first when `scheme` is
given. Used by the property tests and by the training logger (is Theorem 2's condition met
between two successive TSVDs, and did the rank fall as it promises?).
"""
import math

import torch

from .energy import energy_ranks
from .matricize import to_matrix


def _matrix(A, scheme: str | None = None) -> torch.Tensor:
    A = torch.as_tensor(A).detach().to(torch.float64)
    if scheme is not None:
        A = to_matrix(A, scheme)
    if A.dim() != 2:
        raise ValueError(f"expected a matrix (or a 4-D weight with a scheme), got shape {tuple(A.shape)}")
    return A


def singular_values(A, scheme: str | None = None) -> torch.Tensor:
    """Descending singular values of A (Eq. 3), float64."""
    return torch.linalg.svdvals(_matrix(A, scheme))


def frobenius(A, scheme: str | None = None) -> float:
    """||A||_F."""
    return float(torch.linalg.matrix_norm(_matrix(A, scheme)))


def tail_energy(singular_values, k: int) -> float:
    # Eq. (8) right-hand side: sqrt(sum_{j>k} s_j^2), the error of the best rank-k approximation.
    return float(_tail_energy(torch.as_tensor(singular_values).detach().to(torch.float64), k))


def _tail_energy(s: torch.Tensor, k: int) -> torch.Tensor:
    # Eq. (8) right-hand side as a float64 0-d tensor on s's device.
    if k < 0:
        raise ValueError(f"k must be >= 0, got {k}")
    return s[k:].square().sum().sqrt()


def mirsky_gap(A, E) -> tuple[float, float]:
    # Eq. (7), Mirsky's theorem: lhs = sqrt(sum_i |s~_i - s_i|^2) <= rhs = ||E||_F, A~ = A + E.
    A, E = _matrix(A), _matrix(E)
    s, s_pert = torch.linalg.svdvals(A), torch.linalg.svdvals(A + E)
    return float((s_pert - s).square().sum().sqrt()), float(torch.linalg.matrix_norm(E))


def corollary1_chain(A, B, k: int) -> tuple[float, float, float]:
    # Eq. (8): ||B - A||_F >= sqrt(sum_i |phi_i - s_i|^2) >= sqrt(sum_{j>k} s_j^2) for rank(B) <= k.
    A, B = _matrix(A), _matrix(B)
    s, phi = torch.linalg.svdvals(A), torch.linalg.svdvals(B)
    return (float(torch.linalg.matrix_norm(B - A)), float((phi - s).square().sum().sqrt()), tail_energy(s, k))


def theorem2_bound_holds(displacement_ratio: float, e: float) -> bool:
    # Theorem 2 / Eq. (12): ||W^{t+m} - T^z||_F / ||W^{t+m}||_F < sqrt(e) implies rank(T^{z+1}) <= rank(T^z).
    return bool(displacement_ratio < math.sqrt(e))


def _spectrum(W: torch.Tensor, singular_values=None) -> torch.Tensor:
    """W's singular values in float64: `singular_values` when given, else computed (Eq. 3)."""
    return torch.linalg.svdvals(W) if singular_values is None else torch.as_tensor(singular_values).to(torch.float64)


def theorem2_norms(W_next, T_prev, k_prev: int, scheme: str | None = None, singular_values=None) -> torch.Tensor:
    # Eq. (11)-(12): [||W^{t+m}||_F, ||W^{t+m} - T^z||_F, sqrt(sum_{j>k_prev} s_j^2)] of W^{t+m}, float64.
    """The three Frobenius-type norms Theorem 2's quantities are ratios of, as one float64 tensor
    on the weights' device (read them with the other layers' in one transfer).
    `singular_values` of W_next may be passed when already computed (the projection has them)."""
    W, T = _matrix(W_next, scheme), _matrix(T_prev, scheme)
    if W.shape != T.shape:
        raise ValueError(f"W_next and T_prev differ in shape: {tuple(W.shape)} vs {tuple(T.shape)}")
    s = _spectrum(W, singular_values)
    return torch.stack([torch.linalg.matrix_norm(W), torch.linalg.matrix_norm(W - T), _tail_energy(s, k_prev)])


def theorem2_from_norms(norm: float, distance: float, tail: float, k_prev: int, e: float,
                        steps: int | None = None, max_step: float | None = None) -> dict:
    # Eq. (9)-(12) from theorem2_norms' three numbers (read on the host).
    """displacement = ||W_next - T_prev||_F / ||W_next||_F (the accumulated SGD step, Eq. 11's
    left side over ||W^{t+m}||_F), tail_ratio = tail energy of W_next beyond k_prev over
    ||W_next||_F (Eq. 12's left side; <= displacement by Corollary 1 when rank(T_prev) <= k_prev),
    sqrt_e, bound_holds (displacement < sqrt(e)).
    With `steps` (m) and `max_step` (G, the largest ||alpha grad f||_F over those steps), also
    step_bound = mG/||W_next||_F, the paper's own left side of Eq. (12), and whether it is < sqrt(e)
    (Theorem 2's assumption)."""
    displacement = distance / norm if norm > 0 else math.inf
    return {
        "displacement": displacement,
        "tail_ratio": tail / norm if norm > 0 else math.inf,
        "sqrt_e": math.sqrt(e),
        "bound_holds": theorem2_bound_holds(displacement, e),
        "rank_prev": int(k_prev),
        **({} if steps is None else {"step_bound": steps * max_step / norm if norm > 0 else math.inf,
                                     "assumption_holds": theorem2_bound_holds(steps * max_step / norm, e)
                                     if norm > 0 else False}),
    }


def theorem2_quantities(W_next, T_prev, k_prev: int, e: float, scheme: str | None = None,
                        singular_values=None, steps: int | None = None, max_step: float | None = None) -> dict:
    # Eq. (9)-(12): W_next = W^{t+m}, T_prev = T^z = TSVD(W^t; e) of rank k_prev.
    """theorem2_from_norms' quantities of one layer, and rank_next = energy rank of W_next (Eq. 4),
    which is <= k_prev whenever tail_ratio < sqrt(e), in particular whenever bound_holds."""
    W, T = _matrix(W_next, scheme), _matrix(T_prev, scheme)
    s = _spectrum(W, singular_values)
    norms = theorem2_norms(W, T, k_prev, singular_values=s)
    *numbers, rank_next = torch.cat([norms, energy_ranks(s, e).to(torch.float64).reshape(1)]).tolist()
    return {**theorem2_from_norms(*numbers, k_prev, e, steps, max_step), "rank_next": int(rank_next)}
