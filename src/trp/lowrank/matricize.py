"""Matricization of a 4-D conv weight (n, c, kh, kw) and its inverse.

channel (Zhang et al. 2016, TRP1): M = W as n x (c*kh*kw); rank r gives a kh x kw conv with r
filters followed by a 1x1 conv with n filters.
spatial (Jaderberg et al. 2014, TRP2): M[(c, h), (n, w)] = W[n, c, h, w], a (c*kh) x (n*kw)
matrix; rank r gives a kh x 1 conv with r filters followed by a 1 x kw conv with n filters.
"""
import torch

SCHEMES = ("channel", "spatial")


def check_scheme(scheme: str) -> None:
    if scheme not in SCHEMES:
        raise ValueError(f"unknown decomposition scheme {scheme!r}; choose one of {SCHEMES}")


def to_matrix(weight: torch.Tensor, scheme: str) -> torch.Tensor:
    """Matricize weights of shape (..., n, c, kh, kw); leading dims are kept as a batch."""
    check_scheme(scheme)
    *batch, n, c, kh, kw = weight.shape
    if scheme == "channel":
        return weight.reshape(*batch, n, c * kh * kw)
    return weight.movedim(-4, -2).reshape(*batch, c * kh, n * kw)  # (..., c, kh, n, kw)


def from_matrix(matrix: torch.Tensor, shape: torch.Size, scheme: str) -> torch.Tensor:
    """Inverse of `to_matrix` for a target weight shape (n, c, kh, kw)."""
    check_scheme(scheme)
    n, c, kh, kw = shape[-4:]
    batch = matrix.shape[:-2]
    if scheme == "channel":
        return matrix.reshape(*batch, n, c, kh, kw)
    return matrix.reshape(*batch, c, kh, n, kw).movedim(-2, -4)


def matrix_shape(shape, scheme: str) -> tuple[int, int]:
    check_scheme(scheme)
    n, c, kh, kw = shape
    return (n, c * kh * kw) if scheme == "channel" else (c * kh, n * kw)
