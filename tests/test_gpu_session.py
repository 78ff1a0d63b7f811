"""scripts/gpu_session.sh prepare, the part of the short GPU check that runs here: it refuses a dirty tree,
splits the prepared data into parts that rejoin byte for byte, and writes the `trp train` commands
Snakemake plans for Table 1's five ResNet-20 rows, seed 0, of the paper profile; and its train step,
with a stand-in GPU and trp: the virtualenv's interpreter throughout, and trp's exit statuses kept."""
import os
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


STUB_TRP = {  # a trp package whose `trp train` exits with the status its run's name ends in
    "__init__.py": "import sys\nprint('interpreter', sys.prefix, file=sys.stderr)\n",
    "cli.py": "import sys\n\n\ndef main(argv=None):\n"
              "    return int(sys.argv[sys.argv.index('--out') + 1].split('/')[-2].rsplit('exit', 1)[1])\n",
}


@pytest.mark.skipif(not (ROOT / ".venv/bin/python3").exists(), reason="needs the checkout's .venv")
@pytest.mark.parametrize("statuses, expected", [((0, 75, 0, 75, 0), 75), ((0, 75, 3, 0, 2), 3), ((0,) * 5, 0)])
def test_train_keeps_trp_exit_statuses_and_runs_inside_the_virtualenv(tmp_path, statuses, expected):
    """`gpu_session.sh train` (with a stand-in nvidia-smi and trp) runs the five planned commands under
    the virtualenv's interpreter (`python -m trp.gpu_slots`, then `trp`), packs each run, and exits 75
    when some stopped at their time limit, with the first failure's status when one failed."""
    repo, bin_dir, out = tmp_path / "repo", tmp_path / "bin", tmp_path / "out"
    for d in (repo / "scripts", repo / "src/trp", repo / ".carry", bin_dir, out):
        d.mkdir(parents=True)
    (repo / "scripts/gpu_session.sh").write_text((ROOT / "scripts/gpu_session.sh").read_text())
    (repo / "src/trp/gpu_slots.py").write_text((ROOT / "src/trp/gpu_slots.py").read_text())
    for name, text in STUB_TRP.items():
        (repo / "src/trp" / name).write_text(text)
    for i in range(4):
        (repo / f".carry/cifar10.npz.part-{i}").write_bytes(b"part")
    runs = [f"row{i}-exit{status}" for i, status in enumerate(statuses)]
    (repo / ".carry/paper-rows.sh").write_text("".join(
        f"python -m trp.gpu_slots --per-gpu 5 -- trp train --no-progress --out results/paper/runs/resnet20/{run}/s0 "
        f"> results/paper/logs/train/resnet20/{run}/s0.log 2>&1\n" for run in runs))
    (bin_dir / "nvidia-smi").write_text("#!/bin/sh\necho 'stand-in GPU, 80 GiB'\n")
    (bin_dir / "nvidia-smi").chmod(0o755)
    env = {**os.environ, "OUT": str(out), "TMPDIR": str(tmp_path), "CUDA_VISIBLE_DEVICES": "0",
           "PATH": os.pathsep.join([str(bin_dir), str(ROOT / ".venv/bin"), os.environ["PATH"]])}
    proc = subprocess.run(["bash", "scripts/gpu_session.sh", "train", "1"], cwd=repo, env=env, capture_output=True, text=True)
    assert proc.returncode == expected, proc.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"{run}.tar.gz" for run in runs)
    for run in runs:
        log = (repo / f"results/paper/logs/train/resnet20/{run}/s0.log").read_text().splitlines()
        prefixes = {Path(line.split(" ", 1)[1]).resolve() for line in log if line.startswith("interpreter ")}
        assert len(log) == 2 and prefixes == {(ROOT / ".venv").resolve()}  # gpu_slots, then trp
