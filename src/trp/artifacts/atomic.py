"""Atomic writes (a crash never leaves a half-written file), strict JSON, file hashes."""
import glob
import hashlib
import io
import json
import os
import re
import socket
import tempfile
from contextlib import contextmanager, suppress
from pathlib import Path

import torch

TMP_SUFFIX = ".trp.tmp"  # .<name>.<pid>@<host>.<random>.trp.tmp: the temporary of an atomic write of <name>
HOST = re.sub(r"[^A-Za-z0-9.-]", "_", socket.gethostname())  # as written in the names of temporaries


class ArtifactError(ValueError):
    """A file the user named is missing, unreadable, of the wrong kind, or cannot be written."""


def refuse_directory(path: Path) -> None:
    if path.is_dir():
        raise ArtifactError(f"cannot write {path}: it is a directory; give a file name")


@contextmanager
def atomic_open(path, mode: str = "wb"):
    """Write to a temporary file beside `path`, then rename: a crash never leaves a half-written
    file behind. The file gets the usual permissions (0666 minus the umask)."""
    path = Path(path)
    refuse_directory(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _remove_orphaned_temporaries(path)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.{os.getpid()}@{HOST}.", suffix=TMP_SUFFIX)
    except OSError as e:
        raise ArtifactError(f"cannot write {path}: {e.strerror or e}") from None
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:  # a full disk: name the file being written
        Path(tmp).unlink(missing_ok=True)
        if e.filename is None and e.errno is not None:
            raise OSError(e.errno, e.strerror or str(e), str(path)) from None
        raise
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _temporaries(directory: Path, name: str) -> list[Path]:
    """The temporary files of atomic writes of `name` in `directory`, live or left by killed writes."""
    return sorted(directory.glob(f".{glob.escape(name)}.*{TMP_SUFFIX}")) if directory.is_dir() else []


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        pass
    return True


def _remove_orphaned_temporaries(path: Path) -> None:
    """Delete the temporaries of atomic writes of `path` whose writer was a process of this host
    that no longer exists; a live writer's, another host's, and one that cannot be deleted, are kept."""
    own = re.compile(rf"\.{re.escape(path.name)}\.(\d{{1,9}})@(.+)\.[^.]+{re.escape(TMP_SUFFIX)}")
    for tmp in _temporaries(path.parent, path.name):
        writer = own.fullmatch(tmp.name)
        if writer and writer[2] == HOST and not _alive(int(writer[1])):
            with suppress(OSError):
                tmp.unlink()


def remove_stale_temporaries(directory, names) -> list[Path]:
    """Delete the temporary files that killed atomic writes of the files `names` left in
    `directory`, and nothing else (call it only while holding the directory's run lock, so no live
    write is removed)."""
    stale = [p for name in names for p in _temporaries(Path(directory), name)]
    for p in stale:
        p.unlink(missing_ok=True)
    return stale


def atomic_save(obj, path) -> None:
    """torch.save, serialised in memory first: a failed write (a full disk) is then an OSError of
    Python's own write, not an error inside torch's zip writer."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_open(path) as f:
        f.write(buffer.getbuffer())


def atomic_write_text(path, text: str) -> None:
    with atomic_open(path, "w") as f:
        f.write(text)


def _reject_constant(name):
    raise ValueError(f"not strict JSON: {name}")


def dumps(obj, indent: int | None = 1) -> str:
    """Strict JSON (no NaN or Infinity): a non-finite number is a bug to surface, not to write."""
    return json.dumps(obj, indent=indent, allow_nan=False, default=_plain)


def _plain(x):
    """numpy / torch scalars as Python numbers."""
    if hasattr(x, "item"):
        return x.item()
    raise TypeError(f"{type(x).__name__} is not JSON serialisable")


def write_json(path, obj) -> None:
    atomic_write_text(path, dumps(obj) + "\n")


def _unique_keys(pairs) -> dict:
    out = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"key {key!r} given twice")
        out[key] = value
    return out


def read_json(path, what: str = "JSON file"):
    """Parse a strict-JSON file; a missing or malformed one (a key given twice in an object
    included) is an ArtifactError naming it."""
    path = Path(path)
    try:
        return json.loads(path.read_text(), parse_constant=_reject_constant, object_pairs_hook=_unique_keys)
    except FileNotFoundError:
        raise ArtifactError(f"{path}: {what} not found") from None
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise ArtifactError(f"{path}: not a readable {what} ({e})") from None


def sha256_file(path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
