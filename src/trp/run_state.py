"""Where the runs of a profile stand, read from the files their jobs leave in the profile's folder
(no Snakemake, no torch), so that a profile still running can publish what it has finished.

A job is done when Snakemake has written its benchmark file (<results>/benchmarks/<stage>/<model>/
<run>/s<seed>.tsv, written once the job succeeded) and its record is there; a training or
fine-tuning that has started logs one `{"epoch": ..., "seconds": ...}` line per epoch to its log
(<results>/logs/<stage>/...), across its resumptions.
"""
import json
from pathlib import Path

from .runs import Decomposition, Finetuning, RunTable, Training, run_file

# A job's stage (its benchmark and log folder) -> the folder of its outputs under results/ and checkpoints/.
FOLDERS = {"train": "runs", "allocate": "allocate", "tsvd": "tsvd", "finetune": "finetune"}
RESUME_STATE = {"last.pt", "ranklog.partial.jsonl", ".lock"}  # an unfinished run's, never published


def logged_epochs(log: Path) -> list[dict]:
    """The epoch records (`{"epoch": ..., "seconds": ...}` lines) a job's log holds, across its resumptions."""
    if not log.is_file():
        return []
    records = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith('{"epoch"'):
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record.get("epoch"), int) and isinstance(record.get("seconds"), (int, float)):
                records.append(record)
    return records


def jobs(table: RunTable, run: str) -> list[tuple[str, str]]:
    """(stage, run) of every job behind a run's record, its sources' first."""
    r = table.runs[run]
    if isinstance(r, Training):
        return [("train", run)]
    if isinstance(r, Finetuning):
        return [*jobs(table, r.source), ("finetune", run)]
    assert isinstance(r, Decomposition)
    return [*jobs(table, r.source), ("allocate", run), ("tsvd", run), ("finetune", run)]


class ProfileState:
    """The jobs of one profile's run in the folder `tree` (the directory Snakemake runs in)."""

    def __init__(self, tree: Path, table: RunTable):
        self.tree, self.table = Path(tree), table
        self.results = f"results/{table.profile}"

    def benchmark(self, stage: str, model: str, run: str, seed: int) -> str:
        return f"{self.results}/benchmarks/{stage}/{model}/{run}/s{seed}.tsv"

    def log(self, stage: str, model: str, run: str, seed: int) -> str:
        return f"{self.results}/logs/{stage}/{model}/{run}/s{seed}.log"

    def every_job(self) -> list[tuple[str, str, str, int]]:
        """(stage, model, run, seed) of every job behind the profile's records, each once, sources first."""
        return list(dict.fromkeys((stage, model, r, seed) for (model, run), seeds in self.table.requests.items()
                                  for seed in sorted(seeds) for stage, r in jobs(self.table, run)))

    def done(self, model: str, run: str, seed: int) -> bool:
        """Whether a run's record and every job behind it are done."""
        return (self.tree / self.table.record(model, run, seed)).is_file() and all(
            (self.tree / self.benchmark(stage, model, r, seed)).is_file() for stage, r in jobs(self.table, run))

    def state(self, model: str, run: str, seed: int) -> str:
        """'done', or what the run's seed is doing: its latest job's epochs, or not started."""
        if self.done(model, run, seed):
            return "done"
        settings = self.table.config
        for stage, r in reversed(jobs(self.table, run)):
            logged = logged_epochs(self.tree / self.log(stage, model, r, seed))
            if logged and stage in ("train", "finetune"):
                verb, total = ("training", settings["train"]["epochs"]) if stage == "train" else \
                    ("fine-tuning", settings["finetune"]["epochs"])
                what = "" if r == run else f" {r}"
                return f"{verb}{what}, epoch {max(e['epoch'] for e in logged)} of {total} done"
        return "not started"

    def files(self, model: str, run: str, seed: int) -> list[str]:
        """The files a done run's record rests on, relative to the tree: every job's outputs under
        results/ (records, rank logs) and checkpoints/ (networks; not an unfinished run's resume
        state) and its benchmark file."""
        out = []
        for stage, r in jobs(self.table, run):
            out.append(self.benchmark(stage, model, r, seed))
            for root in (self.results, f"checkpoints/{self.table.profile}"):
                folder = self.tree / run_file(root, FOLDERS[stage], "", model, r, seed)
                out += sorted(str(p.relative_to(self.tree)) for p in folder.glob("*")
                              if p.is_file() and p.name not in RESUME_STATE)
        return list(dict.fromkeys(out))
