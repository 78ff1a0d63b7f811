"""Device values read on the host together: each read waits for the device (a GPU), so a step reads
what it needs at once."""
import itertools

import torch
from torch.utils._python_dispatch import TorchDispatchMode


def read_at_once(tensors: list[torch.Tensor]) -> list[list[float]]:
    """Each tensor's values as a flat list of floats, read to the host in one transfer (one wait
    for the device) as float64, which holds every float32, bf16 and float64 value exactly."""
    if not tensors:
        return []
    flat = torch.cat([t.detach().reshape(-1).to(torch.float64) for t in tensors]).tolist()
    ends = list(itertools.accumulate(t.numel() for t in tensors))
    return [flat[end - t.numel():end] for t, end in zip(tensors, ends)]


class DeviceWork(TorchDispatchMode):
    """Counts, while active, what the host asks of the device: `kernels` (aten ops that compute:
    views and allocations of uninitialised memory excluded), `linalg` (SVDs and eigendecompositions:
    on a GPU each also reads its status back to the host) and `reads` (a tensor's value read on the
    host: aten._local_scalar_dense, as item(), float(), int() and bool() do, and Tensor.tolist, numpy
    and cpu, which copy without the dispatcher on a CPU). Counting works on the CPU alike."""

    COPIES = ("tolist", "numpy", "cpu")
    LINALG = (torch.ops.aten._linalg_svd.default, torch.ops.aten._linalg_eigh.default)
    NO_KERNEL = (torch.ops.aten.empty.memory_format, torch.ops.aten.empty_strided.default)

    def __init__(self):
        super().__init__()
        self.kernels = self.linalg = self.reads = 0
        self._originals = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten._local_scalar_dense.default:
            self.reads += 1
        elif func in self.LINALG:
            self.linalg += 1
            self.kernels += 1
        elif not func.is_view and func not in self.NO_KERNEL:
            self.kernels += 1
        return func(*args, **(kwargs or {}))

    def __enter__(self):
        for name in self.COPIES:
            original = self._originals[name] = getattr(torch.Tensor, name)
            setattr(torch.Tensor, name, self._counted(original))
        return super().__enter__()

    def __exit__(self, *exc):
        for name, original in self._originals.items():
            setattr(torch.Tensor, name, original)
        return super().__exit__(*exc)

    def _counted(self, method):
        def counted(tensor, *args, **kwargs):
            self.reads += 1
            return method(tensor, *args, **kwargs)
        return counted
