"""GPU slots: K jobs per GPU at most, each pinned to one device, a finished job frees its slot."""
import os
import subprocess
import sys

import pytest

from trp.gpu_slots import acquire, main


def test_slots_spread_over_gpus_then_fill_and_wait(tmp_path):
    held = [acquire(["0", "1"], 2, tmp_path) for _ in range(4)]
    assert sorted(g for g, _ in held) == ["0", "0", "1", "1"]
    assert [g for g, _ in held[:2]] == ["0", "1"]  # least-loaded GPU first
    with pytest.raises(TimeoutError):
        acquire(["0", "1"], 2, tmp_path, poll_s=0.01, timeout_s=0.05)
    os.close(held[1][1])  # a job on GPU 1 ends
    gpu, fd = acquire(["0", "1"], 2, tmp_path, poll_s=0.01, timeout_s=1)
    assert gpu == "1"
    for _, f in held[:1] + held[2:] + [(gpu, fd)]:
        os.close(f)


def test_wrapper_pins_the_command_and_returns_its_status(tmp_path):
    out = tmp_path / "env"
    code = main(["--gpus", "3", "--per-gpu", "1", "--lock-dir", str(tmp_path / "locks"), "--",
                 sys.executable, "-c", f"import os; open({str(out)!r}, 'w').write(os.environ['CUDA_VISIBLE_DEVICES']); "
                 "raise SystemExit(7)"])
    assert code == 7 and out.read_text() == "0"


def test_inherited_devices_are_kept(tmp_path, monkeypatch):
    """Under SLURM (CUDA_VISIBLE_DEVICES=3,5) a job lands on GPU 3 or 5, never on 0."""
    out = tmp_path / "env"
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "3,5")
    code = main(["--per-gpu", "1", "--lock-dir", str(tmp_path / "locks"), "--", sys.executable, "-c",
                 f"import os; open({str(out)!r}, 'w').write(os.environ['CUDA_VISIBLE_DEVICES'])"])
    assert code == 0 and out.read_text() == "3"


def test_without_gpus_the_command_runs_unpinned(tmp_path):
    code = subprocess.call([sys.executable, "-m", "trp.gpu_slots", "--gpus", "0", "--", sys.executable, "-c",
                            "import os, sys; sys.exit('CUDA_VISIBLE_DEVICES' in os.environ)"],
                           env={k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"})
    assert code == 0
