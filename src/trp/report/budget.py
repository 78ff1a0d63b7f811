"""What a profile run cost, measured: wall and CPU time per stage from Snakemake's benchmark files
(each folder under results/<profile>/benchmarks/ a stage), and the training rate from the run
records' epochs.

    trp render budget --run-table results/cpu/runs.json --profile cpu --out paper_tables/cpu/budget

The run table names every job behind the profile's records (trp.run_state.jobs: each run's
training, allocation, decomposition and fine-tuning, its sources' too), each with its benchmark file
and the record it wrote; a benchmark file of no such job (a rendering, a timing) has no record.

Snakemake times a job from its last start, so a job resumed after an interruption counts only its
last process (its metrics.json history still holds every epoch once). Wall times include whatever
else the machine ran meanwhile; the median epoch is the robust figure. A run moved between machines
runs on several of them: each stage has a row per machine that finished its jobs (the device in
the job's metrics.json, or an allocation's ranks.json; "n/a" for a job without one), and the total
sums them all.
"""
import csv
import statistics
from pathlib import Path

from ..artifacts import ArtifactError
from ..artifacts.records import read_allocation, read_run
from ..run_state import FOLDERS, ProfileState
from ..runs import RunTable, run_file
from .arguments import add_run_table, renderer_parser
from .footer import provenance_footer
from .run_table import read_run_table
from .tables import write_table

COLUMNS = [("stage", "stage"), ("device", "finished on"), ("jobs", "jobs"), ("median_min", "median min / job"),
           ("max_min", "max min / job"), ("job_hours", "job-hours (wall)"), ("cpu_hours", "CPU-hours"),
           ("epochs", "epochs"), ("epoch_s", "median s / epoch"), ("images_per_s", "median images/s per job")]


NO_RECORD = ([], "n/a")  # a job without a record: no epochs, no machine
RECORD = {"allocate": "ranks.json"}  # a job's stage -> the name of its record (others: metrics.json)


def job_times(tsv: Path) -> tuple[float, float | None]:
    """(wall seconds, CPU seconds or None) of one Snakemake benchmark file (its first repeat)."""
    with tsv.open(newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows or "s" not in rows[0]:
        raise ArtifactError(f"{tsv}: not a Snakemake benchmark file")
    try:
        cpu = float(rows[0].get("cpu_time"))
    except (TypeError, ValueError):
        cpu = None
    return float(rows[0]["s"]), cpu


def job_records(table: RunTable) -> dict[Path, Path]:
    """The benchmark file of every job behind the profile's records -> the record that job wrote (an
    allocation's ranks.json, else its metrics.json). Paths relative to the working directory."""
    state, out = ProfileState(Path("."), table), {}
    for stage, model, run, seed in state.every_job():
        record = run_file(state.results, FOLDERS[stage], RECORD.get(stage, "metrics.json"), model, run, seed)
        out[Path(state.benchmark(stage, model, run, seed))] = Path(record)
    return out


def row(stage: str, device: str, jobs: list[tuple[float, float | None, list[dict]]]) -> dict:
    walls = [w for w, _, _ in jobs]
    cpus = [c for _, c, _ in jobs if c is not None]
    epochs = [e for _, _, history in jobs for e in history]
    return {"stage": stage, "device": device, "jobs": len(jobs), "median_min": statistics.median(walls) / 60,
            "max_min": max(walls) / 60,
            "job_hours": sum(walls) / 3600, "cpu_hours": sum(cpus) / 3600 if len(cpus) == len(jobs) else None,
            "epochs": len(epochs) or None,
            "epoch_s": statistics.median(e["seconds"] for e in epochs) if epochs else None,
            "images_per_s": statistics.median(e["images_per_s"] for e in epochs) if epochs else None}


def stage_rows(benchmarks: Path, jobs_done: dict[Path, tuple[list[dict], str]]) -> list[dict]:
    """One row per stage (a folder under `benchmarks`) and machine, then the total; `jobs_done`: the
    training epochs and the device of each job with a record, by its benchmark file."""
    stages: dict[tuple[str, str], list] = {}
    for folder in (sorted(p for p in benchmarks.iterdir() if p.is_dir()) if benchmarks.is_dir() else []):
        for tsv in sorted(folder.rglob("*.tsv")):
            history, device = jobs_done.get(tsv, NO_RECORD)
            stages.setdefault((folder.name, device), []).append((*job_times(tsv), history))
    if not stages:
        raise ArtifactError(f"no benchmark files under {benchmarks}")
    total = row("total", "all", [job for jobs in stages.values() for job in jobs])
    return [row(stage, device, jobs) for (stage, device), jobs in stages.items()] + [
        {**total, "median_min": None, "max_min": None}]


def budget(table: RunTable, profile: str, out_prefix) -> list[dict]:
    """Writes {out_prefix}.md/.tex/.csv of the runs of `table`; returns the rows."""
    written = {tsv: record for tsv, record in job_records(table).items() if record.is_file()}
    runs = {record: read_run(record) for record in sorted(set(written.values())) if record.name == "metrics.json"}
    jobs_done = {}
    for tsv, record in written.items():
        m = runs[record] if record in runs else read_allocation(record)
        epochs = [e for e in m.get("training", {}).get("history", []) if "seconds" in e and "images_per_s" in e]
        jobs_done[tsv] = (epochs, m.get("provenance", {}).get("device") or NO_RECORD[1])
    rows = stage_rows(Path(f"results/{table.profile}/benchmarks"), jobs_done)
    title = (f"What the {profile} profile cost: Snakemake's benchmark files per stage "
             "(a resumed job counts its last start only)")
    write_table(rows, COLUMNS, out_prefix, title, provenance_footer(list(runs.values()), profile))
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = renderer_parser("budget", __doc__)
    add_run_table(ap)
    args = ap.parse_args(argv)
    budget(RunTable(read_run_table(args.run_table)["config"]), args.profile, args.out)
    print(Path(f"{args.out}.md").read_text())
