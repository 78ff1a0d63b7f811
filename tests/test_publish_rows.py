"""scripts/publish_rows.py and trp.run_state: a profile still running publishes the Table-1 seeds it
has finished (records, renderings, and networks recorded in DVC and pushed into a store commit, so that
a fresh clone pulls them) and says what the others are doing; an unfinished run's resume state and a
job without its benchmark file are never published; nothing here is replaced."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from trp import profile as profiles
from trp.run_state import ProfileState
from trp.runs import RunTable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))
from publish_rows import PublishError, publish  # noqa: E402

BASE = "resnet20/baseline/s0"
TRP1 = "resnet20/trp-channel-e0.1-lam0/s0"  # smoke: e = 0.1, no nuclear norm
RANKLOG = '{"projection": 1, "step": 0, "layer": "layer1.0.conv1", "rank_after": 16, "sqrt_e": 0.14}\n'
NETWORK, TRP1_NETWORK = os.urandom(2048), os.urandom(1024)
DVC = ROOT / ".venv/bin/dvc"
# the smoke profile's stage, declared as dvc.yaml declares a profile's
STAGE = """stages:
  smoke:
    cmd: snakemake --cores all --configfile config/smoke.yaml
    params:
      - config/smoke.yaml: [profile, models, seeds]
    deps:
      - data/prepared/cifar10.npz
    outs:
      - checkpoints/smoke
"""
BENCHMARK = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n" \
            "61.0\t0:01:01\t900\t1000\t800\t850\t0\t1\t95\t58.0\n"


def git(cwd, *args):
    return subprocess.run(["git", "-C", str(cwd), *args], check=True, capture_output=True, text=True).stdout.strip()


def commit_all(repo):
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "c")


def write(path: Path, text) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text) if isinstance(text, bytes) else path.write_text(text)
    return path


def baseline_record(tree: Path, run=BASE, method="baseline", accuracy=None) -> Path:
    record = {"schema": "trp.run/1", "kind": "training", "schema_version": 1,
              "config": {"model": "resnet20", "seed": 0, "epochs": 2, "method": method, "scheme": "channel"},
              "accuracy": accuracy or {"dense": 40.0},
              "cost": {"dense": {"conv_macs": 123}, "decomposed": {"conv_macs": 123}},
              "speedup": {"conv": 1.0, "whole": 1.0},
              "training": {"epochs": 2, "history": [{"epoch": 1, "seconds": 30.0, "images_per_s": 17.0},
                                                    {"epoch": 2, "seconds": 31.0, "images_per_s": 16.5}]},
              "provenance": {"commit": "0123456789abcdef0123", "dirty": False, "device": "cpu-test", "seed": 0,
                             "config_hash": "cfg0", "data_fingerprint": "data0", "model_sha256": "0" * 64}}
    return write(tree / f"results/smoke/runs/{run}/metrics.json", json.dumps(record))


@pytest.fixture
def run(tmp_path, monkeypatch):
    """A smoke profile's run folder at a commit (its baseline seed done, TRP1 training at epoch 1 of
    2), and an empty checkout beside it, the working directory."""
    tree, repo = tmp_path / "tag", tmp_path / "main"
    write(tree / "config/smoke.yaml", (ROOT / "config/smoke.yaml").read_text())
    git(tmp_path, "init", "-q", str(tree))
    commit_all(tree)
    baseline_record(tree)
    write(tree / f"results/smoke/runs/{BASE}/ranklog.jsonl", "")
    write(tree / f"results/smoke/benchmarks/train/{BASE}.tsv", BENCHMARK)
    write(tree / f"checkpoints/smoke/runs/{BASE}/model.pt", NETWORK)
    write(tree / "data/prepared/cifar10.npz", b"prepared data")
    write(tree / f"checkpoints/smoke/runs/{TRP1}/last.pt", b"resume state")
    write(tree / f"results/smoke/logs/train/{TRP1}.log", '{"epoch": 1, "seconds": 30.0}\nnot json\n')
    git(tmp_path, "init", "-q", str(repo))
    write(repo / ".gitignore", "/checkpoints/\n/data/\n/dvc-store/\n/results/*/runs/**/ranklog.jsonl\n")  # as ROOT's
    subprocess.run([DVC, "init", "-q"], cwd=repo, check=True)
    for f in (".dvc/config", ".dvcignore", "config/smoke.yaml"):
        write(repo / f, (ROOT / f).read_text())
    write(repo / "dvc.yaml", STAGE)
    commit_all(repo)
    monkeypatch.chdir(repo)
    return tree, repo


def test_the_state_of_each_seed_comes_from_its_files(run):
    tree, _ = run
    state = ProfileState(tree, RunTable(profiles.load(tree / "config/smoke.yaml")))
    assert state.state("resnet20", "baseline", 0) == "done"
    assert state.state("resnet20", "trp-channel-e0.1-lam0", 0) == "training, epoch 1 of 2 done"
    assert state.state("resnet20", "trp-channel-e0.1-lam0-ft", 0) == "training trp-channel-e0.1-lam0, epoch 1 of 2 done"
    assert state.state("resnet20", "basic-channel-energy-x1.41", 0) == "not started"
    (tree / f"results/smoke/benchmarks/train/{BASE}.tsv").unlink()  # the record, but the job not finished
    assert state.state("resnet20", "baseline", 0) == "not started"


def test_publishes_the_finished_seeds_and_says_what_the_others_do(run):
    tree, repo = run
    message = publish(repo, tree, "smoke", commit=True)
    assert message.startswith("results: the smoke profile's finished rows (1 of ")
    assert "resnet20/TRP1: seed 0: training, epoch 1 of 2 done" in message
    assert (repo / f"checkpoints/smoke/runs/{BASE}/model.pt").read_bytes() == NETWORK
    assert not (repo / f"checkpoints/smoke/runs/{TRP1}").exists()  # resume state stays with the run
    committed = git(repo, "ls-files").splitlines()
    assert f"results/smoke/runs/{BASE}/metrics.json" in committed and "paper_tables/smoke/table1.md" in committed
    assert not any(f.startswith("checkpoints/") for f in committed)  # networks go to DVC, not git
    assert f"results/smoke/runs/{BASE}/ranklog.jsonl.gz" in committed  # rank logs gzipped, as publish_results.sh
    assert f"results/smoke/runs/{BASE}/ranklog.jsonl" not in committed
    table = (repo / "paper_tables/smoke/table1.md").read_text()
    assert "| state of this profile's run |" in table
    assert "| seed 0: training, epoch 1 of 2 done |" in table and "| 40.00 (n=1) |" in table
    claims = (repo / "paper_tables/smoke/claims.md").read_text()
    assert "Table 1 rows still running" in claims
    assert (repo / "paper_tables/smoke/budget.md").is_file() and not (repo / "paper_tables/smoke/fig2.png").exists()

    assert publish(repo, tree, "smoke", commit=False).startswith("results:")  # again: the same bytes are skipped
    record = repo / f"results/smoke/runs/{BASE}/metrics.json"
    record.write_text(record.read_text().replace("40.0", "41.0"))
    with pytest.raises(PublishError, match="exists with other content"):
        publish(repo, tree, "smoke", commit=False)
    assert "41.0" in record.read_text()


def test_nothing_finished_publishes_nothing(run):
    tree, repo = run
    shutil.rmtree(tree / "results/smoke/runs")
    message = publish(repo, tree, "smoke", commit=True)
    assert message.startswith("no Table-1 row has a finished seed yet")
    assert "resnet20/baseline: seed 0: not started" in message
    assert not (repo / "paper_tables").exists() and git(repo, "rev-list", "--count", "HEAD") == "1"


def finish_trp1(tree: Path) -> None:
    """TRP1's seed 0 finishes in the run: its record, rank log, benchmark file and network."""
    baseline_record(tree, TRP1, "trp", {"dense": 40.0, "decomposed": 39.0})
    write(tree / f"results/smoke/runs/{TRP1}/ranklog.jsonl", RANKLOG)
    write(tree / f"results/smoke/benchmarks/train/{TRP1}.tsv", BENCHMARK)
    write(tree / f"checkpoints/smoke/runs/{TRP1}/model.pt", TRP1_NETWORK)


def store_commits(repo: Path) -> list[str]:
    return git(repo, "log", "--max-parents=0", "--format=%H", "--grep=^dvc-store: ", "HEAD").split()


def pull(clone: Path) -> str:
    env = dict(os.environ, TRP_BIN=str(DVC.parent))
    return subprocess.run(["bash", ROOT / "scripts/pull_results.sh", "smoke"], cwd=clone, env=env, check=True,
                          capture_output=True, text=True).stdout


def locked_networks(repo: Path) -> int:
    [out] = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]["smoke"]["outs"]
    return out["nfiles"]


@pytest.mark.skipif(not DVC.exists(), reason="no .venv with dvc")
def test_a_fresh_clone_pulls_the_published_networks(run, tmp_path):
    tree, repo = run
    publish(repo, tree, "smoke", commit=True)
    parents = git(repo, "rev-parse", "HEAD^1", "HEAD^2").split()
    assert git(repo, "log", "-1", "--format=%P|%s", parents[1]).startswith("|dvc-store: the smoke profile")  # a root
    assert store_commits(repo) == [parents[1]] and locked_networks(repo) == 1  # the network published so far
    assert "dvc.lock" in git(repo, "ls-files").splitlines()
    fresh = tmp_path / "fresh"
    git(tmp_path, "clone", "-q", str(repo), str(fresh))
    assert not (fresh / "checkpoints").exists() and not (fresh / "dvc-store").exists()
    assert "from 1 store commit(s)" in pull(fresh)
    assert (fresh / f"checkpoints/smoke/runs/{BASE}/model.pt").read_bytes() == NETWORK
    assert not (fresh / f"checkpoints/smoke/runs/{TRP1}").exists()  # its training is still running

    finish_trp1(tree)  # a second publication, with one more row: its network joins the store
    message = publish(repo, tree, "smoke", commit=True)
    assert message.startswith("results: the smoke profile's finished rows (2 of ")
    assert len(store_commits(repo)) == 2 and locked_networks(repo) == 2
    assert f"results/smoke/runs/{TRP1}/ranklog.jsonl.gz" in git(repo, "ls-files").splitlines()
    git(fresh, "pull", "-q", "--ff-only")
    assert "from 2 store commit(s)" in pull(fresh)  # the first store again, beside the second: no conflict
    assert (fresh / f"checkpoints/smoke/runs/{BASE}/model.pt").read_bytes() == NETWORK
    assert (fresh / f"checkpoints/smoke/runs/{TRP1}/model.pt").read_bytes() == TRP1_NETWORK
    assert not (fresh / f"checkpoints/smoke/runs/{TRP1}/last.pt").exists()  # the resume state is never pushed
