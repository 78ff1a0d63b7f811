"""scripts/gpu_check.sh, the short GPU check in one command. `bundle` (here, at a clean commit) writes the
commit file, the `trp train` commands Snakemake plans for Table 1's five ResNet-20 rows (seed 0) of the
paper profile, and the prepared data cut into parts with a sha256 manifest; `run --cpu` then runs the
whole check end to end in a copy without .git (benchmarks with tiny sizes, trainings of a few steps on
the CPU) and packs one archive whose records name the commit. With a stand-in trp, `run` keeps trp's
exit statuses (75: stopped at the time limit, 2, 3) and reports a failed benchmark."""
import hashlib
import json
import os
import re
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".venv/bin"
ROWS = ["baseline", "trp-channel-e0.02-lam0", "trp-spatial-e0.02-lam0", "trp-channel-e0.02-lam0.0003",
        "trp-spatial-e0.02-lam0.0003"]


def sh(*cmd, cwd, env=None, check=True):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def venv_env(**extra):
    """python3 is the virtualenv's (a machine with Python and torch); no `trp` or `python` on the PATH."""
    return {**os.environ, "PATH": os.pathsep.join([str(VENV), "/usr/bin", "/bin"]), **extra}


def test_split_cuts_a_file_into_parts_that_rejoin_and_a_bad_part_is_refused(tmp_path):
    blob = tmp_path / "cifar10.npz"
    blob.write_bytes(os.urandom(2 * 1024 * 1024 + 5))
    sh("bash", str(ROOT / "scripts/gpu_check.sh"), "split", str(blob), str(tmp_path / "parts"), "1", cwd=tmp_path)
    parts = sorted((tmp_path / "parts").glob("cifar10.npz.part-*"))
    assert [p.stat().st_size for p in parts] == [1024 * 1024, 1024 * 1024, 5]
    manifest = (tmp_path / "parts/cifar10.npz.sha256").read_text().splitlines()
    assert f"{hashlib.sha256(blob.read_bytes()).hexdigest()}  cifar10.npz" in manifest and len(manifest) == 4
    refused = sh("bash", str(ROOT / "scripts/gpu_check.sh"), "split", str(blob), str(tmp_path / "p"), "0.5",
                 cwd=tmp_path, check=False)
    assert refused.returncode == 2 and "whole number of MiB" in refused.stderr


@pytest.mark.skipif(not (ROOT / ".git").exists() or not (VENV / "snakemake").exists(),
                    reason="needs a git checkout with its .venv")
def test_bundle_then_run_on_the_cpu_packs_records_that_name_the_commit(tmp_path, cifar_npz):
    repo = tmp_path / "repo"
    sh("git", "clone", "-q", str(ROOT), str(repo), cwd=tmp_path)
    for path in ("scripts/gpu_check.sh", "src/trp/artifacts/provenance.py"):  # this checkout's, committed in the clone
        shutil.copy(ROOT / path, repo / path)
    sh("git", "add", "scripts/gpu_check.sh", "src/trp/artifacts/provenance.py", cwd=repo)
    sh("git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "this checkout's gpu_check", cwd=repo)
    (repo / ".venv").symlink_to(VENV.parent)
    (repo / "data/prepared").mkdir(parents=True)
    shutil.copy(cifar_npz, repo / "data/prepared/cifar10.npz")
    (repo / "README.md").write_text("changed\n")
    dirty = sh("bash", "scripts/gpu_check.sh", "bundle", cwd=repo, check=False)
    assert dirty.returncode == 2 and "commit first" in dirty.stderr
    sh("git", "checkout", "README.md", cwd=repo)
    sh("bash", "scripts/gpu_check.sh", "bundle", ".carry", "64", cwd=repo)
    commit = sh("git", "rev-parse", "HEAD", cwd=repo).stdout.strip()
    assert ".carry" not in sh("git", "status", "--porcelain", cwd=repo).stdout  # excluded, not left untracked
    carry = repo / ".carry"
    named = json.loads((carry / "COMMIT").read_text())
    assert named["commit"] == commit and "src/trp/cli.py" in named["files"]
    commands = (carry / "paper-rows.sh").read_text().splitlines()
    outs = [re.search(r" --out (\S+) ", c)[1] for c in commands]
    assert sorted(outs) == sorted(f"results/paper/runs/resnet20/{r}/s0" for r in ROWS)
    assert all("trp train " in c and "epochs=164" in c and "'device=\"cuda\"'" in c for c in commands)
    parts = sorted((carry / "data").glob("cifar10.npz.part-*"))
    assert len(parts) == 3 and all(p.stat().st_size <= 64 << 20 for p in parts)

    # the GPU machine's copy: the tracked files and .carry, no .git, no .venv
    copy = tmp_path / "copy"
    copy.mkdir()
    tree = subprocess.run(["git", "archive", "HEAD"], cwd=repo, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(copy)], input=tree, check=True)
    shutil.copytree(carry, copy / ".carry")
    out = tmp_path / "out"
    proc = sh("bash", "scripts/gpu_check.sh", "run", "120", "--cpu", "--out", str(out), cwd=copy,
              env=venv_env(TMPDIR=str(tmp_path)), check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    packed = out / f"gpu-check-{commit[:7]}.tar.gz"
    with tarfile.open(packed) as tar:
        names = set(tar.getnames())
        status = tar.extractfile("results/paper/logs/gpu_check/status.tsv").read().decode()
        assert json.loads(tar.extractfile("results/paper/logs/gpu_check/COMMIT").read())["commit"] == commit
        step = json.loads(tar.extractfile("results/benchmarks/train_step_cpu-check_fp32.json").read())
        metrics = {r: json.loads(tar.extractfile(f"results/paper/runs/resnet20/{r}/s0/metrics.json").read()) for r in ROWS}
    assert {"results/benchmarks/polar_factor_cpu-check.json", "results/paper/logs/gpu_check/run.log"} <= names
    for r in ROWS:
        assert {f"checkpoints/paper/runs/resnet20/{r}/s0/model.pt", f"results/paper/logs/train/resnet20/{r}/s0.log"} <= names
    assert step["git"] == {"commit": commit, "dirty": False, "commit_file": str(copy / ".carry/COMMIT")}
    for m in metrics.values():  # the commit without .git, and trained as planned but on the CPU, 2 steps of 32
        assert m["provenance"]["commit"] == commit and m["provenance"]["dirty"] is False
        assert m["config"]["device"] == "cpu" and m["config"]["epochs"] == 164 and m["training"]["steps"] == 2
        assert m["config"]["batch_size"] == 32
    assert status.splitlines()[-1] == "exit\t\t0" and status.count("train\t") == 5

    # a part damaged on its way: refused before anything runs
    (copy / ".carry/data/cifar10.npz.part-01").write_bytes(b"damaged")
    proc = sh("bash", "scripts/gpu_check.sh", "run", "120", "--cpu", "--out", str(out), cwd=copy,
              env=venv_env(TMPDIR=str(tmp_path)), check=False)
    assert proc.returncode == 2 and "does not match" in proc.stderr


STUB_TRP = {  # a trp package whose `trp train` prints its arguments and exits with the status its run's name ends in
    "__init__.py": "",
    "cli.py": "import sys\n\n\ndef main(argv=None):\n    print(*sys.argv[1:])\n"
              "    return int(sys.argv[sys.argv.index('--out') + 1].split('/')[-2].rsplit('exit', 1)[1])\n",
}
STUB_BENCH = ("import os, sys\nopen(sys.argv[sys.argv.index('--out') + 1], 'w').write('{}')\n"
              "sys.exit(1 if os.environ.get('BENCH_FAILS') else 0)\n")


@pytest.mark.skipif(not (VENV / "python3").exists(), reason="needs the checkout's .venv")
@pytest.mark.parametrize("statuses, bench_fails, expected", [
    ((0, 75, 0, 75, 0), False, 75), ((0, 75, 3, 0, 2), False, 3), ((0,) * 5, False, 0), ((0, 75, 0, 0, 0), True, 1),
    ((0, 2, 0, 0, 0), True, 2)])
def test_run_keeps_trp_exit_statuses(tmp_path, statuses, bench_fails, expected):
    """`gpu_check.sh run --cpu --data NPZ` with a stand-in trp and benchmarks: the five planned commands
    run under the virtualenv's interpreter (`python -m trp.gpu_slots`, then `trp`), every run is packed,
    and the exit status is a failed training's, else 1 for a failed benchmark, else 75 when some stopped
    at their time limit."""
    repo, out = tmp_path / "repo", tmp_path / "out"
    for d in (repo / "scripts", repo / "src/trp", repo / "benchmarks", repo / ".carry", out):
        d.mkdir(parents=True)
    shutil.copy(ROOT / "scripts/gpu_check.sh", repo / "scripts")
    shutil.copy(ROOT / "src/trp/gpu_slots.py", repo / "src/trp")
    shutil.copy(ROOT / "src/trp/cli_parser.py", repo / "src/trp")
    for name, text in STUB_TRP.items():
        (repo / "src/trp" / name).write_text(text)
    for name in ("train_step.py", "polar_factor.py"):
        (repo / "benchmarks" / name).write_text(STUB_BENCH)
    (repo / "data.npz").write_bytes(b"stand-in data")
    runs = [f"row{i}-exit{status}" for i, status in enumerate(statuses)]
    (repo / ".carry/paper-rows.sh").write_text("".join(
        f"OMP_NUM_THREADS=1 python -m trp.gpu_slots --per-gpu 5 -- trp train --no-progress --set 'device=\"cuda\"' "
        f"--data data/prepared/cifar10.npz --out results/paper/runs/resnet20/{run}/s0 "
        f"> results/paper/logs/train/resnet20/{run}/s0.log 2>&1\n" for run in runs))
    env = venv_env(TMPDIR=str(tmp_path), **({"BENCH_FAILS": "1"} if bench_fails else {}))
    proc = subprocess.run(["bash", "scripts/gpu_check.sh", "run", "5", "--cpu", "--data", "data.npz", "--out", str(out)],
                          cwd=repo, env=env, capture_output=True, text=True)
    assert proc.returncode == expected, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "no .carry/COMMIT and no .git here: records will name no commit" in proc.stderr
    with tarfile.open(out / "gpu-check-unknown.tar.gz") as tar:
        names = set(tar.getnames())
        status = tar.extractfile("results/paper/logs/gpu_check/status.tsv").read().decode().splitlines()
    assert {f"results/paper/logs/train/resnet20/{run}/s0.log" for run in runs} <= names
    assert status[-1] == f"exit\t\t{expected}" and sorted(status[2:-1]) == sorted(
        f"train\t{run}\t{s}" for run, s in zip(runs, statuses))
    for run in runs:  # each command as planned, with the time limit, the data given and the CPU settings
        log = (repo / f"results/paper/logs/train/resnet20/{run}/s0.log").read_text()
        assert re.fullmatch(r"train --time-limit \d+\.\d\d --no-progress --set device=\"cuda\" max_steps=2 train_subset=256 "
                            rf"test_subset=100 batch_size=32 device=\"cpu\" --data data\.npz --out results/paper/runs/resnet20/{run}/s0\n", log), log


def test_a_copy_without_git_names_the_commit_of_its_commit_file_and_says_dirty_when_a_code_file_changed(tmp_path, monkeypatch):
    from trp.artifacts.provenance import COMMIT_FILE, blob_id, git_commit

    (tmp_path / "src").mkdir()
    code = tmp_path / "src/a.py"
    code.write_text("x = 1\n")
    blob = subprocess.run(["git", "hash-object", str(code)], capture_output=True, text=True, check=True).stdout.strip()
    assert blob_id(code) == blob  # git's own id, computed without git
    named = tmp_path / "COMMIT"
    named.write_text(json.dumps({"commit": "c" * 40, "files": {"src/a.py": blob, "docs/b.md": "0" * 40}}))
    assert git_commit(root=tmp_path) == {"commit": None, "dirty": None}  # no .git, no commit file
    monkeypatch.setenv(COMMIT_FILE, str(named))
    assert git_commit(root=tmp_path)["dirty"] is True  # docs/b.md is missing
    assert git_commit(("docs",), root=tmp_path) == {"commit": "c" * 40, "dirty": False, "commit_file": str(named)}
    code.write_text("x = 2\n")
    assert git_commit(("docs",), root=tmp_path)["dirty"] is True
    named.write_text("not JSON")
    assert git_commit(root=tmp_path) == {"commit": None, "dirty": None}
