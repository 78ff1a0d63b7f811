"""scripts/gpu_session.sh prepare, the part of the short GPU check that runs here: it refuses a dirty tree,
splits the prepared data into parts that rejoin byte for byte, and writes the `trp train` commands
Snakemake plans for Table 1's five ResNet-20 rows, seed 0, of the paper profile."""
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def sh(*cmd, cwd, check=True):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if check and proc.returncode:
        raise AssertionError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.mark.skipif(not (ROOT / ".git").exists() or not (ROOT / ".venv/bin/snakemake").exists(),
                    reason="needs a git checkout with its .venv")
def test_prepare_splits_the_data_and_plans_the_five_resnet20_rows(tmp_path):
    repo = tmp_path / "repo"
    sh("git", "clone", "-q", str(ROOT), str(repo), cwd=tmp_path)
    (repo / ".venv").symlink_to(ROOT / ".venv")
    npz = repo / "data/prepared/cifar10.npz"
    npz.parent.mkdir(parents=True)
    npz.write_bytes(bytes(range(256)) * 1001 + b"tail")
    (repo / "README.md").write_text("changed\n")
    dirty = sh("bash", "scripts/gpu_session.sh", "prepare", cwd=repo, check=False)
    assert dirty.returncode == 2 and "commit first" in dirty.stderr
    sh("git", "checkout", "README.md", cwd=repo)

    sh("bash", "scripts/gpu_session.sh", "prepare", cwd=repo)
    parts = sorted((repo / ".carry").glob("cifar10.npz.part-*"))
    assert len(parts) == 4 and b"".join(p.read_bytes() for p in parts) == npz.read_bytes()
    commands = (repo / ".carry/paper-rows.sh").read_text().splitlines()
    outs = [re.search(r" --out (\S+) ", c)[1] for c in commands]
    assert len(set(outs)) == 5 and all(re.fullmatch(r"results/paper/runs/resnet20/[^/]+/s0", o) for o in outs)
    assert sum("'method=\"baseline\"'" in c for c in commands) == 1
    assert all("trp train " in c and "epochs=164" in c for c in commands)
    assert ".carry" not in sh("git", "status", "--porcelain", cwd=repo).stdout  # excluded, not left untracked
