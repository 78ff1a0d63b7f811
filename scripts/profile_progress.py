"""How far a profile run has got and about how long it has left, weighted by what its jobs cost:
Snakemake's "N of M steps done" counts a two-second render like an hour of training.

    .venv/bin/python scripts/profile_progress.py cpu <tag>   # the worktree ../<tag>

Per stage (a run's job's stage, by the run table: trp.run_state; a job of no run, a rendering or a timing,
counts in the folder under <results>/benchmarks/ its benchmark file lies in): the jobs done (their benchmark
file exists), the jobs left (Snakemake's dry run in the worktree, with --rerun-incomplete as run_profile.sh
runs it), the median wall time of a done job, and the job-hours left. For a stage whose logs hold epoch
records (training, fine-tuning) that is each job's epochs left (a done job's median epoch count less the
epochs an interrupted or running job's log already holds) times the median epoch measured in this run;
otherwise the median done job. A training or fine-tuning stage with no job done yet counts the profile's
epochs per job (train.epochs, finetune.epochs) at the median epoch its running jobs logged; any other stage
with no job done has no estimate ("?"), and the total is then a lower bound. Each running or interrupted job
with epochs logged is listed with its epoch and its latest epoch's time. Wall time left = job-hours left /
jobs at once (--cores // the profile's threads, or --jobs-at-once); it ignores the order the dependencies
impose. Safe while the run goes on: the dry run takes no lock.
"""
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

from trp import profile as profiles
from trp.cli import POSITIVE_INT
from trp.cli_parser import Parser
from trp.report.budget import job_times
from trp.run_state import ProfileState
from trp.run_state import logged_epochs as epochs
from trp.runs import RunTable

ROOT = Path(__file__).resolve().parents[1]


def planned_benchmarks(dry_run: str) -> list[Path]:
    """The benchmark file of every job a Snakemake dry run plans (jobs without one, like `all`, are left out)."""
    return [Path(m[1]) for m in re.finditer(r"^\s+benchmark: (\S+)$", dry_run, re.M)]


class RunJobs:
    """The jobs behind a profile's records in the folder its run goes on in, by their benchmark files:
    each one's stage, log and name come from the run table, never from its path."""

    def __init__(self, state: ProfileState):
        self.state = state
        self.benchmarks = state.tree / state.results / "benchmarks"
        self.by_benchmark = {(state.tree / state.benchmark(*job)).resolve(): job for job in state.every_job()}

    def job(self, tsv: Path) -> tuple[str, str, str, int] | None:
        return self.by_benchmark.get(tsv.resolve())

    def stage(self, tsv: Path) -> str:
        """A run's job's stage; a job of no run (a rendering, a timing): the folder its benchmark file lies in."""
        job = self.job(tsv)
        return job[0] if job else tsv.parent.name

    def epochs(self, tsv: Path) -> list[dict]:
        """The epoch records of a run's job's log (a job of no run trains nothing: none)."""
        job = self.job(tsv)
        return epochs(self.state.tree / self.state.log(*job)) if job else []


def hours_left(jobs: RunJobs, done: list[Path], walls: list[float], left: list[Path],
               epochs_per_job: int | None = None) -> float | None:
    """Job-hours the `left` jobs of a stage still need, from its `done` jobs (wall seconds `walls`). A
    stage whose done jobs all logged epochs is counted in epochs still to train; one with no job done,
    in `epochs_per_job` (the profile's) at the median epoch its left jobs logged; None where neither
    measures it."""
    if not left:
        return 0.0
    logged = [jobs.epochs(t) for t in left]
    if not walls:
        seconds = [e["seconds"] for es in logged for e in es]
        if not epochs_per_job or not seconds:
            return None
        per_job, epoch_s = epochs_per_job, statistics.median(seconds)
    else:
        done_epochs = [jobs.epochs(t) for t in done]
        if not all(done_epochs):
            return len(left) * statistics.median(walls) / 3600
        per_job = statistics.median(max(e["epoch"] for e in es) for es in done_epochs)
        epoch_s = statistics.median(e["seconds"] for es in done_epochs for e in es)
    trained = (max((e["epoch"] for e in es), default=0) for es in logged)
    return sum(max(per_job - n, 0) for n in trained) * epoch_s / 3600


def stage_row(jobs: RunJobs, stage: str, done: list[Path], left: list[Path],
              epochs_per_job: int | None = None) -> dict:
    walls = [job_times(t)[0] for t in done]
    return {"stage": stage, "done": len(done), "left": len(left),
            "median_min": statistics.median(walls) / 60 if walls else None,
            "left_hours": hours_left(jobs, done, walls, left, epochs_per_job)}


def running(jobs: RunJobs, planned: list[Path]) -> list[str]:
    """A line per job left that has logged epochs (running or interrupted): its epoch, its latest epoch's time."""
    lines = []
    for tsv in planned:
        logged = jobs.epochs(tsv)
        if logged:
            last = max(logged, key=lambda e: e["epoch"])
            stage, model, run, seed = jobs.job(tsv)
            lines.append(f"- {stage}/{model}/{run}/s{seed}: epoch {last['epoch']} done, "
                         f"the latest in {last['seconds']:.0f} s")
    return lines


def progress(jobs: RunJobs, planned: list[Path], epochs_per_job: dict[str, int] | None = None) -> list[dict]:
    """One row per stage of the run; `planned`: the benchmark files of the jobs left; `epochs_per_job`:
    stage -> the profile's epochs per job, for stages with no job done yet."""
    left = {p.resolve() for p in planned}
    stages: dict[str, tuple[list, list]] = {}
    for tsv in sorted(jobs.benchmarks.rglob("*.tsv")):
        if tsv.resolve() not in left:
            stages.setdefault(jobs.stage(tsv), ([], []))[0].append(tsv)
    for tsv in planned:
        stages.setdefault(jobs.stage(tsv), ([], []))[1].append(tsv)
    return [stage_row(jobs, stage, done, todo, (epochs_per_job or {}).get(stage))
            for stage, (done, todo) in sorted(stages.items())]


def report(rows: list[dict], jobs_at_once: int) -> str:
    fmt = lambda x, spec: "?" if x is None else format(x, spec)
    lines = ["| stage | done | left | median min / done job | job-hours left |", "|---|---:|---:|---:|---:|"]
    lines += [f"| {r['stage']} | {r['done']} | {r['left']} | {fmt(r['median_min'], '.1f')} | {fmt(r['left_hours'], '.2f')} |"
              for r in rows]
    known = sum(r["left_hours"] or 0 for r in rows)
    bound = "at least " if any(r["left_hours"] is None for r in rows) else "about "
    done, total = sum(r["done"] for r in rows), sum(r["done"] + r["left"] for r in rows)
    lines.append(f"\n{done} of {total} jobs done; {bound}{known:.1f} job-hours left, {bound}{known / jobs_at_once:.1f} h "
                 f"of wall time at {jobs_at_once} jobs at once (from this run's measured medians)")
    return "\n".join(lines)


def main() -> None:
    ap = Parser(description=__doc__.split("\n\n")[0])
    ap.add_argument("profile", help="a profile in config/, e.g. cpu")
    ap.add_argument("tag", help="the tag the run was started from (its worktree is ../<tag>)")
    ap.add_argument("--jobs-at-once", type=POSITIVE_INT, help="default: --cores // the profile's threads (this machine's cores)")
    a = ap.parse_args()
    tree = ROOT.parent / a.tag
    config = tree / "config" / f"{a.profile}.yaml"
    if not config.is_file():
        sys.exit(f"profile_progress: no {config} (start the run with scripts/run_profile.sh {a.profile} {a.tag})")
    dry = subprocess.run([str(Path(sys.executable).parent / "snakemake"), "-n", "--rerun-incomplete", "--configfile",
                          str(config.relative_to(tree))], cwd=tree, capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(tree / "src")})
    if dry.returncode:
        last = (dry.stderr.strip().splitlines() or [f"exit status {dry.returncode}"])[-1]
        sys.exit(f"profile_progress: the dry run failed: {last}")
    planned = [tree / p for p in planned_benchmarks(dry.stdout + dry.stderr)]
    settings = profiles.load(config)
    jobs_at_once = a.jobs_at_once or max(1, os.cpu_count() // settings["threads"])
    per_job = {"train": settings["train"]["epochs"], "finetune": settings["finetune"]["epochs"]}
    jobs = RunJobs(ProfileState(tree, RunTable(settings)))
    print(report(progress(jobs, planned, per_job), jobs_at_once))
    print("\n".join(running(jobs, planned)))


if __name__ == "__main__":
    main()
