"""The rank log: one JSON line per layer per projection (Theorem-2 quantities), appended as they
come to ranklog.partial.jsonl beside last.pt, a resume state like it, and published whole to the
run's ranklog.jsonl when the run finishes. A workflow manager that removes an interrupted job's
declared outputs before rerunning it (Snakemake does) therefore never removes records the resumed
run needs. On resume the records of steps that will be replayed, and a half-written last line left
by a crash, are dropped; a resume whose earlier records are missing or unreadable is refused: the
log itself missing, a line that is not a record, a projection with fewer records than the others,
or records that end before the projection the resumed run continues from (told by the first record
it logs, which names its projection)."""
import json
from collections import Counter
from pathlib import Path

from .atomic import ArtifactError, atomic_write_text, dumps

PARTIAL = "ranklog.partial.jsonl"


def _record(line: str) -> dict | None:
    """A rank-log line's record; None if the line is not one (a JSON object with an integer step)."""
    try:
        rec = json.loads(line)
    except ValueError:
        return None
    return rec if isinstance(rec, dict) and type(rec.get("step")) is int else None


class RankLog:
    def __init__(self, path):
        self.path = Path(path)
        self._next = None  # on resume, the projection the next record must name (None: not checked)

    def __call__(self, record: dict) -> None:
        if self._next is not None and record.get("projection", self._next) != self._next:
            held = f"ends at projection {self._next - 1}" if self._next > 1 else "holds no projection"
            raise ArtifactError(f"{self.path}: the rank log {held}, but the resumed run continues from projection "
                                f"{record['projection']}, so the records between are lost; start the run afresh with "
                                "--overwrite")
        self._next = None
        with open(self.path, "a") as f:
            f.write(dumps(record, indent=None) + "\n")

    def start(self, resume_step: int | None, layers: int | None = None) -> None:
        """A fresh log (resume_step None), or the log kept up to (not including) resume_step; with `layers`
        (the run's projected layers: one record each a projection) a projection with fewer records is refused."""
        if resume_step is None:
            atomic_write_text(self.path, "")
            return
        if not self.path.exists():
            if resume_step > 0:
                raise ArtifactError(f"{self.path}: missing, so the rank log before step {resume_step} is lost; "
                                    "start the run afresh with --overwrite")
            atomic_write_text(self.path, "")
            return
        kept = self._kept(resume_step)
        self._check_projections([rec for _, rec in kept], layers)
        atomic_write_text(self.path, "".join(line + "\n" for line, _ in kept))

    def _kept(self, resume_step: int) -> list[tuple[str, dict]]:
        """The lines of the records before resume_step, with their records. A half-written last line
        (no newline: the write of a killed run) is dropped; any other line that is not a record is
        refused, naming it."""
        text = self.path.read_text(errors="replace")
        lines = text.splitlines()
        kept = []
        for number, line in enumerate(lines, 1):
            rec = _record(line)
            if rec is None and number == len(lines) and not text.endswith("\n"):
                break
            if rec is None:
                raise ArtifactError(f"{self.path}: line {number} is not a rank-log record, so the records from there "
                                    "on cannot be resumed; repair or remove that line, or start the run afresh with "
                                    "--overwrite")
            if rec["step"] < resume_step:
                kept.append((line, rec))
        return kept

    def _check_projections(self, records: list[dict], layers: int | None = None) -> None:
        """Refuse kept records of which a projection has fewer than `layers` (else than the others: one per
        layer each); expect the next record to name the projection after the last kept (where records name
        theirs)."""
        numbers = [rec.get("projection") for rec in records]
        if not all(type(n) is int for n in numbers):
            return
        counts = Counter(numbers)
        full = layers or max(counts.values(), default=0)
        short = [n for n in sorted(counts) if counts[n] < full]
        if short:
            raise ArtifactError(f"{self.path}: projection {short[0]} has {counts[short[0]]} of the {full} records "
                                "of a projection, so the rest are lost; start the run afresh with --overwrite")
        self._next = max(numbers, default=0) + 1

    def publish(self, path) -> None:
        """Write the finished log to the run's output `path` (atomically: whole or not at all)."""
        atomic_write_text(path, self.path.read_text())
