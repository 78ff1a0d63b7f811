"""The rank log: one JSON line per layer per projection (Theorem-2 quantities), appended as they
come to ranklog.partial.jsonl beside last.pt, a resume state like it, and published whole to the
run's ranklog.jsonl when the run finishes. A workflow manager that removes an interrupted job's
declared outputs before rerunning it (Snakemake does) therefore never removes records the resumed
run needs. On resume the records of steps that will be replayed, and a half-written last line left
by a crash, are dropped; a resume whose earlier records are missing or unreadable is refused."""
import json
from pathlib import Path

from .atomic import ArtifactError, atomic_write_text, dumps

PARTIAL = "ranklog.partial.jsonl"


def _step(line: str) -> int | None:
    """The step of a rank-log line; None if the line is not a record."""
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    step = rec.get("step") if isinstance(rec, dict) else None
    return step if type(step) is int else None


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
        atomic_write_text(self.path, "".join(ln + "\n" for ln in self._kept(resume_step)))

    def _kept(self, resume_step: int) -> list[str]:
        """The lines of the records before resume_step. A half-written last line (no newline: the
        write of a killed run) is dropped; any other line that is not a record is refused, naming it."""
        text = self.path.read_text(errors="replace")
        lines = text.splitlines()
        kept = []
        for number, line in enumerate(lines, 1):
            step = _step(line)
            if step is None and number == len(lines) and not text.endswith("\n"):
                break
            if step is None:
                raise ArtifactError(f"{self.path}: line {number} is not a rank-log record, so the records from there "
                                    "on cannot be resumed; repair or remove that line, or start the run afresh with "
                                    "--overwrite")
            if step < resume_step:
                kept.append(line)
        return kept

    def publish(self, path) -> None:
        """Write the finished log to the run's output `path` (atomically: whole or not at all)."""
        atomic_write_text(path, self.path.read_text())
