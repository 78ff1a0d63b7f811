"""What a published profile run cost, read from its budget table (paper_tables/<profile>/budget.csv,
rendered by `trp render budget` from Snakemake's benchmark files). No torch import: Snakemake reads
it while it parses the workflow, to name the cost in its first message."""
import csv
from pathlib import Path


def measured_cost(budget_csv: str | Path, jobs_at_once: int) -> str | None:
    """The total row of a budget table (the sum of Snakemake's per-job wall times) in words: "12.0
    job-hours over 94 jobs, about 6.0 hours with 2 jobs at a time". None where the table is missing
    or has no total."""
    try:
        with Path(budget_csv).open(newline="") as f:
            rows = [r for r in csv.reader(f) if r and not r[0].startswith("#")]
    except OSError:
        return None
    if len(rows) < 2 or "job-hours (wall)" not in rows[0] or "jobs" not in rows[0]:
        return None
    total = next((dict(zip(rows[0], r)) for r in rows[1:] if r[0] == "total"), None)
    try:
        hours, jobs = float(total["job-hours (wall)"]), int(total["jobs"])
    except (TypeError, KeyError, ValueError):
        return None
    return (f"{hours:.1f} job-hours over {jobs} jobs, about {hours / jobs_at_once:.1f} hours with "
            f"{jobs_at_once} jobs at a time")
