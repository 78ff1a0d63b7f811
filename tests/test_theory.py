"""Property tests of the paper's theory (Sec. 3.4) and of the low-rank operator it is about:
Mirsky (Eq. 7), Corollary 1 (Eq. 8), the energy rule (Eq. 4/10), Theorem 2 (Eq. 9-12),
the two matricizations and D(W) = project()."""
import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from trp.lowrank import energy_rank, energy_ranks, from_matrix, project, to_matrix
from trp.lowrank.theorem2 import (corollary1_chain, frobenius, mirsky_gap, singular_values, tail_energy,
                        theorem2_bound_holds, theorem2_quantities)

SETTINGS = settings(max_examples=100, deadline=None)
dims = st.integers(1, 12)
seeds = st.integers(0, 2**32 - 1)
thresholds = st.floats(0.01, 0.95)




def gaussian(rng, *shape, scale=1.0):
    return torch.from_numpy(rng.standard_normal(shape) * scale)


def low_rank(rng, m, n, r, scale=1.0):
    return gaussian(rng, m, r, scale=scale) @ gaussian(rng, r, n)


def orthogonal(rng, n):
    q, r = np.linalg.qr(rng.standard_normal((n, n)))
    return torch.from_numpy(q * np.sign(np.diag(r)))


def D(W, e):
    """The TSVD operator of Eq. (9) on a matrix, via the library's project() (a (m, n, 1, 1) weight
    matricizes to the m x n matrix itself under the channel scheme)."""
    P, k = project(W[:, :, None, None], e, "channel")
    return P[:, :, 0, 0], k


def reference_rank(s, e):
    """Eq. (4) by brute force: the smallest k with sum_{j>k} s_j^2 <= e * sum_j s_j^2."""
    s2 = [float(v) ** 2 for v in s]
    total = sum(s2)
    return next(k for k in range(len(s2) + 1) if sum(s2[k:]) <= e * total)


# --- Theorem 1 (Mirsky, Eq. 7) -------------------------------------------------------------------

@SETTINGS
@given(m=dims, n=dims, seed=seeds, log_scale=st.floats(-6, 2), rank=st.integers(1, 12))
def test_mirsky(m, n, seed, log_scale, rank):
    rng = np.random.default_rng(seed)
    A = low_rank(rng, m, n, min(rank, m, n))
    E = gaussian(rng, m, n, scale=10.0 ** log_scale)
    lhs, rhs = mirsky_gap(A, E)
    assert lhs <= rhs * (1 + 1e-10) + 1e-12


def test_mirsky_is_tight_for_aligned_perturbation():
    # E along A's own singular vectors shifts the singular values by exactly E's: equality in Eq. (7).
    A = torch.diag(torch.tensor([3.0, 2.0, 1.0], dtype=torch.float64))
    E = torch.diag(torch.tensor([0.5, -0.25, 0.125], dtype=torch.float64))
    lhs, rhs = mirsky_gap(A, E)
    assert lhs == pytest.approx(rhs, rel=1e-14)


# --- Corollary 1 (Eq. 8) -------------------------------------------------------------------------

@SETTINGS
@given(m=dims, n=dims, seed=seeds, k=st.integers(0, 12), r=st.integers(0, 12))
def test_corollary1(m, n, seed, k, r):
    k = min(k, m, n)
    r = min(r, k)  # rank(B) <= r <= k
    rng = np.random.default_rng(seed)
    A = gaussian(rng, m, n)
    B = low_rank(rng, m, n, r, scale=rng.uniform(0.1, 3)) if r else torch.zeros(m, n, dtype=torch.float64)
    dist, sv_gap, tail = corollary1_chain(A, B, k)
    assert dist >= sv_gap * (1 - 1e-10) - 1e-12
    assert sv_gap >= tail * (1 - 1e-10) - 1e-12
    # Eckart-Young: the truncated SVD attains the bound, ||A - D_k(A)||_F = tail energy.
    U, S, Vh = torch.linalg.svd(A, full_matrices=False)
    best = (U[:, :k] * S[:k]) @ Vh[:k]
    assert frobenius(A - best) == pytest.approx(tail_energy(S, k), rel=1e-9, abs=1e-12)
    assert corollary1_chain(A, best, k)[0] == pytest.approx(tail, rel=1e-9, abs=1e-12)


def test_tail_energy_definition():
    s = torch.tensor([4.0, 3.0, 2.0, 1.0])
    assert tail_energy(s, 0) == pytest.approx(math.sqrt(30))
    assert tail_energy(s, 2) == pytest.approx(math.sqrt(5))
    assert tail_energy(s, 4) == 0.0
    with pytest.raises(ValueError):
        tail_energy(s, -1)


# --- the energy rule (Eq. 4 / Eq. 10) ------------------------------------------------------------

spectra = st.lists(st.floats(1e-3, 1e3), min_size=1, max_size=12).map(lambda v: sorted(v, reverse=True))


@SETTINGS
@given(s=spectra, e=st.floats(1e-6, 1 - 1e-6))
def test_energy_rank_is_the_smallest_k(s, e):
    s = torch.tensor(s, dtype=torch.float64)
    k = energy_rank(s, e)
    total = float((s**2).sum())
    assert 1 <= k <= len(s)
    assert tail_energy(s, k) ** 2 <= e * total * (1 + 1e-12)  # k satisfies Eq. (4)
    assert tail_energy(s, k - 1) ** 2 > e * total * (1 - 1e-12)  # k - 1 does not
    assert k == reference_rank(s, e) or abs(tail_energy(s, k - 1) ** 2 - e * total) < 1e-12 * total


@SETTINGS
@given(s=st.lists(st.floats(0.1, 10), min_size=1, max_size=12).map(lambda v: sorted(v, reverse=True)))
def test_energy_rank_extremes(s):
    s = torch.tensor(s, dtype=torch.float64)
    assert energy_rank(s, 1e-9) == len(s)  # e -> 0 keeps everything (s_min^2 / total >= 1e-2 / 1200)
    assert energy_rank(s, 1 - 1e-9) == 1  # e -> 1 keeps one value of a non-zero spectrum
    assert energy_rank(torch.cat([s, torch.zeros(3, dtype=torch.float64)]), 1e-9) == len(s)  # zeros never kept


def test_energy_rank_zero_spectrum_and_invalid_e():
    assert energy_rank(torch.zeros(4), 0.5) == 0  # 0 <= e * 0 already holds at k = 0
    for e in (0.0, 1.0, -0.1, 1.5):
        with pytest.raises(ValueError):
            energy_rank(torch.ones(3), e)


@pytest.mark.parametrize("squares, e, k", [
    ([4, 4, 4, 1, 1, 1, 1], 0.25, 3),  # tail beyond 3 = 4 = 0.25 * 16 exactly: inclusive, so k = 3
    ([4, 4, 4, 1, 1, 1, 1], 0.1875, 4),  # 3 / 16
    ([1, 1, 1, 1], 0.25, 3),
    ([1, 1, 1, 1], 0.75, 1),
    ([16, 9, 4, 1, 1, 1], 0.09375, 3),  # 3 / 32
    ([16, 9, 4, 1, 1, 1], 0.0625, 4),  # 2 / 32
    ([9, 1], 0.1, 1),  # 0.1 * 10 rounds to exactly 1.0 in binary
])
def test_energy_rank_exact_boundary(squares, e, k):
    s = torch.tensor(squares, dtype=torch.float64).sqrt()
    assert energy_rank(s, e) == k
    assert energy_rank(s, math.nextafter(e, 0)) == k + 1  # just below the boundary: one more value
    assert energy_rank(s, math.nextafter(e, 1)) == k


def test_energy_rank_boundary_needs_exact_squares():
    # The paper's "s^2 = [3, 1], e = 0.25 gives k = 1" holds for the squares, but sqrt(3)**2 is
    # 2.9999999999999996 in float64, so given s = [sqrt(3), 1] the tail 1 exceeds 0.25 * 3.9999...
    assert energy_rank(torch.tensor([3.0, 1.0], dtype=torch.float64).sqrt(), 0.25) == 2


@SETTINGS
@given(ints=st.lists(st.integers(1, 8), min_size=1, max_size=6), data=st.data())
def test_energy_rank_exact_boundary_property(ints, data):
    """Integer singular values padded with ones so that sum s^2 is a power of two: then e = tail_k0 / total
    and e * total are exact in binary, and the rule must return exactly k0 (inclusive <=), and
    k0 + 1 for the next smaller e."""
    ints = sorted(ints, reverse=True)
    total = sum(v * v for v in ints)
    power = 1 << max(1, (total - 1).bit_length())
    if power == total:
        power *= 2
    s = torch.tensor(ints + [1] * (power - total), dtype=torch.float64)
    assert float((s**2).sum()) == power
    k0 = data.draw(st.integers(1, len(s) - 1))
    tail = float((s[k0:] ** 2).sum())
    e = tail / power
    assert e * power == tail  # exact
    assert energy_rank(s, e) == k0
    assert energy_rank(s, math.nextafter(e, 0)) == k0 + 1


@SETTINGS
@given(rows=st.integers(1, 6), n=st.integers(1, 12), seed=seeds, e=thresholds)
def test_energy_ranks_batched_matches_single(rows, n, seed, e):
    rng = np.random.default_rng(seed)
    S = torch.from_numpy(-np.sort(-np.abs(rng.standard_normal((rows, n))), axis=1))
    assert energy_ranks(S, e).tolist() == [energy_rank(row, e) for row in S]


# --- Theorem 2 (Eq. 9-12) ------------------------------------------------------------------------

def allowed_norm(T, Z, e):
    """The largest t with t < sqrt(e) * ||T + t Z||_F for a unit direction Z: the positive root of
    (1 - e) t^2 - 2 e <T, Z> t - e ||T||^2 = 0."""
    c, nt2 = float((T * Z).sum()), float((T * T).sum())
    return (e * c + math.sqrt(e * e * c * c + (1 - e) * e * nt2)) / (1 - e)


@SETTINGS
@given(m=dims, n=dims, seed=seeds, e=thresholds, frac=st.floats(0.0, 0.999), orthogonal_part=st.booleans())
def test_theorem2_rank_does_not_rise(m, n, seed, e, frac, orthogonal_part):
    rng = np.random.default_rng(seed)
    W = gaussian(rng, m, n) * torch.from_numpy(rng.uniform(0.1, 3, n))  # uneven column scales
    T, k = D(W, e)
    Z = gaussian(rng, m, n)
    if orthogonal_part:  # the worst direction for rank growth: outside T's column and row spaces
        U, _, Vh = torch.linalg.svd(T)
        Z = U[:, k:] @ U[:, k:].T @ Z @ Vh[k:].T @ Vh[k:]
    assume(frobenius(Z) > 1e-9)
    Z = Z / frobenius(Z)
    P = frac * allowed_norm(T, Z, e) * Z
    q = theorem2_quantities(T + P, T, k, e)
    assert q["bound_holds"] and theorem2_bound_holds(q["displacement"], e)
    assert q["displacement"] < math.sqrt(e)
    assert q["tail_ratio"] <= q["displacement"] * (1 + 1e-10) + 1e-12  # Eq. (11) via Corollary 1
    _, k_next = D(T + P, e)
    assert k_next == q["rank_next"]
    assert k_next <= k  # rank(T^{z+1}) <= rank(T^z)


@settings(max_examples=30, deadline=None)
@given(m=st.integers(2, 10), n=st.integers(2, 10), seed=seeds, e=st.floats(0.02, 0.6), steps=st.integers(1, 6),
       frac=st.floats(0.0, 0.999))
def test_theorem2_chain_of_tsvds(m, n, seed, e, steps, frac):
    """Eq. (9) iterated: SGD-like steps that stay within Theorem 2's bound between successive TSVDs
    give a non-increasing rank sequence."""
    rng = np.random.default_rng(seed)
    T, k = D(gaussian(rng, m, n), e)
    ranks = [k]
    for _ in range(steps):
        Z = gaussian(rng, m, n)
        Z = Z / frobenius(Z)
        W_next = T + frac * allowed_norm(T, Z, e) * Z
        assert theorem2_quantities(W_next, T, ranks[-1], e)["bound_holds"]
        T, k = D(W_next, e)
        ranks.append(k)
    assert all(a >= b for a, b in zip(ranks, ranks[1:])), ranks


def test_theorem2_violated_rank_rises():
    T = torch.diag(torch.tensor([1.0, 0.0, 0.0], dtype=torch.float64))
    P = torch.diag(torch.tensor([0.0, 1.0, 0.0], dtype=torch.float64))
    e = 0.1
    assert D(T, e)[1] == 1
    q = theorem2_quantities(T + P, T, 1, e)
    assert q["displacement"] >= math.sqrt(e) and not q["bound_holds"]
    assert q["rank_next"] == 2 and D(T + P, e)[1] == 2


@SETTINGS
@given(m=st.integers(2, 12), n=st.integers(2, 12), seed=seeds, data=st.data())
def test_large_orthogonal_perturbation_raises_rank(m, n, seed, data):
    """T of rank k with singular values in [1, 2]; P adds q singular values in [1, 2] in the orthogonal
    complement of T's row and column spaces. Then sv(T + P) is the union, and for e < 1 / (4 (k + q))
    the energy rule keeps all k + q of them: the rank rises, so Theorem 2's bound must be violated."""
    full = min(m, n)
    k = data.draw(st.integers(1, full - 1))
    q = data.draw(st.integers(1, full - k))
    e = data.draw(st.floats(1e-4, 0.999 / (4 * (k + q))))
    rng = np.random.default_rng(seed)
    U, V = orthogonal(rng, m), orthogonal(rng, n)
    sT, sP = (torch.from_numpy(rng.uniform(1, 2, size)) for size in (k, q))
    T = (U[:, :k] * sT) @ V[:, :k].T
    P = (U[:, k:k + q] * sP) @ V[:, k:k + q].T
    assert D(T, e)[1] == k  # T is its own TSVD at e
    assert torch.allclose(singular_values(T + P)[:k + q], torch.cat([sT, sP]).sort(descending=True).values)
    _, k_next = D(T + P, e)
    assert k_next == k + q > k
    q2 = theorem2_quantities(T + P, T, k, e)
    assert not q2["bound_holds"] and q2["displacement"] >= math.sqrt(e)


def test_theorem2_quantities_on_conv_weights():
    rng = np.random.default_rng(0)
    W = gaussian(rng, 8, 4, 3, 3)
    for scheme in ("channel", "spatial"):
        T, k = project(W, 0.3, scheme)
        q = theorem2_quantities(T, T, k, 0.3, scheme=scheme)
        assert q["displacement"] == 0.0 and q["bound_holds"] and q["rank_next"] <= k
    with pytest.raises(ValueError):
        theorem2_quantities(torch.ones(2, 3), torch.ones(3, 2), 1, 0.5)
    with pytest.raises(ValueError):
        theorem2_quantities(W, W, 1, 0.5)  # 4-D without a scheme


# --- matricization -------------------------------------------------------------------------------

shapes = st.tuples(*[st.integers(1, 5)] * 4)


@SETTINGS
@given(shape=shapes, seed=seeds, batch=st.integers(0, 2))
def test_matricization_definitions_and_inverse(shape, seed, batch):
    n, c, kh, kw = shape
    rng = np.random.default_rng(seed)
    W = gaussian(rng, n, c, kh, kw)
    Mc, Ms = to_matrix(W, "channel"), to_matrix(W, "spatial")
    assert Mc.shape == (n, c * kh * kw) and Ms.shape == (c * kh, n * kw)
    ni, ci, h, w = (torch.from_numpy(a.ravel()) for a in np.indices(shape))
    vals = W[ni, ci, h, w]
    assert torch.equal(Mc[ni, ci * kh * kw + h * kw + w], vals)  # M[i, :] = W[i].flatten()
    assert torch.equal(Ms[ci * kh + h, ni * kw + w], vals)  # M[(c, h), (n, w)] = W[n, c, h, w]
    for scheme, M in (("channel", Mc), ("spatial", Ms)):
        assert torch.equal(from_matrix(M, W.shape, scheme), W)
        assert torch.equal(to_matrix(from_matrix(M, W.shape, scheme), scheme), M)
    if batch:  # leading dims are a batch
        Wb = gaussian(rng, batch, n, c, kh, kw)
        for scheme in ("channel", "spatial"):
            Mb = to_matrix(Wb, scheme)
            assert all(torch.equal(Mb[i], to_matrix(Wb[i], scheme)) for i in range(batch))
            assert torch.equal(from_matrix(Mb, Wb.shape, scheme), Wb)


def test_unknown_scheme():
    with pytest.raises(ValueError):
        to_matrix(torch.ones(2, 2, 1, 1), "tucker")


# --- D(W) = project() ----------------------------------------------------------------------------

@SETTINGS
@given(shape=shapes, seed=seeds, e=thresholds, scheme=st.sampled_from(["channel", "spatial"]))
def test_project_is_the_energy_rank_best_approximation(shape, seed, e, scheme):
    rng = np.random.default_rng(seed)
    W = gaussian(rng, *shape) * torch.from_numpy(rng.uniform(0.1, 3, shape[0]))[:, None, None, None]
    Wp, k = project(W, e, scheme)
    assert Wp.shape == W.shape and Wp.dtype == W.dtype
    M, Mp = to_matrix(W, scheme), to_matrix(Wp, scheme)
    s = singular_values(M)
    total = float((s**2).sum())
    assert 1 <= k <= min(M.shape)
    assert int(torch.linalg.matrix_rank(Mp)) == k
    # the energy rule (Eq. 4): k satisfies it, k - 1 does not
    assert tail_energy(s, k) ** 2 <= e * total * (1 + 1e-12)
    assert tail_energy(s, k - 1) ** 2 > e * total * (1 - 1e-12)
    # the best rank-k approximation: the error is exactly the discarded tail energy (Eq. 8 with equality)
    assert frobenius(M - Mp) == pytest.approx(tail_energy(s, k), rel=1e-9, abs=1e-12)
    # and no other rank-k matrix does better
    B = low_rank(rng, *M.shape, k)
    B = B * (float((M * B).sum()) / float((B * B).sum()))  # the best multiple of B
    assert frobenius(M - B) >= frobenius(M - Mp) * (1 - 1e-10)
    # D is idempotent in rank: the projected weight keeps its singular values, rank <= k
    assert torch.allclose(singular_values(Mp)[:k], s[:k], rtol=1e-9, atol=1e-12)
    assert project(Wp, e, scheme)[1] <= k


def test_project_keeps_float32():
    W = torch.randn(6, 3, 3, 3, generator=torch.Generator().manual_seed(0))
    Wp, k = project(W, 0.2, "spatial")
    assert Wp.dtype == torch.float32 and 1 <= k <= 9
