"""Is there a faster, equally exact polar factor U_r V_r^T (Eq. 6) than the float64 Gram
eigendecomposition in trp.lowrank.nuclear? Compares it with a Newton–Schulz iteration (float32,
Frobenius-normalised start) against the SVD definition, on ResNet-20's spatial-scheme shapes
(5 x 192 x 192), for a weight right after a projection (rank-deficient) and after one more SGD step.

python benchmarks/polar_factor.py --out results/benchmarks/polar_factor_cpu.json
"""
import argparse
import time

import torch

from trp.artifacts import record, write_json
from trp.lowrank.nuclear import polar_factor


def svd_polar(A: torch.Tensor) -> torch.Tensor:
    """U_r V_r^T from the SVD, over the singular values polar_factor counts as non-zero."""
    U, S, Vh = torch.linalg.svd(A.double(), full_matrices=False)
    tol = S.amax(-1, keepdim=True) * max(A.shape[-2:]) * torch.finfo(torch.float32).eps
    return (U * (S > tol).double().unsqueeze(-2)) @ Vh


def newton_schulz(A: torch.Tensor, iterations: int) -> torch.Tensor:
    X = A / A.norm(dim=(-2, -1), keepdim=True)
    for _ in range(iterations):
        X = 1.5 * X - 0.5 * X @ X.mT @ X
    return X


def timed(fn, repeat: int) -> tuple[torch.Tensor, float]:
    out = fn()
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return out, (time.perf_counter() - t0) / repeat


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rank", type=int, default=60, help="rank of the projected weight")
    ap.add_argument("--iterations", type=int, nargs="+", default=[10, 20, 30])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.manual_seed(0)
    W = torch.randn(5, 192, a.rank) @ torch.randn(5, a.rank, 192)
    step = 1e-3 * W.norm(dim=(-2, -1), keepdim=True) / 192 * torch.randn(5, 192, 192)
    rows = []
    for case, A in (("projected", W), ("projected + one SGD step", W + step)):
        ref = svd_polar(A)
        methods = {"gram eigh float64 (trp)": lambda: polar_factor(A.float())}
        methods.update({f"newton-schulz x{k} float32": (lambda k=k: newton_schulz(A.float(), k)) for k in a.iterations})
        for name, fn in methods.items():
            P, seconds = timed(fn, a.repeat)
            rows.append({"case": case, "method": name, "seconds": seconds,
                         "relative_error": float((P.double() - ref).norm() / ref.norm())})
            print(f"{case:26s} {name:28s} {rows[-1]['relative_error']:.1e}  {1e3 * seconds:.1f} ms")
    write_json(a.out, {"rows": rows, "provenance": record(vars(a), "cpu", None)})


if __name__ == "__main__":
    main()
