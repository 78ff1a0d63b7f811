"""What a command may replace: a file at an output path only when trp wrote it there for the same
purpose (told by its content, `purpose_of`), or with --overwrite; a file the command reads (its
input), never, --overwrite or not."""
import json
import shutil
import tempfile
import zipfile
from contextlib import contextmanager
from pathlib import Path

from .atomic import ArtifactError, atomic_open, refuse_directory

PREPARED = "trp.prepared"  # a prepared CIFAR-10 .npz (its fingerprint record)
RENDERING = "trp.render"  # a table, figure or JSON of `trp render` (its provenance footer)
RENDER_MARK = b"rendered_by"  # in every rendering's footer, and in its figures' metadata
MAX_SNIFF = 64 * 2**20  # bigger files are not trp's single-file outputs (the largest, prepared data, is a zip)
WHAT = {PREPARED: "prepared data of `trp prepare-data`", RENDERING: "a rendering of `trp render`",
        "trp.allocation": "an allocation of `trp allocate`", "trp.runtime": "a runtime JSON of `trp latency`"}


def purpose_of(path) -> str | None:
    """What trp wrote `path` as: PREPARED, RENDERING, or the name of a JSON record's schema
    ("trp.run" for "trp.run/1"); None for anything else (a checkpoint, a user's file)."""
    path = Path(path)
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                return PREPARED if "fingerprint.npy" in z.namelist() else None
        if path.stat().st_size > MAX_SNIFF:
            return None
        data = path.read_bytes()
    except (OSError, zipfile.BadZipFile):  # missing, a directory, unreadable
        return None
    if RENDER_MARK in data:
        return RENDERING
    try:
        doc = json.loads(data)
    except ValueError:
        return None
    schema = doc.get("schema") if isinstance(doc, dict) else None
    return schema.partition("/")[0] if isinstance(schema, str) else None


def is_input(path, inputs) -> bool:
    """Whether `path` is one of the files `inputs` (by identity: links and other spellings count)."""
    path = Path(path)
    return path.exists() and any(Path(i).exists() and path.samefile(i) for i in inputs if i is not None)


def refuse_inputs(paths, inputs) -> None:
    """ArtifactError if a command would write or delete one of its own inputs."""
    for path in paths:
        if is_input(path, inputs):
            raise ArtifactError(f"{path} is an input of this command, so it cannot be written or deleted; choose "
                                "another output path")


def check_outputs(paths, purpose: str, inputs=(), overwrite: bool = False, same=None) -> None:
    """Refuse (ArtifactError) to replace a file in `paths` that is an input, or, without
    `overwrite`, one trp did not write for `purpose` (`same(path)` decides where given)."""
    refuse_inputs(paths, inputs)
    for path in map(Path, paths):
        refuse_directory(path)
        if overwrite or not path.exists() or (same(path) if same else purpose_of(path) == purpose):
            continue
        raise ArtifactError(f"{path} exists and is not {WHAT[purpose]}; choose another output path, or "
                            "pass --overwrite to replace it")


def _rendering(path: Path) -> bool:
    """A rendering's file; a .json without a footer of its own (the `dvc metrics` tables keep
    numbers only) when the table written beside it at the same prefix is one."""
    return purpose_of(path) == RENDERING or (path.suffix == ".json" and purpose_of(path.with_suffix(".md")) == RENDERING)


@contextmanager
def staged_rendering(prefix, inputs=(), overwrite: bool = False):
    """Yield a scratch prefix for a renderer to write to; when it is done, every file it wrote is
    written beside `prefix` (each atomically), once all of them have passed `check_outputs`."""
    prefix = Path(prefix)
    with tempfile.TemporaryDirectory(prefix="trp-render-") as scratch:
        yield Path(scratch) / prefix.name
        written = sorted(p for p in Path(scratch).iterdir() if p.is_file())
        targets = [prefix.parent / p.name for p in written]
        check_outputs(targets, RENDERING, inputs, overwrite, same=_rendering)
        for src, dst in zip(written, targets):
            with open(src, "rb") as f, atomic_open(dst) as g:
                shutil.copyfileobj(f, g)
