"""What several test modules share: Snakemake run in the repository, and the plans of its dry runs.

A dry run reads the workflow and the profile and changes no file, so `plan` runs each distinct one
once per pytest run and hands every test that asks for it the same output."""
import functools
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def snakemake(*args, check=True, **kwargs) -> subprocess.CompletedProcess:
    """`snakemake ARGS` in the repository; with `check`, a failure raises with the end of its output."""
    proc = subprocess.run([*SNAKEMAKE, *args], **{"cwd": ROOT, "capture_output": True, "text": True, **kwargs})
    if check and proc.returncode:
        raise AssertionError(f"snakemake {' '.join(args)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@functools.cache
def _plan(args: tuple) -> str:
    return snakemake("-n", "-p", "--forceall", "--rerun-incomplete", *args).stdout


def plan(*args) -> str:
    """The output of `snakemake -n -p --forceall --rerun-incomplete ARGS`: every job of the profile
    planned with its shell command, whatever lies on disk (a job another run left unfinished too);
    run once per pytest run for the same arguments."""
    return _plan(tuple(str(a) for a in args))


def job_counts(configfile) -> dict:
    """Rule -> number of jobs, from the "Job stats" of the plan of every job of a profile."""
    out = plan("--configfile", configfile)
    stats = out[out.index("Job stats:"):]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)$", stats, re.M)}
