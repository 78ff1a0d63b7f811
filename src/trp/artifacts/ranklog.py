"""The rank log: one JSON line per layer per projection (Theorem-2 quantities), appended as they
come to ranklog.partial.jsonl beside last.pt, a resume state like it, and published whole to the
run's ranklog.jsonl when the run finishes. A workflow manager that removes an interrupted job's
declared outputs before rerunning it (Snakemake does) therefore never removes records the resumed
run needs. On resume the records of steps that will be replayed, and a half-written last line left
by a crash, are dropped; a resume whose earlier records are missing is refused."""
import json
from pathlib import Path

from .atomic import ArtifactError, atomic_write_text, dumps

PARTIAL = "ranklog.partial.jsonl"


class RankLog:
    def __init__(self, path):
        self.path = Path(path)

    def __call__(self, record: dict) -> None:
        with open(self.path, "a") as f:
            f.write(dumps(record, indent=None) + "\n")

    def start(self, resume_step: int | None) -> None:
        """A fresh log (resume_step None), or the log kept up to (not including) resume_step."""
        if resume_step is None:
            atomic_write_text(self.path, "")
            return
        if not self.path.exists():
            if resume_step > 0:
                raise ArtifactError(f"{self.path}: missing, so the rank log before step {resume_step} is lost; "
                                    "start the run afresh with --overwrite")
            atomic_write_text(self.path, "")
            return
        kept = []
        for line in self.path.read_text().splitlines():
            try:
                rec = json.loads(line)
            except ValueError:  # the half-written last line of a killed run
                break
            if rec["step"] < resume_step:
                kept.append(line)
        atomic_write_text(self.path, "".join(ln + "\n" for ln in kept))

    def publish(self, path) -> None:
        """Write the finished log to the run's output `path` (atomically: whole or not at all)."""
        atomic_write_text(path, self.path.read_text())
