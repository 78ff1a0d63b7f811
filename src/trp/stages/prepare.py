"""`trp prepare-data`: CIFAR-10 from an archive (or the official download), verified by content,
written as one deterministic .npz that records its fingerprint. It replaces prepared data at
`out_npz`; anything else only with `overwrite`, the archive it reads never."""
from pathlib import Path

from ..artifacts import PREPARED, check_outputs
from ..data import prepare
from ..data.cifar10 import FILENAME


def prepare_data(archive, out_npz, download_dir, overwrite: bool = False) -> dict:
    check_outputs([out_npz], PREPARED, (archive, Path(download_dir) / FILENAME), overwrite)
    return prepare(archive, out_npz, download_dir)
