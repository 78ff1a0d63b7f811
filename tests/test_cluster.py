"""The SLURM profile plans the paper profile: every job gets the resources its rule asks for."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from support import plan

ROOT = Path(__file__).resolve().parents[1]


def test_slurm_profile_dry_run():
    out = plan("--profile", "workflow/profiles/slurm", "--configfile", "config/paper.yaml")
    assert "This was a dry-run" in out
    jobs = out.split("rule ")
    train = [j for j in jobs if j.startswith("train_lowrank:")]
    assert train and all("runtime=90" in j and "gpu=1" in j and "slurm_partition=gpu" in j for j in train)
    assert all("gpu=1" in j for j in jobs if j.startswith(("finetune:", "decompose:")))
    assert all("gpu=1" not in j for j in jobs if j.startswith(("allocate:", "table1:")))


def slurm_dry_run(configfile, *args):
    return plan("--profile", "workflow/profiles/slurm", "--configfile", configfile, *args).split("rule ")


def test_slurm_train_jobs_stop_before_their_runtime():
    """runtime 90 (train_lowrank) and 60 (train_baseline) minutes: --time-limit 81 and 54 (10 %, at least 5 min)."""
    jobs = slurm_dry_run("config/paper.yaml")
    assert all("--time-limit 81 " in j for j in jobs if j.startswith("train_lowrank:"))
    assert all("--time-limit 54 " in j for j in jobs if j.startswith("train_baseline:"))
    assert all("--time-limit" not in j for j in jobs if j.startswith("finetune:"))


def test_default_profile_sets_no_time_limit():
    out = plan("--configfile", "config/paper.yaml")
    assert "trp train" in out and "--time-limit" not in out


def test_slurm_profile_plans_the_imagenet_profile():
    """TRP trainings (imagenet_train) and the basic methods' fine-tunings (imagenet_finetune): 4 GPUs each,
    and --time-limit 1296 below their runtime of 1440 minutes (10 %), so they stop after a checkpoint and
    resume; the basic methods' decompositions (imagenet_decompose) on one GPU."""
    jobs = slurm_dry_run("config/imagenet.yaml", "--config", "data={root: /cluster/imagenet}")
    runs = [j for j in jobs if j.startswith("imagenet_train:")]
    basic = [j for j in jobs if j.startswith("imagenet_finetune:")]
    tsvd = [j for j in jobs if j.startswith("imagenet_decompose:")]
    assert len(runs) == 5 and len(basic) == len(tsvd) == 8
    assert all(all(r in j for r in ("runtime=1440", "gpu=4", "cpus_per_task=32", "mem_mb=96000")) for j in runs + basic)
    assert all("torchrun --standalone --nproc_per_node 4 " in j and "--data /cluster/imagenet " in j for j in runs + basic)
    assert all(" --time-limit 1296 " in j for j in runs + basic)
    assert all("'device=\"cuda\"'" in j for j in runs + basic)  # a job that sees no GPU stops
    assert all("gpu=1" in j and "--device=cuda" in j and "torchrun" not in j for j in tsvd)
    assert all("gpu=" not in j for j in jobs if j.startswith("imagenet_table:"))


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present: the check passes anyway")
def test_a_slurm_submission_from_a_machine_without_a_gpu_goes_ahead(tmp_path):
    """The GPU check at the start is for jobs that run on this machine: under the SLURM executor the
    paper profile goes past it on a login node without a GPU and submits its first job (here to
    stand-in SLURM commands that fail, so the submission fails)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for command in ("sbatch", "squeue", "sacct", "sinfo", "scontrol", "scancel"):
        (bin_dir / command).write_text("#!/bin/sh\nexit 1\n")
        (bin_dir / command).chmod(0o755)
    proc = subprocess.run([sys.executable, "-m", "snakemake", "data/prepared/cifar10.npz", "-s", str(ROOT / "Snakefile"),
                           "--directory", str(tmp_path), "--executor", "slurm", "--jobs", "1", "--cores", "2",
                           "--configfile", str(ROOT / "config" / "paper.yaml")], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0 and "needs a GPU" not in out
    assert "Error in rule prepare_data" in out and "Job submission failed" in out
