"""The rank log: one JSON line per layer per projection (Theorem-2 quantities), appended as they
come. On resume the records of steps that will be replayed, and a half-written last line left by
a crash, are dropped."""
import json
from pathlib import Path

from .atomic import atomic_write_text, dumps


class RankLog:
    def __init__(self, path):
        self.path = Path(path)

    def __call__(self, record: dict) -> None:
        with open(self.path, "a") as f:
            f.write(dumps(record, indent=None) + "\n")

    def start(self, resume_step: int | None) -> None:
        """A fresh log (resume_step None), or the log kept up to (not including) resume_step."""
        if resume_step is None or not self.path.exists():
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
