"""Publish the Table-1 rows a profile run has finished while the rest still runs.

    .venv/bin/python scripts/publish_rows.py paper_cpu <tag>     # the run goes on in ../<tag>

Reads the run's state from its worktree ../<tag> (trp.run_state: a seed of a row is done when its
record and every job behind it are), copies the files each done seed rests on (records, rank logs,
benchmark files into results/<profile>/; networks into checkpoints/<profile>/) and the prepared data
they were trained on into this checkout, renders from them, with this checkout's code, Table 1 (a
"state" column names each row's seeds still to come and what they are doing), the claims (those
without a record yet are "not tested"), and Theorem 2, Fig. 2, Fig. 3 and the cost table where their
inputs exist, into paper_tables/<profile>/. Then it records the networks copied so far in DVC (`dvc
commit -f <profile>`: dvc.lock names exactly them), pushes them to the DVC remote dvc-store/, and
commits the files it copied and rendered (rank logs gzipped by scripts/pack_ranklogs.sh) with dvc.lock
as a results commit whose second parent is a store commit of the pushed networks
(scripts/store_commit.sh, as scripts/publish_results.sh does): a clone pulls the published rows'
networks with scripts/pull_results.sh <profile>. --no-commit leaves the files staged and DVC untouched.
The records name the tag's commit; the renderings and dvc.lock's code dependencies this checkout's.
Safe while the run goes on: it reads only finished jobs' files. A file already here is never replaced:
the same bytes are skipped, different bytes stop it (one line, exit 2). When the run has finished,
publish it whole with scripts/publish_results.sh, which replaces these partial tables and dvc.lock's
entry.
"""
import contextlib
import filecmp
import io
import os
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from trp import cli
from trp import profile as profiles
from trp.artifacts.git import GitError, git
from trp.cli_parser import Parser
from trp.run_state import ProfileState
from trp.runs import RunTable

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "scripts"
DVC = Path(sys.executable).parent / "dvc"  # the virtualenv's, beside the Python that runs this
DATA = "data/prepared/cifar10.npz"  # the prepared data a profile's DVC stage depends on


class PublishError(Exception):
    pass


def rows_state(state: ProfileState) -> tuple[set[tuple], dict[tuple[str, str], list[str]]]:
    """The (model, run, seed) of every done seed of a Table-1 row; (model, method key) -> the states of
    its seeds still to come."""
    table, done, pending = state.table, set(), {}
    for model, rows in table.tables.items():
        for key, run in rows.items():
            for seed in table.seeds:
                s = state.state(model, run, seed)
                if s == "done":
                    done.add((model, run, seed))
                else:
                    pending.setdefault((model, key), []).append(f"seed {seed}: {s}")
    return done, pending


def copy_files(tree: Path, files: list[str], repo: Path) -> None:
    """Copies `files` (relative) from the run's folder `tree` into `repo`, but those already there."""
    for rel in files:
        src, dst = tree / rel, repo / rel
        if dst.exists():
            if not filecmp.cmp(src, dst, shallow=False):
                raise PublishError(f"{dst} exists with other content than {src}; nothing copied over it")
            continue
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)


def present_run_table(table: RunTable, have: set[str], pending: dict[tuple[str, str], list[str]]) -> dict:
    """The run table (RunTable.document) of what the copied records allow: each Table-1 row with the
    records here and the states of its seeds still to come, Fig. 3's points with a record here (those
    records), the rank logs here."""
    doc = table.document()
    for model, rows in doc["tables"].items():
        for key, entry in rows.items():
            entry["records"] = {seed: path for seed, path in entry["records"].items() if path in have}
            entry |= {"pending": pending[(model, key)]} if (model, key) in pending else {}
    points = [p | {"records": {seed: path for seed, path in p["records"].items() if path in have}}
              for p in doc["ablation"]["points"]]
    doc["ablation"]["points"] = [p for p in points if p["records"]]
    doc["rank_logs"] = [log for log in doc["rank_logs"] if log["rank_log"] in have]
    return doc


def render(table: RunTable, have: set[str], pending: dict[tuple[str, str], list[str]], out: str) -> list[str]:
    """Renders what the copied records allow into `out`/ with `trp render`; returns the renderers run.
    Paths are relative to the checkout's root, the working directory."""
    doc, done = present_run_table(table, have, pending), []
    rankvar = table.rankvar_input() if table.rankvar_input() in have else None
    rv = table.config["rank_variation"]
    rankvar_args = ["--rankvar", rankvar, "--layer", rv["layer"], "--e", str(rv["e"])] if rankvar else []
    with tempfile.TemporaryDirectory(prefix="publish-rows-") as scratch:
        run_table = Path(scratch) / "runs.json"
        run_table.write_text(json.dumps(doc, indent=1) + "\n")
        common = ["--run-table", str(run_table), "--profile", table.profile]
        jobs = {"table1": common, "claims": [*common, *rankvar_args],
                "theorem2": common if doc["rank_logs"] else None,
                "fig2": [*rankvar_args, "--profile", table.profile] if rankvar else None,
                "fig3": common if doc["ablation"]["points"] else None,
                "budget": common}
        for name, args in jobs.items():
            if args is not None:
                with contextlib.redirect_stdout(io.StringIO()):
                    status = cli.main(["render", name, *args, "--out", f"{out}/{name}"])
                if status:
                    raise PublishError(f"trp render {name} failed (exit {status}; its message is above)")
                done.append(name)
    return done


def publish(repo: Path, tree: Path, profile: str, commit: bool) -> str:
    """Copies, renders (in `repo`, the working directory) and commits; returns what it did."""
    table = RunTable(profiles.load(tree / "config" / f"{profile}.yaml"))
    state = ProfileState(tree, table)
    done, pending = rows_state(state)
    lines = [f"{model}/{key}: {'; '.join(states)}" for (model, key), states in pending.items()]
    if not done:
        return "\n".join(["no Table-1 row has a finished seed yet; nothing published", *lines])
    files = list(dict.fromkeys(f for cell in sorted(done) for f in state.files(*cell)))
    copy_files(tree, files, repo)
    out = f"paper_tables/{profile}"
    rendered = render(table, set(files), pending, out)
    logs = [f for f in files if f.endswith("/ranklog.jsonl")]
    subprocess.run(["bash", str(SCRIPTS / "pack_ranklogs.sh"), *logs], cwd=repo, check=True)
    git(repo, "add", "--", *[f for f in files + [f"{log}.gz" for log in logs] if not git_ignored(repo, f)], out)
    cells = sum(len(rows) for rows in table.tables.values()) * len(table.seeds)
    message = (f"results: the {profile} profile's finished rows ({len(done)} of {cells} Table-1 records), "
               f"from the run at {git(tree, 'rev-parse', '--short', 'HEAD').strip()} in progress; "
               f"rendered: {', '.join(rendered)}")
    if commit:
        store(repo, tree, profile, message)
    return "\n".join([message, "still to come:", *lines])


def store(repo: Path, tree: Path, profile: str, message: str) -> None:
    """Records the profile's networks in `repo` in DVC (with the prepared data of the run in `tree`, which
    its stage depends on), pushes them and commits the index with dvc.lock, taking a store commit of the
    pushed files as its second parent."""
    copy_files(tree, [DATA], repo)
    for args in (["commit", "-q", "-f", profile], ["push", "-q", profile]):
        subprocess.run([str(DVC), *args], cwd=repo, check=True)
    git(repo, "add", "dvc.lock")
    what = f"the {profile} profile's networks of its finished rows"
    subprocess.run(["bash", str(SCRIPTS / "store_commit.sh"), what, message], cwd=repo, check=True,
                   stdout=subprocess.DEVNULL)


def git_ignored(repo: Path, path: str) -> bool:
    return subprocess.run(["git", "-C", str(repo), "check-ignore", "-q", path]).returncode == 0


def main() -> None:
    ap = Parser(description=__doc__.split("\n\n")[0])
    ap.add_argument("profile", help="the profile the run follows, e.g. paper_cpu")
    ap.add_argument("tag", help="the tag the run was started from (its worktree is ../<tag>)")
    ap.add_argument("--no-commit", action="store_true", help="stage the files; no DVC record, push or commit")
    a = ap.parse_args()
    tree = ROOT.parent / a.tag
    try:
        if not (tree / "config" / f"{a.profile}.yaml").is_file():
            raise PublishError(f"no {tree}/config/{a.profile}.yaml "
                               f"(start the run with scripts/run_profile.sh {a.profile} {a.tag})")
        if git(tree, "rev-parse", "HEAD").strip() != git(ROOT, "rev-parse", f"{a.tag}^{{commit}}").strip():
            raise PublishError(f"{tree} is not at tag {a.tag}")
        if git(ROOT, "diff", "--cached", "--name-only"):
            raise PublishError("this checkout has staged changes; commit or unstage them first")
        os.chdir(ROOT)
        print(publish(ROOT, tree, a.profile, commit=not a.no_commit))
    except (PublishError, GitError, profiles.ProfileError, OSError, subprocess.CalledProcessError) as exc:
        sys.exit(f"publish_rows: {exc}")


if __name__ == "__main__":
    main()
