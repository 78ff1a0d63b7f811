"""scripts/profile_snapshot.py: a run's outputs carried through a commit on main into a fresh worktree,
byte for byte and with their modification times (what Snakemake judges a finished job by), without the
data, run locks, finished runs' resume states or anything Git tracks; the tag and the worktree are
recreated; bad states are refused."""
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
from profile_snapshot import SNAPSHOTS, SnapshotError, main, restore, save, save_every, stopped  # noqa: E402

OUTPUTS = {
    "results/cpu/runs/resnet20/baseline/s0/metrics.json": b'{"accuracy": 1}\n',
    "checkpoints/cpu/runs/resnet20/trp/s0/last.pt": os.urandom(3000),
    "checkpoints/cpu/runs/resnet20/trp/s0/ranklog.partial.jsonl": b'{"projection": 1, "layer": "conv"}\n' * 500,
    "paper_tables/cpu/table1.md": b"| row |\n",
    ".snakemake/metadata/cmVzdWx0cy9jcHU=": b"{}",
    ".snakemake/incomplete/Y2hlY2twb2ludHM=": b"",
}
NOT_SAVED = ("results/cpu/runs/resnet20/baseline/s0/.lock", "data/prepared/cifar10.npz",
             "checkpoints/cpu/runs/resnet20/baseline/s0/last.pt",  # its run has finished (metrics.json)
             "src/__pycache__/x.pyc", ".snakemake/log/run.log")


def git(repo, *args):
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def run(tmp_path):
    """A repository with a tag and a worktree ../<tag> holding a run's outputs, with distinct mtimes."""
    repo = tmp_path / "main"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    for k, v in (("user.name", "test"), ("user.email", "test@example.org")):
        git(repo, "config", k, v)
    (repo / ".gitignore").write_text(".snakemake/\n/data/\n/checkpoints/\n__pycache__/\n.lock\n")
    (repo / "code.py").write_text("x = 1\n")
    (repo / "results/published").mkdir(parents=True)  # another profile's results, tracked: not the run's
    (repo / "results/published/metrics.json").write_text("{}\n")
    git(repo, "add", ".")
    git(repo, "commit", "-q", "-m", "code")
    git(repo, "tag", "run-tag")
    tree = tmp_path / "run-tag"
    git(repo, "worktree", "add", "-q", "--detach", str(tree), "run-tag")
    for i, (rel, data) in enumerate({**OUTPUTS, **{r: b"x" for r in NOT_SAVED}}.items()):
        path = tree / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, ns=(10**18 + i * 10**9, 10**18 + i * 10**9))
    (tmp_path / "run-tag.log").write_text("Finished job 1.\n")
    return repo, tree


def fake_prepare(repo, tree, profile):
    assert profile == "cpu"
    (tree / "data/prepared").mkdir(parents=True)
    (tree / "data/prepared/cifar10.npz").write_bytes(b"x")


def test_save_commits_the_outputs_alone_and_restore_rebuilds_the_run(run, monkeypatch):
    repo, tree = run
    (repo / "work.py").write_text("staged = True\n")
    git(repo, "add", "work.py")
    mtimes = {rel: (tree / rel).stat().st_mtime_ns for rel in OUTPUTS}
    data_mtime = (tree / "data/prepared/cifar10.npz").stat().st_mtime_ns
    commit = git(repo, "rev-parse", "run-tag").strip()

    save(repo, "run-tag")
    committed = git(repo, "show", "--name-only", "--format=", "HEAD").split()
    assert "work.py" not in committed and all(c.startswith(f"{SNAPSHOTS}/run-tag/") for c in committed)
    assert git(repo, "diff", "--cached", "--name-only").split() == ["work.py"]  # still staged, not committed
    saved = {c.split("/files/", 1)[1] for c in committed if "/files/" in c}
    log = "checkpoints/cpu/runs/resnet20/trp/s0/ranklog.partial.jsonl"
    assert saved == {*OUTPUTS, "profile.log", f"{log}.gz"} - {log}  # a rank log is kept compressed
    assert (repo / SNAPSHOTS / "run-tag/files" / f"{log}.gz").stat().st_size < len(OUTPUTS[log]) / 10

    git(repo, "worktree", "remove", "--force", str(tree))
    git(repo, "tag", "-d", "run-tag")
    monkeypatch.setattr("profile_snapshot.prepare_data", fake_prepare)
    assert restore(repo, "run-tag") == tree
    assert git(repo, "rev-parse", "run-tag").strip() == commit
    for rel, data in OUTPUTS.items():
        assert (tree / rel).read_bytes() == data and (tree / rel).stat().st_mtime_ns == mtimes[rel]
    assert (tree / "data/prepared/cifar10.npz").stat().st_mtime_ns == data_mtime
    assert (tree.parent / "run-tag.log").read_text() == "Finished job 1.\n"
    assert not (tree / NOT_SAVED[0]).exists()


def test_restore_refuses_a_moved_tag_a_used_worktree_and_a_changed_file(run, monkeypatch):
    repo, tree = run
    save(repo, "run-tag")
    monkeypatch.setattr("profile_snapshot.prepare_data", fake_prepare)
    with pytest.raises(SnapshotError, match="already holds outputs"):
        restore(repo, "run-tag")
    git(repo, "worktree", "remove", "--force", str(tree))
    git(repo, "tag", "-f", "run-tag", "HEAD")  # HEAD is the snapshot's commit, not the run's
    with pytest.raises(SnapshotError, match="points at"):
        restore(repo, "run-tag")
    git(repo, "tag", "-f", "run-tag", "HEAD~1")
    (repo / SNAPSHOTS / "run-tag/files/paper_tables/cpu/table1.md").write_text("edited\n")
    with pytest.raises(SnapshotError, match="sha256 differs"):
        restore(repo, "run-tag")


def test_save_needs_the_worktree(tmp_path):
    with pytest.raises(SnapshotError, match="no worktree"):
        save(tmp_path / "main", "no-such-tag")


def wait_until_stopped(pid, deadline_s=60.0):
    """Poll /proc/<pid>/stat until the process shows as stopped: SIGSTOP takes effect when the
    process next runs, which on a busy machine can be a while after kill() returns."""
    deadline = time.monotonic() + deadline_s
    while not stopped(pid):
        assert time.monotonic() < deadline, f"process {pid} did not stop within {deadline_s} s of SIGSTOP"
        time.sleep(0.01)


def test_save_pauses_a_running_run_and_leaves_a_stopped_one_stopped(run):
    """A stand-in for Snakemake (its command line names it, its directory is the worktree) in its own group."""
    repo, tree = run
    fake = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)", "snakemake"], cwd=tree,
                            start_new_session=True)
    try:
        save(repo, "run-tag")
        assert not stopped(fake.pid)  # paused for the copy, then resumed
        os.killpg(fake.pid, signal.SIGSTOP)  # paused by hand, as for a CI run
        wait_until_stopped(fake.pid)  # the process stops once it is next scheduled, not at once
        (tree / "paper_tables/cpu/table1.md").write_text("| row | more |\n")
        save(repo, "run-tag")
        assert stopped(fake.pid)
        assert "more" in (repo / SNAPSHOTS / "run-tag/files/paper_tables/cpu/table1.md").read_text()
        # the commit names what it adds to the history: the edited table and the manifest
        assert ", 2 changed (0.0 MB) (a run in progress" in git(repo, "log", "-1", "--format=%s")
    finally:
        os.killpg(fake.pid, signal.SIGKILL)
        fake.wait()


def test_save_every_saves_once_more_when_no_run_goes_on(run, monkeypatch, capsys):
    repo, tree = run
    monkeypatch.chdir(repo)
    assert main(["save", "run-tag", "--every", "0.001"]) == 0
    assert git(repo, "log", "-1", "--format=%s").startswith("profile snapshot run-tag:")
    for bad in (["restore", "run-tag", "--every", "5"], ["save", "run-tag", "--every", "0"]):
        with pytest.raises(SystemExit) as e:
            main(bad)
        assert e.value.code == 2
    assert "--every takes a positive number" in capsys.readouterr().err


def test_save_every_outlasts_a_failed_save_while_the_run_goes_on(run, monkeypatch, capsys):
    repo, tree = run
    running = iter([True] * 4 + [False])  # checked before and after each of two intervals, then ended
    monkeypatch.setattr("profile_snapshot.snakemake_pids", lambda tree: [0] if next(running) else [])
    monkeypatch.setattr("profile_snapshot.paused", lambda tree: contextlib.nullcontext())  # no process to pause
    outcomes = iter([SnapshotError("git commit: index.lock exists"), None])

    def flaky_save(repo, tag):
        if (e := next(outcomes, None)) is not None:
            raise e
        return save(repo, tag)
    monkeypatch.setattr("profile_snapshot.save", flaky_save)
    save_every(repo, "run-tag", 1e-5)
    out = capsys.readouterr().out
    assert "save failed, tried again" in out and "index.lock" in out and "saved" in out
    assert git(repo, "log", "-1", "--format=%s").startswith("profile snapshot run-tag:")


def test_restore_without_snakemake_says_so_in_one_line(run, monkeypatch):
    repo, tree = run
    save(repo, "run-tag")
    git(repo, "worktree", "remove", "--force", str(tree))
    bin_dir = repo.parent / "bin"  # git alone: neither .venv/bin nor any snakemake
    bin_dir.mkdir()
    (bin_dir / "git").symlink_to(shutil.which("git"))
    monkeypatch.setenv("PATH", str(bin_dir))
    with pytest.raises(SnapshotError, match="no snakemake in .*: run scripts/setup.sh first"):
        restore(repo, "run-tag")
