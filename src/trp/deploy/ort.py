"""ONNX export (TorchScript-based exporter: the torch.export-based one needs onnxscript) and an
ONNX Runtime CPU session with pinned intra-op threads."""
import io
import warnings

import torch
from torch import nn


class Unavailable(RuntimeError):
    """A runtime cannot run here; the message says why (recorded, and the runtime skipped)."""


OPSET = 17


def export_onnx(model: nn.Module, x: torch.Tensor) -> bytes:
    """The eval-mode `model` as an ONNX graph for inputs of exactly x's shape (static shapes let
    ONNX Runtime plan every layer)."""
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the exporter's deprecation notice and constant-folding remarks
        torch.onnx.export(model.eval(), (x.contiguous(),), buf, dynamo=False, opset_version=OPSET,
                          input_names=["input"], output_names=["output"], do_constant_folding=True)
    return buf.getvalue()


SETTINGS = {"graph_optimization_level": "ORT_ENABLE_ALL", "execution_mode": "ORT_SEQUENTIAL",
            "intra_op_num_threads": "the timed threads", "inter_op_num_threads": 1,
            "session.intra_op.allow_spinning": "0"}


def session(onnx_bytes: bytes, threads: int):
    """An ONNX Runtime CPU session as in SETTINGS: every graph optimization, `threads` intra-op
    threads, one inter-op thread, sequential execution, and workers that sleep rather than spin
    when idle: spinning workers would compete for the cores with the PyTorch variant timed next
    in the interleaved rounds."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise Unavailable("onnxruntime is not installed (pip install -r requirements.txt)") from None
    opts = ort.SessionOptions()
    opts.graph_optimization_level = getattr(ort.GraphOptimizationLevel, SETTINGS["graph_optimization_level"])
    opts.execution_mode = getattr(ort.ExecutionMode, SETTINGS["execution_mode"])
    opts.intra_op_num_threads, opts.inter_op_num_threads = threads, SETTINGS["inter_op_num_threads"]
    opts.add_session_config_entry("session.intra_op.allow_spinning", SETTINGS["session.intra_op.allow_spinning"])
    return ort.InferenceSession(onnx_bytes, opts, providers=["CPUExecutionProvider"])


def ort_call(model: nn.Module, x: torch.Tensor, threads: int):
    """A zero-argument call running `model` on `x` in ONNX Runtime, returning a torch tensor."""
    if x.device.type != "cpu":
        raise Unavailable("onnxruntime is timed on the CPU only (its CPU execution provider)")
    sess = session(export_onnx(model, x), threads)
    feed = {"input": x.contiguous().numpy()}
    return lambda: torch.from_numpy(sess.run(None, feed)[0])
