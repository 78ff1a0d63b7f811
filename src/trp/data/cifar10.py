"""CIFAR-10: read the python-version archive, verify it by content, and iterate it as tensors.

Augmentation follows the usual CIFAR recipe (4-pixel zero pad, random 32x32 crop, random
horizontal flip) as batched tensor ops on the data's device, in the style of airbench: no PIL,
no DataLoader, no per-image Python loop. All randomness comes from one CPU `torch.Generator`.
"""
from __future__ import annotations

import hashlib
import os
import pickle
import tarfile
import zlib
from pathlib import Path

import numpy as np
import torch

from ..checkpoint import atomic_open

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FILENAME = "cifar-10-python.tar.gz"
OFFICIAL_MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE_HINT = "point to a local copy with config key `data.archive` or env var `TRP_CIFAR_ARCHIVE`"
MEAN = (0.49139968, 0.48215841, 0.44653091)
STD = (0.24703223, 0.24348513, 0.26158784)
KEYS = ("train_x", "train_y", "test_x", "test_y")
# sha256 of the C-contiguous arrays in official order: data as (N, 3072) uint8, labels as uint8.
OFFICIAL_SHA256 = {
    "train_x": "9d5c2eddadb0deff02c14c350c0385aab7b1d5ff1edfeb4997c8dc8644960111",
    "train_y": "2b7cd2f24487317614016b72ffd53071c3062f592f0eb300c18a770d41ae1253",
    "test_x": "177777c33ba79825320efa646ad04a94bdc3c80e4ebe3bd21724f8cdfd4b9d56",
    "test_y": "cec8a24a1e92aa2ecaa0bbd3dbfa86bf6cd8759fbd209a832824c8cf0afca9d5",
}
_TRAIN = [f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6)]
_TEST = "cifar-10-batches-py/test_batch"


class DataError(ValueError):
    """The data archive or prepared file is missing, corrupt, or not the official content."""


def _parse_batch(batch: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Check one unpickled batch and return (images (n,3,32,32) uint8, labels (n,) uint8)."""
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise ValueError(f"{name}: expected a dict with keys b'data' and b'labels'")
    x, y = np.asarray(batch[b"data"]), np.asarray(batch[b"labels"], dtype=np.int64)
    if x.dtype != np.uint8 or x.ndim != 2 or x.shape[1] != 3072:
        raise ValueError(f"{name}: data has shape {x.shape} dtype {x.dtype}, expected (n, 3072) uint8")
    if y.shape != (len(x),):
        raise ValueError(f"{name}: {y.shape[0] if y.ndim else 0} labels for {len(x)} images")
    if y.size and (y.min() < 0 or y.max() > 9):
        raise ValueError(f"{name}: labels outside 0..9 (range {y.min()}..{y.max()})")
    return x.reshape(-1, 3, 32, 32), y.astype(np.uint8)


def load_archive(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read the CIFAR-10 python-version tar.gz in memory; return train_x/train_y/test_x/test_y."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: CIFAR-10 archive not found; {ARCHIVE_HINT}")
    wanted, found = set(_TRAIN + [_TEST]), {}
    try:
        with tarfile.open(path, "r:gz") as tar:
            for member in tar:  # one sequential pass over the gzip stream
                if member.name in wanted:
                    found[member.name] = _parse_batch(
                        pickle.load(tar.extractfile(member), encoding="bytes"), member.name)
    except (tarfile.TarError, EOFError, zlib.error, OSError, pickle.UnpicklingError,
            ValueError, TypeError, AttributeError) as e:
        raise DataError(f"{path}: corrupt or truncated CIFAR-10 archive ({type(e).__name__}: {e})") from e
    missing = sorted(wanted - found.keys())
    if missing:
        raise DataError(f"{path}: archive lacks member(s) {', '.join(missing)}")
    train = [found[n] for n in _TRAIN]
    return {"train_x": np.concatenate([x for x, _ in train]), "train_y": np.concatenate([y for _, y in train]),
            "test_x": found[_TEST][0], "test_y": found[_TEST][1]}


def fingerprint(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    """sha256 of each array in official layout, plus `data_fingerprint` over the four digests."""
    fp = {}
    for k in KEYS:
        a = np.asarray(arrays[k], dtype=np.uint8)
        a = a.reshape(len(a), -1) if k.endswith("_x") else a.reshape(-1)
        fp[k] = hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()
    fp["data_fingerprint"] = hashlib.sha256(",".join(fp[k] for k in KEYS).encode()).hexdigest()
    return fp


def verify(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    """Raise DataError unless the content equals official CIFAR-10; return the fingerprint."""
    fp = fingerprint(arrays)
    bad = [k for k in KEYS if fp[k] != OFFICIAL_SHA256[k]]
    if bad:
        raise DataError(f"CIFAR-10 content differs from the official release in: {', '.join(bad)}")
    return fp


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def prepare(archive: str | os.PathLike | None, out_npz: str | os.PathLike,
            download_dir: str | os.PathLike) -> dict[str, str]:
    """Load (or download) the archive, verify its content, write `out_npz` atomically.

    Returns the fingerprint plus `archive` (path) and `archive_md5`.
    """
    if archive is None:
        from torchvision.datasets.utils import download_url  # checks the official md5
        download_url(URL, str(download_dir), FILENAME, OFFICIAL_MD5)
        path = Path(download_dir) / FILENAME
    else:
        path = Path(archive)
        if not path.is_file():
            raise DataError(f"{path}: CIFAR-10 archive not found; {ARCHIVE_HINT}")
    arrays = load_archive(path)
    fp = verify(arrays)
    with atomic_open(out_npz) as f:
        np.savez(f, **arrays)  # numpy writes fixed zip timestamps: same arrays, same bytes
    return {**fp, "archive": str(path), "archive_md5": _md5(path)}


def load_prepared(npz: str | os.PathLike) -> dict[str, np.ndarray]:
    """Read the arrays written by `prepare`."""
    try:
        with np.load(npz) as f:
            return {k: f[k] for k in KEYS}
    except (OSError, KeyError, ValueError, EOFError, zlib.error) as e:
        raise DataError(f"{npz}: cannot read prepared CIFAR-10 arrays ({type(e).__name__}: {e})") from e


def random_crop_flip(padded: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor, flip: torch.Tensor,
                     size: int = 32) -> torch.Tensor:
    """Crop `padded` (B,C,H,W) at per-image offsets (dy, dx) to size x size, mirroring where `flip`.

    Views every size x size window with `unfold`, picks one per image with advanced indexing.
    """
    windows = padded.unfold(2, size, 1).unfold(3, size, 1)           # (B, C, H-size+1, W-size+1, size, size)
    x = windows[torch.arange(len(padded), device=padded.device), :, dy, dx]  # (B, C, size, size)
    return torch.where(flip[:, None, None, None], x.flip(3), x)


class TensorLoader:
    """Batches of normalised float32 images and int64 labels from tensors held on `device`.

    train=True: a fresh permutation each epoch, 4-pixel zero pad + random crop + random flip.
    train=False: dataset order, no augmentation. The only random state is `generator` (CPU), so
    saving `generator.get_state()` at an epoch boundary is enough to resume exactly.
    """

    def __init__(self, images, labels, batch_size: int, train: bool, device="cpu",
                 generator: torch.Generator | None = None, mean=MEAN, std=STD,
                 drop_last: bool = False, channels_last: bool = False, pad: int = 4):
        images = torch.as_tensor(images).to(device)
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"images must be (N,C,H,W) uint8, got {tuple(images.shape)} {images.dtype}")
        self.labels = torch.as_tensor(labels).to(device=device, dtype=torch.int64)
        if len(self.labels) != len(images):
            raise ValueError(f"{len(images)} images but {len(self.labels)} labels")
        self.n, self.size, self.pad = len(images), images.shape[-1], pad
        # Train keeps only the padded copy (padded once, as uint8); eval keeps the originals.
        self.images = torch.nn.functional.pad(images, (pad,) * 4) if train else images
        self.batch_size, self.train, self.device, self.generator = batch_size, train, torch.device(device), generator
        self.drop_last, self.channels_last = drop_last, channels_last
        std_t = torch.tensor(std, dtype=torch.float32, device=device).view(1, -1, 1, 1)
        self.scale = 1.0 / (255.0 * std_t)  # (x/255 - mean) / std == x * scale - shift
        self.shift = torch.tensor(mean, dtype=torch.float32, device=device).view(1, -1, 1, 1) / std_t

    def __len__(self) -> int:
        return self.n // self.batch_size if self.drop_last else -(-self.n // self.batch_size)

    def _normalise(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.addcmul(-self.shift, x.float(), self.scale)
        return x.contiguous(memory_format=torch.channels_last) if self.channels_last else x

    def __iter__(self):
        g, bs = self.generator, self.batch_size
        order = torch.randperm(self.n, generator=g) if self.train else None
        for i in range(len(self)):
            if not self.train:
                sl = slice(i * bs, (i + 1) * bs)
                yield self._normalise(self.images[sl]), self.labels[sl]
                continue
            idx = order[i * bs:(i + 1) * bs]
            dy, dx = torch.randint(0, 2 * self.pad + 1, (2, len(idx)), generator=g).to(self.device)
            flip = torch.randint(0, 2, (len(idx),), generator=g).bool().to(self.device)
            idx = idx.to(self.device)
            yield self._normalise(random_crop_flip(self.images[idx], dy, dx, flip, self.size)), self.labels[idx]
