"""Is there a faster, equally exact polar factor U_r V_r^T (Eq. 6) than trp's float64 Gram
eigendecomposition (trp.lowrank.nuclear.polar_factor), on this device? TRP+Nu computes it for every
projected conv at every step, so each candidate runs on one step's work: the matricized weights of a
network's projected convs, batched over equal shapes as trp batches them, in two states: right after
a projection (rank-deficient: each weight truncated to half its full rank) and one SGD step later (the
trailing singular values tiny but not zero). Errors are against U_r V_r^T from a float64 SVD with
trp's rank tolerance (the largest over the shape groups); times are one step's (every group), medians
of interleaved rounds, synchronised on a GPU. Where torch's SVD and eigendecomposition read a status
back to the host, a candidate also costs the GPU step a host synchronisation: see train_step.py for
the step's overhead itself.

python benchmarks/polar_factor.py --out results/benchmarks/polar_factor_cpu.json
python benchmarks/polar_factor.py --device cuda --out results/benchmarks/polar_factor_gpu.json
"""
import argparse
import statistics
import time

import torch

from trp import models
from trp.artifacts import record, write_json
from trp.lowrank import find_sites
from trp.lowrank.matricize import to_matrix
from trp.lowrank.nuclear import polar_factor
from trp.lowrank.svd import by_shape, truncate


def rank_tolerance(S: torch.Tensor, shape) -> torch.Tensor:
    """trp's numerical rank: singular values above s_max * max(p, q) * eps(float32)."""
    return S.amax(-1, keepdim=True) * max(shape[-2:]) * torch.finfo(torch.float32).eps


def svd_polar(A: torch.Tensor, dtype=torch.float64, driver: str | None = None) -> torch.Tensor:
    """U_r V_r^T from the SVD in `dtype`, over the singular values trp counts as non-zero."""
    U, S, Vh = torch.linalg.svd(A.to(dtype), full_matrices=False, driver=driver)
    return ((U * (S > rank_tolerance(S, A.shape)).to(dtype).unsqueeze(-2)) @ Vh).to(A.dtype)


def newton_schulz(A: torch.Tensor, iterations: int) -> torch.Tensor:
    X = A / A.norm(dim=(-2, -1), keepdim=True)
    for _ in range(iterations):
        X = 1.5 * X - 0.5 * X @ X.mT @ X
    return X


def step_matrices(model_name: str, scheme: str, device: torch.device) -> dict[str, list[torch.Tensor]]:
    """Per state, the stacks of equal-shape matrices TRP+Nu takes at one step (float32)."""
    torch.manual_seed(0)
    model = models.build(model_name)
    sites = find_sites(model, models.input_size(model_name), scheme, exclude=(models.stem(model_name),))
    projected = []
    for s in sites:
        M = to_matrix(s.conv.weight.detach(), scheme).double()
        U, S, Vh = torch.linalg.svd(M, full_matrices=False)
        projected.append(truncate(U, S, Vh, s.full_rank // 2).float())
    stepped = [M + 1e-3 * M.norm() / M.numel() ** 0.5 * torch.randn_like(M) for M in projected]
    return {state: [torch.stack([mats[i] for i in idx]).to(device) for idx in by_shape(mats)]
            for state, mats in (("projected", projected), ("projected + one SGD step", stepped))}


def candidates(device: torch.device, iterations: list[int]) -> dict:
    out = {"gram eigh float64 (trp)": polar_factor,
           "svd float64": svd_polar,
           "svd float32": lambda A: svd_polar(A, torch.float32)}
    if device.type == "cuda":
        out["svd float32 gesvdj"] = lambda A: svd_polar(A, torch.float32, "gesvdj")
    out.update({f"newton-schulz x{k} float32": (lambda A, k=k: newton_schulz(A, k)) for k in iterations})
    return out


def timed(fn, stacks: list[torch.Tensor], device: torch.device) -> float:
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for A in stacks:
        fn(A)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--model", default="resnet20")
    ap.add_argument("--schemes", nargs="+", default=["spatial", "channel"])
    ap.add_argument("--iterations", type=int, nargs="+", default=[10, 20, 30])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    device = torch.device(a.device)
    methods = candidates(device, a.iterations)
    rows = []
    for scheme in a.schemes:
        for state, stacks in step_matrices(a.model, scheme, device).items():
            refs = [svd_polar(A.double()) for A in stacks]
            for fn in methods.values():
                timed(fn, stacks, device)  # warm-up (kernels, workspaces)
            times = {name: [] for name in methods}
            for _ in range(a.rounds):
                for name, fn in methods.items():
                    times[name].append(timed(fn, stacks, device))
            for name, fn in methods.items():
                error = max(float((fn(A).double() - ref).norm() / ref.norm()) for A, ref in zip(stacks, refs))
                rows.append({"model": a.model, "scheme": scheme, "state": state, "method": name,
                             "shapes": [list(A.shape) for A in stacks], "median_ms": 1e3 * statistics.median(times[name]),
                             "range_ms": [1e3 * min(times[name]), 1e3 * max(times[name])], "relative_error": error})
                print(f"{scheme:8s} {state:26s} {name:28s} {error:.1e}  {rows[-1]['median_ms']:.2f} ms", flush=True)
    write_json(a.out, {"rows": rows, "rounds": a.rounds, "provenance": record(vars(a), device, None,
                                                                              threads=torch.get_num_threads())})


if __name__ == "__main__":
    main()
