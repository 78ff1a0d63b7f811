"""The inference runtimes a network is timed in, each as a zero-argument call on a prepared input:

eager        PyTorch eager mode, the network as it is (eval mode, inference_mode)
folded       eager with BatchNorm folded into the convs (fold.fold_bn)
compile      torch.compile (inductor, fullgraph, static shapes, freezing) of the folded network
onnxruntime  the folded network exported to ONNX, run by ONNX Runtime's CPU provider

Each but onnxruntime runs in either memory format ("contiguous" NCHW or "channels_last" NHWC,
model and input both); ONNX Runtime takes NCHW and picks its own internal layout.
"""
import copy
import warnings
from importlib import metadata

import torch
from torch import nn

from .fold import fold_bn
from .ort import Unavailable, ort_call

RUNTIMES = ("eager", "folded", "compile", "onnxruntime")
MEMORY_FORMATS = ("contiguous", "channels_last")
COMPILE_LIMIT = 256  # compiled graphs of one forward method (every network, batch size and format)


def check(runtimes, memory_formats) -> None:
    for name, given, known in (("runtime", runtimes, RUNTIMES), ("memory format", memory_formats, MEMORY_FORMATS)):
        bad = [g for g in given if g not in known]
        if bad or not given:
            raise ValueError(f"unknown {name} {bad or given}; choose from {known}")


def formats(runtime: str, memory_formats) -> list[str]:
    """The memory formats `runtime` is timed in."""
    return ["contiguous"] if runtime == "onnxruntime" else list(memory_formats)


def versions() -> dict:
    """Package versions of the runtimes (None where not installed)."""
    out = {}
    for p in ("torch", "onnx", "onnxruntime"):
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    return out


def _torch_call(model: nn.Module, x: torch.Tensor):
    def call():
        with torch.inference_mode():
            return model(x)
    return call


def _compiled(model: nn.Module, x: torch.Tensor):
    compiled = torch.compile(model, backend="inductor", fullgraph=True, dynamic=False, options={"freezing": True})
    call = _torch_call(compiled, x)
    try:
        with torch._dynamo.config.patch(recompile_limit=COMPILE_LIMIT, accumulated_recompile_limit=COMPILE_LIMIT), \
                warnings.catch_warnings():
            warnings.filterwarnings("ignore", ".*torch.jit.script_method", DeprecationWarning)  # torch's own internals
            call()  # compiles now, so that timing never sees it
    except Exception as e:  # any compiler failure (no C++ compiler, unsupported op): skip with the reason
        raise Unavailable(f"torch.compile failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}") from None
    return call


def prepare(model: nn.Module, runtime: str, x: torch.Tensor, memory_format: str = "contiguous", threads: int = 1):
    """A zero-argument call running eval-mode `model` on `x` in `runtime` (see the module
    docstring); it returns the output as a torch tensor. `threads`: ONNX Runtime's intra-op
    threads (torch's are set by the caller, see trp.timing.pinned_threads). Raises Unavailable
    where the runtime cannot run here."""
    check([runtime], [memory_format])
    model = model.eval() if runtime == "eager" else fold_bn(model)
    if runtime == "onnxruntime":
        if memory_format != "contiguous":
            raise Unavailable("onnxruntime takes contiguous (NCHW) inputs")
        return ort_call(model, x, threads)
    if memory_format == "channels_last":  # on a copy: Module.to converts in place
        model = (copy.deepcopy(model) if runtime == "eager" else model).to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    return _compiled(model, x) if runtime == "compile" else _torch_call(model, x)
