"""The device a run asks for and the numerics it runs with: fp32 means IEEE fp32 convolutions and
matmuls, TF32 runs only when named (and only on a GPU), deterministic algorithms only when asked for,
and every record states the flags that ran."""
import json
import subprocess
import sys

import pytest
import torch

from trp.artifacts import record
from trp.cli import main
from trp.config import ConfigError, TrainConfig
from trp.stages.inputs import resolve_device


@pytest.fixture
def flags():
    """The process-wide numerics flags, restored after the test."""
    saved = (torch.backends.cudnn.allow_tf32, torch.get_float32_matmul_precision(), torch.backends.cudnn.deterministic,
             torch.are_deterministic_algorithms_enabled())
    yield
    torch.backends.cudnn.allow_tf32 = saved[0]
    torch.set_float32_matmul_precision(saved[1])
    torch.backends.cudnn.deterministic = saved[2]
    torch.use_deterministic_algorithms(saved[3])


@pytest.fixture
def gpu(monkeypatch):
    """A visible GPU, as far as choosing the device goes (nothing runs on it)."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)


def numerics():
    return record({}, "cpu", None)["numerics"]


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_fp32_convolutions_and_matmuls_run_in_ieee_fp32_on_a_gpu(flags, gpu, precision):
    torch.backends.cudnn.allow_tf32 = True  # PyTorch's default: cuDNN convs in TF32
    assert resolve_device("auto", precision) == torch.device("cuda")
    n = numerics()
    assert not n["cudnn_allow_tf32"] and not n["cuda_matmul_allow_tf32"] and n["float32_matmul_precision"] == "highest"
    assert {"cudnn_deterministic", "cudnn_benchmark", "deterministic_algorithms"} <= set(n)


def test_tf32_is_a_named_precision_for_a_gpu(flags, gpu):
    assert TrainConfig(precision="tf32").precision == "tf32"
    assert resolve_device("cuda", "tf32") == torch.device("cuda")
    n = numerics()
    assert n["cudnn_allow_tf32"] and n["cuda_matmul_allow_tf32"] and n["float32_matmul_precision"] == "high"


def test_tf32_is_refused_on_the_cpu(flags):
    with pytest.raises(ConfigError, match="precision 'tf32' runs on a GPU only"):
        resolve_device("cpu", "tf32")


@pytest.mark.parametrize("command", [["train", "--set", "device=cuda"], ["decompose", "--scheme", "channel", "--device", "cuda"]])
def test_a_job_asking_for_a_gpu_where_none_is_visible_stops_in_one_line(tmp_path, capsys, monkeypatch, command):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    checkpoint = tmp_path / "model.pt"
    checkpoint.write_bytes(b"")
    extra = ["--checkpoint", str(checkpoint)] if command[0] == "decompose" else []
    assert main([*command, *extra, "--data", str(tmp_path / "cifar10.npz"), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "device 'cuda' was asked for but this process sees no GPU" in err
    assert not (tmp_path / "run").exists()


def test_deterministic_is_asked_for_and_recorded(flags, cifar_npz, tmp_path):
    """`trp train --deterministic` trains with deterministic algorithms only, and says so in its
    record; a run without it runs with PyTorch's defaults again."""
    run = ["train", "--no-progress", "--set", "method=baseline", "epochs=1", "train_subset=64", "test_subset=100",
           "batch_size=32", "device=cpu", "--data", str(cifar_npz)]
    assert main([*run, "--deterministic", "--out", str(tmp_path / "a")]) == 0
    n = json.loads((tmp_path / "a" / "metrics.json").read_text())["provenance"]["numerics"]
    assert n["deterministic_algorithms"] and n["cudnn_deterministic"]
    assert main([*run, "--out", str(tmp_path / "b")]) == 0
    n = json.loads((tmp_path / "b" / "metrics.json").read_text())["provenance"]["numerics"]
    assert not n["deterministic_algorithms"] and not n["cudnn_deterministic"]


def test_numerics_without_determinism_leave_torch_compile_unimported():
    """torch.use_deterministic_algorithms imports torch._inductor (seconds at every `trp` start); a run
    that does not ask for determinism, in a fresh process, leaves the flag as it is and the module unloaded."""
    code = ("import sys, torch; from trp.stages.inputs import resolve_device; resolve_device('cpu', 'fp32'); "
            "assert not torch.are_deterministic_algorithms_enabled(); print('torch._inductor' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
