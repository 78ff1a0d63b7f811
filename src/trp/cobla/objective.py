"""COBLA's objective: the cross-entropy of the masked network on a fixed sample of the training
set, differentiable in the relaxed variables.

Each site's weight becomes W(x, d) = d W + sum_{j<B} x_j s_j u_j v_j^T (matricized, folded back
with `from_matrix`); the network runs in eval mode (BN running statistics) through
`torch.func.functional_call`, so the model itself is never modified. The gradient is taken with
respect to the weights, accumulated over the sample's batches, and pulled back to (x, d) once
per evaluation: dL/dx_j = s_j u_j^T G v_j, dL/dd = <G, W>.
"""
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from ..lowrank import from_matrix, to_matrix
from .problem import AllocationProblem


class Objective:
    """f(z) = mean cross-entropy of the masked network on `batches`; call -> (f, grad)."""

    def __init__(self, model: nn.Module, problem: AllocationProblem, batches, device=None):
        if not problem.svd:
            raise ValueError("the problem has no SVDs (build it with with_svd=True)")
        self.model, self.problem, self.batches = model, problem, batches
        p = next(model.parameters())
        self.device = torch.device(device) if device is not None else p.device
        self.dtype = p.dtype
        self.n = sum(len(y) for _, y in batches)
        modules = dict(model.named_modules())
        self.params = {k: v.detach() for k, v in model.named_parameters()}
        self.params.update({k: v.detach() for k, v in model.named_buffers()})
        self.sites = []
        for L, (U, S, Vh) in zip(problem.layers, problem.svd):
            w = modules[L.name].weight.detach()
            B = L.break_even
            M = to_matrix(w.to(self.device, torch.float32), problem.scheme)
            self.sites.append((L, w.shape, M, U[:, :B].to(self.device), S[:B].to(self.device), Vh[:B].to(self.device)))
        self.evaluations, self.seconds = 0, 0.0

    def weights(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        out = {}
        for L, shape, M, U, S, Vh in self.sites:
            x, d = z[L.offset:L.d_index], z[L.d_index]
            mat = d * M + (U * (x * S)) @ Vh
            out[f"{L.name}.weight"] = from_matrix(mat, shape, self.problem.scheme).to(self.dtype)
        return out

    def _run(self, z_np, grad: bool):
        t0 = time.perf_counter()
        z = torch.tensor(np.asarray(z_np, np.float64), dtype=torch.float32, device=self.device, requires_grad=grad)
        was_training = self.model.training
        self.model.eval()
        total = 0.0
        try:
            with torch.set_grad_enabled(grad):
                W = self.weights(z)
                leaves = {k: v.detach().requires_grad_(grad) for k, v in W.items()}
                params = {**self.params, **leaves}
                for x, y in self.batches:
                    loss = F.cross_entropy(functional_call(self.model, params, (x,)), y, reduction="sum")
                    if grad:
                        loss.backward()
                    total += float(loss.detach())
                g = None
                if grad:
                    keys = list(W)
                    torch.autograd.backward([W[k] for k in keys], [leaves[k].grad / self.n for k in keys])
                    g = z.grad.detach().double().cpu().numpy()
        finally:
            self.model.train(was_training)
        self.evaluations += 1
        self.seconds += time.perf_counter() - t0
        return total / self.n, g

    def __call__(self, z) -> tuple[float, np.ndarray]:
        """(loss, gradient in float64) for scipy."""
        return self._run(z, True)

    def loss(self, z) -> float:
        """The loss alone (no graph): for comparing rounded candidates."""
        return self._run(z, False)[0]
