"""The SLURM profile plans the paper profile: every job gets the resources its rule asks for."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_slurm_profile_dry_run():
    proc = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--profile", "workflow/profiles/slurm",
                           "--configfile", "config/paper.yaml"], cwd=ROOT, capture_output=True, text=True)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    assert "This was a dry-run" in out
    jobs = out.split("rule ")
    train = [j for j in jobs if j.startswith("train_lowrank:")]
    assert train and all("runtime=90" in j and "gpu=1" in j and "slurm_partition=gpu" in j for j in train)
    assert all("gpu=1" not in j for j in jobs if j.startswith(("decompose:", "allocate:", "table1:")))
