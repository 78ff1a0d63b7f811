"""What a profile run cost, measured: wall and CPU time per stage from Snakemake's benchmark files
(<results>/benchmarks/<stage>/.../*.tsv), and the training rate from the run records' epochs.

    trp render budget --results results/cpu --profile cpu --out paper_tables/cpu/budget

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
from .arguments import renderer_parser
from .footer import provenance_footer
from .tables import write_table

COLUMNS = [("stage", "stage"), ("device", "finished on"), ("jobs", "jobs"), ("median_min", "median min / job"),
           ("max_min", "max min / job"), ("job_hours", "job-hours (wall)"), ("cpu_hours", "CPU-hours"),
           ("epochs", "epochs"), ("epoch_s", "median s / epoch"), ("images_per_s", "median images/s per job")]


NO_RECORD = ([], "n/a")  # a job without a metrics.json: no epochs, no machine
RECORD_FOLDER = {"train": "runs"}  # benchmark stage -> the results folder of its records (others: the same name)


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


def job_key(parts: tuple[str, ...]) -> tuple[str, ...]:
    """(results folder, model, run, seed folder) of a job: benchmarks/<stage>/<model>/<run>/s<seed>.tsv
    and <results>/<folder>/<model>/<run>/s<seed>/metrics.json name the same job. The folder is part of
    the key: a basic point's decomposition (tsvd/) and fine-tuning (finetune/) share model, run and seed."""
    return (RECORD_FOLDER.get(parts[-4], parts[-4]), *parts[-3:])


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


def stage_rows(benchmarks: Path, runs: dict[tuple[str, ...], tuple[list[dict], str]]) -> list[dict]:
    """One row per stage (the first folder under benchmarks/) and machine, then the total; `runs`:
    the training epochs and the device of each job by job_key."""
    stages: dict[tuple[str, str], list] = {}
    for tsv in sorted(benchmarks.rglob("*.tsv")):
        parts = tsv.relative_to(benchmarks).with_suffix("").parts
        history, device = runs.get(job_key(parts), NO_RECORD) if len(parts) == 4 else NO_RECORD
        stages.setdefault((parts[0], device), []).append((*job_times(tsv), history))
    if not stages:
        raise ArtifactError(f"no benchmark files under {benchmarks}")
    total = row("total", "all", [job for jobs in stages.values() for job in jobs])
    return [row(stage, device, jobs) for (stage, device), jobs in stages.items()] + [
        {**total, "median_min": None, "max_min": None}]


def budget(results: str, profile: str, out_prefix) -> list[dict]:
    """Writes {out_prefix}.md/.tex/.csv; returns the rows."""
    root = Path(results)
    paths = sorted(root.rglob("metrics.json"))
    records = [read_run(p) for p in paths]
    allocations = sorted(root.rglob("ranks.json"))  # an allocation job's record: its machine, no epochs
    runs: dict[tuple[str, ...], tuple[list[dict], str]] = {}
    for path, m in [*zip(paths, records), *((p, read_allocation(p)) for p in allocations)]:
        epochs = [e for e in m.get("training", {}).get("history", []) if "seconds" in e and "images_per_s" in e]
        device = m.get("provenance", {}).get("device") or NO_RECORD[1]
        parts = path.parent.relative_to(root).parts
        if len(parts) >= 4:  # <folder>/<model>/<run>/s<seed>: a job's record
            runs[job_key(parts)] = (epochs, device)
    rows = stage_rows(root / "benchmarks", runs)
    title = (f"What the {profile} profile cost: Snakemake's benchmark files per stage "
             "(a resumed job counts its last start only)")
    write_table(rows, COLUMNS, out_prefix, title, provenance_footer(records, profile))
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = renderer_parser("budget", __doc__)
    ap.add_argument("--results", required=True, metavar="DIR", help="a profile's results folder (results/PROFILE)")
    args = ap.parse_args(argv)
    try:
        budget(args.results, args.profile, args.out)
    except ValueError as e:
        ap.error(str(e))
    print(Path(f"{args.out}.md").read_text())
