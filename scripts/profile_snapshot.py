"""Move a profile run in progress to another machine through a commit of this repository.

For machines that share no storage: the worktree ../<tag>, its outputs and the tag stay behind; a
commit on `main` travels with the outputs.

    .venv/bin/python scripts/profile_snapshot.py save <tag>      # on the old machine, before it stops
    .venv/bin/python scripts/profile_snapshot.py save <tag> --every 20   # every 20 min while it runs, and at its end
    .venv/bin/python scripts/profile_snapshot.py restore <tag>   # on the new machine, after pulling, then
    bash scripts/run_profile.sh cpu <tag>                         # resumes where it stopped

`save` copies the run's outputs from the worktree ../<tag> into profile_snapshots/<tag>/ of this
checkout, with a manifest (the tag's commit, the profile, each file's sha256 and modification time), and
commits that folder alone (other staged or unstaged work is left as it is). The outputs are the files
Git does not track in results/, checkpoints/ (an unfinished run's last.pt and partial rank log with them,
not a finished one's; rank logs kept gzip-compressed), paper_tables/ and Snakemake's metadata and
incomplete-job markers, and the run's log ../<tag>.log; not the prepared data
(never committed; `restore` prepares it again), not run locks. A running Snakemake in the
worktree is paused (SIGSTOP) while the files are copied, so that no file is caught half-written; a run
already stopped (paused by hand with `kill -STOP -<pgid>`, e.g. while other work takes the cores) stays stopped.

`restore` recreates the tag at the manifest's commit (refusing a tag that points elsewhere), creates the
worktree, prepares the data with the profile's own rule, copies the files back, checks each one's
sha256 and sets the modification times saved (the data's too), so that Snakemake sees the same
finished jobs and reruns only the unfinished ones. It refuses a worktree that already holds outputs.

A snapshot is a run in progress, not a result: results are published from the finished worktree by
scripts/publish_results.sh, after which the snapshot folder is deleted from main (the history keeps it).
"""
import argparse
import gzip
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

from trp.artifacts.atomic import sha256_file as sha256
from trp.artifacts.git import GitError, git
from trp.artifacts.rundir import LOCK  # a run directory's lock: stale once the run is stopped

SNAPSHOTS = "profile_snapshots"
MANIFEST = "manifest.json"
LOG = "profile.log"  # ../<tag>.log, kept beside the outputs
KEPT = ("results/", "checkpoints/", "paper_tables/", ".snakemake/metadata/", ".snakemake/incomplete/")
RESUME_STATE = ("last.pt", "ranklog.partial.jsonl")
PACKED = ".jsonl"  # rank logs (22 MB for a 164-epoch spatial TRP+Nu run) are kept gzip-compressed: `<file>.gz`


class SnapshotError(Exception):
    pass


def outputs(tree: Path) -> list[str]:
    """The files of a run's output folders that Git does not track (not the data, not Snakemake's scratch state)."""
    listed = git(tree, "ls-files", "--others", "-z")  # without --exclude-standard: the ignored files too
    keep = []
    for rel in sorted(set(filter(None, listed.split("\0")))):
        if not rel.startswith(KEPT) or Path(rel).name == LOCK:
            continue
        if (tree / rel).is_file() and not (tree / rel).is_symlink() and not finished_resume_state(tree, rel):
            keep.append(rel)
    return keep


def finished_resume_state(tree: Path, rel: str) -> bool:
    """A finished run's resume state (checkpoints/<p>/<run>/last.pt or the partial rank log, beside a
    results/<p>/<run>/metrics.json): never read again, and 3 MB a ResNet-20 run."""
    path = Path(rel)  # a run's folder under checkpoints/ has its counterpart under results/ (trp.runs.run_file)
    return path.name in RESUME_STATE and path.is_relative_to("checkpoints") and \
        (tree / "results" / path.parent.relative_to("checkpoints") / "metrics.json").is_file()


def snakemake_pids(tree: Path) -> list[int]:
    """The Snakemake processes running in the worktree (their current directory is it)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmd = (proc / "cmdline").read_bytes()
                cwd = os.readlink(proc / "cwd")
            except OSError:
                continue
            if b"snakemake" in cmd and Path(cwd) == tree:
                pids.append(int(proc.name))
    return pids


def stopped(pid: int) -> bool:
    """Whether the process is stopped (SIGSTOP), e.g. paused by hand while CI runs."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] in ("T", "t")


@contextmanager
def paused(tree: Path):
    """Stop the process groups of the Snakemake runs in the worktree (their jobs with them) for the block.
    A run that is already stopped is left stopped: a save never resumes a run paused by hand."""
    pids = snakemake_pids(tree)
    if os.getpgrp() in {os.getpgid(pid) for pid in pids}:  # stopping it would stop this process too
        raise SnapshotError("the Snakemake run shares this process group; start it with scripts/run_profile.sh")
    groups = {os.getpgid(pid) for pid in pids if not stopped(pid)}
    for pgid in groups:
        os.killpg(pgid, signal.SIGSTOP)
    try:
        yield
    finally:
        for pgid in groups:
            os.killpg(pgid, signal.SIGCONT)


def profile_of(tree: Path, files: list[str]) -> str:
    """The profile a worktree's run uses: the one results/<profile> its outputs `files` lie under (one
    profile a run; results Git tracks, e.g. a published profile's, are not the run's)."""
    names = sorted({Path(rel).parts[1] for rel in files
                    if Path(rel).parts[0] == "results" and len(Path(rel).parts) > 2})
    if len(names) != 1:
        raise SnapshotError(f"{tree}: expected the outputs of one profile under results/, found {names or 'none'}")
    return names[0]


def save(repo: Path, tag: str, commit: bool = True) -> Path:
    tree = repo.parent / tag
    if not tree.is_dir():
        raise SnapshotError(f"no worktree {tree}; start the run with scripts/run_profile.sh")
    head = git(tree, "rev-parse", "HEAD").strip()
    dest = repo / SNAPSHOTS / tag
    staging = dest.with_name(dest.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    files = {}
    with paused(tree):
        data = tree / "data" / "prepared"
        data_files = {str(p.relative_to(tree)): p.stat().st_mtime_ns for p in sorted(data.rglob("*")) if p.is_file()} \
            if data.is_dir() else {}
        sources = [(rel, tree / rel) for rel in outputs(tree)]
        log = tree.with_name(tree.name + ".log")
        if log.is_file():
            sources.append((LOG, log))
        for rel, src in sources:
            packed = rel.endswith(PACKED)
            target = staging / "files" / (rel + ".gz" if packed else rel)
            target.parent.mkdir(parents=True, exist_ok=True)
            if packed:
                pack(src, target)
            else:
                shutil.copy2(src, target)
            files[rel] = {"sha256": sha256(src), "mtime_ns": src.stat().st_mtime_ns}
            if packed:
                files[rel]["gzip"] = True
    profile = profile_of(tree, [rel for rel, _ in sources])
    manifest = {"schema": "trp.profile_snapshot/1", "tag": tag, "commit": head, "profile": profile,
                "data_mtime_ns": data_files, "files": files}
    (staging / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n")
    shutil.rmtree(dest, ignore_errors=True)
    staging.rename(dest)
    if commit:
        rel = str(dest.relative_to(repo))
        git(repo, "add", "-A", "--force", "--", rel)  # --force: main ignores .snakemake/ and checkpoints
        changed = git(repo, "diff", "--cached", "--name-only", "--", rel).split()
        if changed:
            done = sum(1 for f in files if f.endswith("metrics.json"))
            # what this commit adds to the history: each save adds the changed checkpoints again
            added = sum((repo / c).stat().st_size for c in changed if (repo / c).is_file()) / 1e6
            git(repo, "commit", "-q", "-m", f"profile snapshot {tag}: {len(files)} files, {done} metrics.json, "
                                            f"{len(changed)} changed ({added:.1f} MB) "
                                            f"(a run in progress, moved between machines; not a result)", "--", rel)
    return dest


def restore(repo: Path, tag: str) -> Path:
    src = repo / SNAPSHOTS / tag
    if not (src / MANIFEST).is_file():
        raise SnapshotError(f"no snapshot {src}")
    manifest = json.loads((src / MANIFEST).read_text())
    commit = manifest["commit"]
    existing = subprocess.run(["git", "-C", str(repo), "rev-parse", "-q", "--verify", f"refs/tags/{tag}^{{commit}}"],
                              capture_output=True, text=True).stdout.strip()
    if existing and existing != commit:
        raise SnapshotError(f"tag {tag} points at {existing[:12]}, the snapshot at {commit[:12]}")
    if not existing:
        git(repo, "tag", tag, commit)
    tree = repo.parent / tag
    if not tree.is_dir():
        git(repo, "worktree", "add", "--detach", str(tree), tag)
    if git(tree, "rev-parse", "HEAD").strip() != commit:
        raise SnapshotError(f"{tree} is not at {commit[:12]}")
    if [f for f in outputs(tree) if not f.startswith(".snakemake/")]:
        raise SnapshotError(f"{tree} already holds outputs; restore into a fresh worktree")
    prepare_data(repo, tree, manifest["profile"])
    for rel, mtime in manifest["data_mtime_ns"].items():
        os.utime(tree / rel, ns=(mtime, mtime))
    for rel, info in manifest["files"].items():
        target = tree.with_name(tree.name + ".log") if rel == LOG else tree / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        if info.get("gzip"):
            with gzip.open(src / "files" / (rel + ".gz")) as packed, open(target, "wb") as out:
                shutil.copyfileobj(packed, out)
        else:
            shutil.copyfile(src / "files" / rel, target)
        if sha256(target) != info["sha256"]:
            raise SnapshotError(f"{rel}: sha256 differs from the manifest's")
        os.utime(target, ns=(info["mtime_ns"], info["mtime_ns"]))
    return tree


def pack(src: Path, target: Path) -> None:
    """src gzip-compressed into target, the same bytes for the same content (no name, no time in the header)."""
    with open(src, "rb") as f, open(target, "wb") as raw, \
            gzip.GzipFile(fileobj=raw, mode="wb", filename="", mtime=0) as out:
        shutil.copyfileobj(f, out)


def prepare_data(repo: Path, tree: Path, profile: str) -> None:
    """Run the profile's data rule alone in the worktree (the prepared arrays are never in a snapshot), from
    $TRP_CIFAR_ARCHIVE, else the archive beside the repository, else the download."""
    env = {**os.environ, "PYTHONPATH": str(tree / "src"), "PATH": f"{repo / '.venv' / 'bin'}:{os.environ['PATH']}"}
    local = repo.parent / "shared" / "data" / "cifar-10-python.tar.gz"  # the archive beside the repository, if there
    if not env.get("TRP_CIFAR_ARCHIVE") and local.is_file():
        env["TRP_CIFAR_ARCHIVE"] = str(local)
    try:
        proc = subprocess.run(["snakemake", "--cores", "1", "--configfile", f"config/{profile}.yaml",
                               "--until", "prepare_data"], cwd=tree, env=env, capture_output=True, text=True)
    except FileNotFoundError:
        raise SnapshotError(f"no snakemake in {repo / '.venv' / 'bin'} or on PATH: run scripts/setup.sh first") \
            from None
    if proc.returncode:
        raise SnapshotError(f"preparing the data failed: {proc.stderr.strip().splitlines()[-1:]}")


def save_every(repo: Path, tag: str, minutes: float) -> Path:
    """Save every `minutes` while a Snakemake run goes on in the worktree, then once more after it has
    ended (its last jobs' outputs included). A save that fails while the run goes on (e.g. another
    commit holds the index lock) is reported and tried again at the next interval."""
    tree = repo.parent / tag
    while snakemake_pids(tree):
        time.sleep(minutes * 60)
        if snakemake_pids(tree):
            try:
                print(f"{time.strftime('%H:%M:%S')} saved {save(repo, tag)}", flush=True)
            except (SnapshotError, GitError) as e:
                print(f"{time.strftime('%H:%M:%S')} save failed, tried again in {minutes:g} min: {e}", flush=True)
    return save(repo, tag)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=["save", "restore"])
    ap.add_argument("tag")
    ap.add_argument("--every", type=float, metavar="MINUTES",
                    help="save: keep saving every MINUTES while the run goes on, and once more when it ends")
    args = ap.parse_args(argv)
    if args.every is not None and (args.action != "save" or not args.every > 0):
        ap.error("--every takes a positive number of minutes, with save")
    repo = Path(git(Path.cwd(), "rev-parse", "--show-toplevel").strip())
    try:
        if args.action == "restore":
            where = restore(repo, args.tag)
        else:
            where = save(repo, args.tag) if args.every is None else save_every(repo, args.tag, args.every)
    except (SnapshotError, GitError) as e:
        print(f"profile_snapshot: error: {e}", file=sys.stderr)
        return 2
    print(where)
    return 0


if __name__ == "__main__":
    sys.exit(main())
