"""A run directory belongs to one run: the settings it was started with are recorded in
run.json, a lock keeps a second process out, nothing of another run is resumed or replaced
without --overwrite, and the run's own inputs are never replaced or deleted."""
import fcntl
import json
import os
from pathlib import Path

from .atomic import ArtifactError, read_json, remove_stale_temporaries, write_json
from .outputs import refuse_inputs

MARKER = "run.json"
LOCK = ".lock"
# Every file a trp command writes into a run directory (removed by --overwrite, nothing else is).
OUTPUTS = (MARKER, "metrics.json", "ranklog.jsonl", "ranklog.partial.jsonl", "last.pt", "model.pt", "decomposed.pt", "finetuned.pt")


def _normal(obj):
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def _differences(old: dict, new: dict, prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}: {a!r} -> {b!r}")
    return out


class RunDirectory:
    """`with RunDirectory(kind, settings, out, checkpoints, overwrite, inputs) as run:` holds the
    lock of each directory, removes stale temporary files of its outputs, and refuses
    (ArtifactError) a directory that holds another run's outputs, a run found in only one of its
    two directories or resumed without the checkpoints directory it recorded, and an input among
    the files it writes or deletes. `run.resuming` is True when the directories hold this very
    run (same kind and settings), whose last.pt may be resumed."""

    def __init__(self, kind: str, settings: dict, out, checkpoints=None, overwrite: bool = False, inputs=()):
        self.kind, self.settings, self.overwrite, self.inputs = kind, _normal(settings), overwrite, inputs
        self.dirs = list(dict.fromkeys([Path(out), Path(checkpoints or out)]))
        self.out, self.checkpoints = self.dirs[0], self.dirs[-1]
        self._locks, self.resuming = [], False

    def __enter__(self) -> "RunDirectory":
        try:
            for d in self.dirs:
                self._lock(d)
            states = [self._claim(d) for d in self.dirs]
            self._refuse_split(states)
            self._refuse_elsewhere(states)
            refuse_inputs([d / name for d in self.dirs for name in OUTPUTS], self.inputs)
        except BaseException:
            self._release()
            raise
        self.resuming = all(s == "same" for s in states)
        if not self.resuming:
            for d in self.dirs:
                for name in OUTPUTS:
                    (d / name).unlink(missing_ok=True)
        where = os.path.relpath(self.checkpoints, self.out)  # relative: the two may move together
        for d in self.dirs:
            write_json(d / MARKER, {"kind": self.kind, "settings": self.settings, "checkpoints": where})
        return self

    def __exit__(self, *exc) -> None:
        self._release()

    def _lock(self, d: Path) -> None:
        try:
            d.mkdir(parents=True, exist_ok=True)
            fd = os.open(d / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as e:
            raise ArtifactError(f"cannot write to {d}: {e.strerror or e}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ArtifactError(f"another trp process is writing to {d}; wait for it to finish or use another "
                                "directory") from None
        self._locks.append(fd)
        if not os.access(d, os.W_OK):
            raise ArtifactError(f"cannot write to {d}: permission denied")
        remove_stale_temporaries(d, OUTPUTS)

    def _claim(self, d: Path) -> str:
        """"same" (this run: resume), "fresh" (no run here) or "replaced" (--overwrite); else refuse."""
        marker = d / MARKER
        present = [n for n in OUTPUTS if (d / n).exists()]
        if not present:
            return "fresh"
        if self.overwrite:
            return "replaced"
        if marker.exists():
            old = read_json(marker, "run record")
            if old.get("kind") == self.kind and old.get("settings") == self.settings:
                return "same"
            what = (f"a `trp {old.get('kind')}` run" if old.get("kind") != self.kind else
                    "this kind of run with other settings (" + "; ".join(
                        _differences(old.get("settings", {}), self.settings)[:4]) + ")")
        else:
            what = "outputs of an earlier run (" + ", ".join(present) + ")"
        raise ArtifactError(f"{d} holds {what}; choose another output directory, or pass --overwrite to "
                            "delete that run's outputs and start afresh")

    def _refuse_split(self, states: list[str]) -> None:
        """This run found in one directory but not the other (--checkpoints added or changed
        since it started): refused, naming its files, rather than started afresh over them."""
        if "same" in states and "fresh" in states:
            held, other = (self.dirs[states.index(s)] for s in ("same", "fresh"))
            files = ", ".join(n for n in OUTPUTS if (held / n).exists())
            raise ArtifactError(f"{held} holds this run's files ({files}) but {other} does not; to resume it give the "
                                "--out and --checkpoints it was started with, or pass --overwrite to delete them and "
                                "start afresh")

    def _refuse_elsewhere(self, states: list[str]) -> None:
        """This run resumed without the --checkpoints it was started with, while its last.pt is
        still there: refused, naming that directory, rather than started afresh beside it."""
        if states != ["same"]:
            return
        recorded = read_json(self.out / MARKER, "run record").get("checkpoints")
        elsewhere = Path(os.path.normpath(self.out / recorded)) if isinstance(recorded, str) else self.checkpoints
        if elsewhere.resolve() != self.checkpoints.resolve() and (elsewhere / "last.pt").exists():
            raise ArtifactError(f"{self.out} is a run whose checkpoints are in {elsewhere} (last.pt); to resume it give "
                                f"--checkpoints {elsewhere}, or pass --overwrite to start afresh")

    def _release(self) -> None:
        for fd in self._locks:
            os.close(fd)
        self._locks = []
