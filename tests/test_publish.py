"""Publishing a finished profile and checking it from a fresh clone: scripts/publish_results.sh records
the checkpoints in DVC, pushes them to the in-repository remote and commits the results on a branch off
the tag; scripts/verify_results.sh clones that, rebuilds the data offline, pulls the checkpoints and
requires `dvc status` to be clean. A stand-in network replaces the profile's (Snakemake is stubbed to
report nothing left to do), so that the whole path runs in about a minute."""
import gzip
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
RANKLOG = '{"projection": 1, "step": 0, "layer": "layer1.0.conv1", "rank_after": 16, "sqrt_e": 0.14}\n'
BENCHMARK = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n" \
            "60.0\t0:01:00\t1\t1\t1\t1\t0\t0\t90\t55.0\n"


def sh(*cmd, cwd, env=None, check=True):
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if check and proc.returncode:
        raise AssertionError(f"{' '.join(map(str, cmd))} failed ({proc.returncode}):\n"
                             f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


def store_commits(repo):
    return sh("git", "log", "--max-parents=0", "--format=%H", "--grep=^dvc-store: ", "HEAD", cwd=repo).stdout.split()


def stand_in_stage_files(repo, profile):
    """A stand-in for every record folder and table the profile's DVC stages name that is not there yet
    (but the cost table, which publish_results.sh renders itself)."""
    for name, stage in yaml.safe_load((repo / "dvc.yaml").read_text())["stages"].items():
        if name != profile and not name.startswith(f"{profile}_"):
            continue
        for dep in stage.get("deps", []):
            if dep.startswith(f"results/{profile}/") and not (repo / dep).exists():
                (repo / dep).mkdir(parents=True)
                (repo / dep / "stand-in.txt").write_text("no record\n")
        for out in (stage.get("outs", []) + stage.get("plots", [])) * (name != f"{profile}_budget"):
            path = repo / (next(iter(out)) if isinstance(out, dict) else out)
            if path.is_relative_to(repo / "paper_tables") and not path.exists():
                path.write_bytes(b"stand-in\n")


@pytest.fixture
def tagged_clone(tmp_path, cifar_npz):
    """A clone of this repository at a tag, beside a link to ../shared, holding a 'finished' cpu run."""
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    (tmp_path / "shared").symlink_to(SHARED)
    repo = tmp_path / "repo"
    sh("git", "clone", "-q", str(ROOT), str(repo), cwd=tmp_path)
    for k, v in (("user.name", "test"), ("user.email", "test@example.org")):
        sh("git", "config", k, v, cwd=repo)
    # a repository with no published profile: the stand-in run below is the cpu profile's only output
    published = ["results/cpu", "paper_tables/cpu", "dvc-store/files", "dvc.lock"]
    sh("git", "rm", "-rq", "--ignore-unmatch", *published, cwd=repo)
    sh("git", "commit", "-qm", "stand-in: no published profile", "--allow-empty", cwd=repo)
    sh("git", "tag", "run-tag", cwd=repo)
    net = repo / "checkpoints/cpu/runs/resnet20/baseline/s0"
    net.mkdir(parents=True)
    (net / "model.pt").write_bytes(os.urandom(4096))
    (net / "last.pt").write_bytes(os.urandom(512))  # a resume state: never pushed
    (repo / "data/prepared").mkdir(parents=True)
    shutil.copy(cifar_npz, repo / "data/prepared/cifar10.npz")
    tables = repo / "paper_tables/cpu"
    tables.mkdir(parents=True)
    (tables / "table1.json").write_text('{"resnet20": {}}\n')
    (repo / "results/cpu").mkdir(parents=True, exist_ok=True)
    (repo / "results/cpu/table1_metrics.json").write_text("{}\n")
    stand_in_stage_files(repo, "cpu")
    bench = repo / "results/cpu/benchmarks/train/resnet20/baseline/s0.tsv"
    bench.parent.mkdir(parents=True)
    bench.write_text(BENCHMARK)
    (repo / "results/cpu/runs/resnet20/baseline/s0").mkdir(parents=True)
    (repo / "results/cpu/runs/resnet20/baseline/s0/.lock").write_text("")
    (repo / "results/cpu/runs/resnet20/baseline/s0/ranklog.jsonl").write_text(RANKLOG)
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "snakemake").write_text("#!/bin/sh\necho 'Nothing to be done (stub)'\n")
    (stub / "snakemake").chmod(0o755)
    for tool in ("dvc", "trp"):
        (stub / tool).symlink_to(ROOT / ".venv/bin" / tool)
    return repo, stub


@pytest.mark.skipif(not (SHARED / "data/cifar-10-python.tar.gz").exists(), reason="no local CIFAR-10 archive")
@pytest.mark.skipif(not (ROOT / ".venv/bin/dvc").exists(), reason="no .venv with dvc")
def test_publish_then_verify_from_a_fresh_clone(tagged_clone):
    repo, stub = tagged_clone
    env = dict(os.environ, TRP_BIN=str(stub))
    code_change = sh("git", "log", "-1", "--format=%H", "--", "src", cwd=repo).stdout.strip()
    refused = sh("bash", "scripts/publish_results.sh", "cpu", code_change, cwd=repo, env=env, check=False)
    assert refused.returncode == 2 and "changes more than the DVC or publishing declarations" in refused.stderr
    sh("bash", "scripts/publish_results.sh", "cpu", cwd=repo, env=env)
    assert sh("git", "describe", "--exact-match", "--tags", cwd=repo).stdout.strip() == "results-cpu-run-tag"
    committed = sh("git", "show", "--name-only", "--format=", "HEAD", cwd=repo).stdout.split()
    assert "dvc.lock" in committed and "paper_tables/cpu/budget.md" in committed
    locked = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    assert {"data", "cpu", "cpu_table1", "cpu_claims", "cpu_budget", "cpu_metrics"} <= set(locked)  # every stage
    assert not any(f.startswith("dvc-store/") or Path(f).name in (".lock", "ranklog.jsonl") for f in committed)
    log = "results/cpu/runs/resnet20/baseline/s0/ranklog.jsonl"
    assert f"{log}.gz" in committed and gzip.decompress((repo / f"{log}.gz").read_bytes()).decode() == RANKLOG
    assert "| train | n/a | 1 | 1.00 |" in (repo / "paper_tables/cpu/budget.md").read_text()  # no record: no machine
    pushed = [p.relative_to(repo / "dvc-store").as_posix()
              for p in (repo / "dvc-store/files").rglob("*") if p.is_file()]
    assert len(pushed) == 2  # model.pt and the folder's manifest; last.pt stays behind
    parents = sh("git", "rev-parse", "HEAD^1", "HEAD^2", cwd=repo).stdout.split()
    assert parents[0] == sh("git", "rev-parse", "run-tag", cwd=repo).stdout.strip()
    root = sh("git", "log", "-1", "--format=%P%n%s", parents[1], cwd=repo).stdout
    assert root.startswith("\ndvc-store: the cpu profile")
    store = sh("git", "rev-parse", "--short", parents[1], cwd=repo).stdout.strip()
    subject = sh("git", "log", "-1", "--format=%s", cwd=repo).stdout.strip()
    assert subject.endswith(f"(the networks: store commit {store})")  # scripts/store_commit.sh names it
    stored = sh("git", "ls-tree", "-r", "--name-only", parents[1], cwd=repo).stdout.split()
    assert set(pushed) == set(stored)  # a root commit holding the store's files, merged in as second parent
    out = sh("bash", "scripts/verify_results.sh", "results-cpu-run-tag", cwd=repo,
             env=dict(os.environ, TRP_BIN=str(ROOT / ".venv/bin")))
    assert "checkpoints pulled, dvc status clean" in out.stdout

    fresh = repo.parent / "fresh"  # a clone: the store is in its history, the rank log only gzipped
    sh("git", "clone", "-q", "--branch", "results-cpu-run-tag", str(repo), str(fresh), cwd=repo.parent)
    assert not (fresh / "dvc-store").exists() and not (fresh / log).exists()
    sh("bash", "scripts/pull_results.sh", "cpu", cwd=fresh, env=dict(os.environ, TRP_BIN=str(ROOT / ".venv/bin")))
    assert (fresh / log).read_text() == RANKLOG
    assert set(store_commits(fresh)) == {parents[1], *store_commits(ROOT)}  # the profiles published before too
    assert (fresh / "checkpoints/cpu/runs/resnet20/baseline/s0/model.pt").read_bytes() == \
        (repo / "checkpoints/cpu/runs/resnet20/baseline/s0/model.pt").read_bytes()
