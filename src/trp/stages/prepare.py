"""`trp prepare-data`: CIFAR-10 from an archive (or the official download), verified by content,
written as one deterministic .npz that records its fingerprint."""
from ..data import prepare


def prepare_data(archive, out_npz, download_dir) -> dict:
    return prepare(archive, out_npz, download_dir)
