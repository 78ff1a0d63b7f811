"""Device values read on the host together: each read waits for the device (a GPU), so a step reads
what it needs at once."""
import itertools

import torch


def read_at_once(tensors: list[torch.Tensor]) -> list[list[float]]:
    """Each tensor's values as a flat list of floats, read to the host in one transfer (one wait
    for the device) as float64, which holds every float32, bf16 and float64 value exactly."""
    if not tensors:
        return []
    flat = torch.cat([t.detach().reshape(-1).to(torch.float64) for t in tensors]).tolist()
    ends = list(itertools.accumulate(t.numel() for t in tensors))
    return [flat[end - t.numel():end] for t, end in zip(tensors, ends)]
