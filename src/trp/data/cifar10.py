"""CIFAR-10: read the python-version archive, verify it by content, and iterate it as tensors.

Augmentation follows the usual CIFAR recipe (4-pixel zero pad, random 32x32 crop, random
horizontal flip) as batched tensor ops on the data's device, in the style of airbench: no PIL,
no DataLoader, no per-image Python loop. All randomness comes from one CPU `torch.Generator`.
"""
from __future__ import annotations

import gzip
import hashlib
import math
import os
import pickle
import tarfile
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch
from numpy._core.multiarray import _reconstruct
from numpy._core.numeric import _frombuffer

from ..artifacts import atomic_open

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
FILENAME = "cifar-10-python.tar.gz"
OFFICIAL_MD5 = "c58f30108f718f92721af3b95e74349a"
ARCHIVE_HINT = "point to a local copy with config key `data.archive` or env var `TRP_CIFAR_ARCHIVE`"
MEAN = (0.49139968, 0.48215841, 0.44653091)
STD = (0.24703223, 0.24348513, 0.26158784)
KEYS = ("train_x", "train_y", "test_x", "test_y")
INPUT_SIZE = (3, 32, 32)  # every network trained on CIFAR-10 is counted (MACs) and timed at this size
# sha256 of the C-contiguous arrays in official order: data as (N, 3072) uint8, labels as uint8.
OFFICIAL_SHA256 = {
    "train_x": "9d5c2eddadb0deff02c14c350c0385aab7b1d5ff1edfeb4997c8dc8644960111",
    "train_y": "2b7cd2f24487317614016b72ffd53071c3062f592f0eb300c18a770d41ae1253",
    "test_x": "177777c33ba79825320efa646ad04a94bdc3c80e4ebe3bd21724f8cdfd4b9d56",
    "test_y": "cec8a24a1e92aa2ecaa0bbd3dbfa86bf6cd8759fbd209a832824c8cf0afca9d5",
}
_FP_KEYS = KEYS + ("data_fingerprint",)
_REDO = "re-run `trp prepare-data`"
_MAX_MEMBER_BYTES = 200 * 2**20  # a tar member declaring more is refused; the real batches are 30.7 MB
_MAX_ARCHIVE_BYTES = 2**30  # the tar stream unpacked, its declared sizes, a prepared file's arrays; the real: 184 MB
_MAX_ENTRIES = 1000  # tar entries; the real archive has 9
_KINDS = {tarfile.SYMTYPE: "symbolic link", tarfile.LNKTYPE: "hard link", tarfile.CHRTYPE: "character device",
          tarfile.BLKTYPE: "block device", tarfile.DIRTYPE: "directory", tarfile.FIFOTYPE: "fifo"}
_TRAIN = [f"cifar-10-batches-py/data_batch_{i}" for i in range(1, 6)]
_TEST = "cifar-10-batches-py/test_batch"


class DataError(ValueError):
    """The data archive or prepared file is missing, corrupt, unsafe, or not the official content."""


class _NdarrayName:
    """What a batch pickle gets for the global `numpy.ndarray`: an argument for `_empty_array`, not a
    constructor (called directly it could allocate any amount of memory)."""
    __slots__ = ()


_NDARRAY = _NdarrayName()


def _empty_array(subtype, shape, dtype) -> np.ndarray:
    """numpy's `_reconstruct` as numpy's own pickles call it: (ndarray, (0,), dtype), an empty array that
    the pickle's BUILD step then fills from the pickle's own bytes. Any other call is refused."""
    if subtype is not _NDARRAY or shape != (0,):
        raise pickle.UnpicklingError("numpy _reconstruct called with arguments numpy never writes")
    return _reconstruct(np.ndarray, (0,), dtype)


def _latin1_bytes(text, encoding) -> bytes:
    """`_codecs.encode` as protocol-2 pickles written by Python 3 call it to rebuild bytes:
    (str, "latin1"). Any other call is refused."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode called with arguments pickle never writes")
    return text.encode("latin1")


# Every global a CIFAR-10 batch pickle may name; dicts, lists, bytes, str and ints need none, except
# bytes in a protocol-2 pickle written by Python 3 (a repack of the archive).
_GLOBALS = {
    ("_codecs", "encode"): _latin1_bytes,
    ("numpy.core.multiarray", "_reconstruct"): _empty_array,  # the released archive (numpy 1.x, protocol 2)
    ("numpy._core.multiarray", "_reconstruct"): _empty_array,  # numpy 2, protocols 0-4
    ("numpy.core.numeric", "_frombuffer"): _frombuffer,  # numpy 1.x, protocol 5
    ("numpy._core.numeric", "_frombuffer"): _frombuffer,  # numpy 2, protocol 5 (pickle's default)
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): np.dtype,
}


class _BatchUnpickler(pickle.Unpickler):
    """Unpickles one CIFAR-10 batch, resolving only the globals in `_GLOBALS`: any other global is
    refused by name before anything of it runs."""

    def __init__(self, file, where: str):
        super().__init__(file, encoding="bytes")
        self.where = where

    def find_class(self, module: str, name: str):
        try:
            return _GLOBALS[module, name]
        except KeyError:
            raise DataError(f"{self.where} tries to load {module}.{name}; refusing (the CIFAR-10 batches hold "
                            "only dicts, lists, bytes and numpy arrays)") from None


class _BoundedReader:
    """A read-only stream over `raw` that raises DataError once more than `limit` bytes are read."""

    def __init__(self, raw, limit: int, where: Path):
        self.raw, self.left, self.limit, self.where = raw, limit, limit, where

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(self.left + 1 if n is None or n < 0 else min(n, self.left + 1))
        self.left -= len(data)
        if self.left < 0:
            raise DataError(f"{self.where}: unpacks to over {self.limit} bytes (the CIFAR-10 archive unpacks to "
                            "184 MB); refusing")
        return data


def _declared(member: tarfile.TarInfo, total: int, archive: Path) -> int:
    """`total` plus the size `member` declares. Any member, wanted or not, is refused over
    _MAX_MEMBER_BYTES, and the running total over _MAX_ARCHIVE_BYTES: tarfile passes an unwanted
    member by reading up to its declared end, so an unchecked size (2^40 bytes, declared by a
    100-byte archive) would keep it reading for hours."""
    if member.size > _MAX_MEMBER_BYTES:
        raise DataError(f"{archive}: member {member.name} is {member.size} bytes, over the {_MAX_MEMBER_BYTES} allowed "
                        "(a CIFAR-10 batch is 30.7 MB); refusing")
    if total + member.size > _MAX_ARCHIVE_BYTES:
        raise DataError(f"{archive}: its members declare over {_MAX_ARCHIVE_BYTES} bytes (the CIFAR-10 archive unpacks "
                        "to 184 MB); refusing")
    return total + member.size


def _unpickle_member(tar: tarfile.TarFile, member: tarfile.TarInfo, archive: Path):
    """Unpickle a wanted member, refusing one that is not a regular file."""
    where = f"{archive}: member {member.name}"
    if not member.isreg():
        raise DataError(f"{where} is a {_KINDS.get(member.type, 'special')} entry, not a regular file; refusing "
                        "(use the official archive)")
    return _BatchUnpickler(tar.extractfile(member), where).load()


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
    """Read the CIFAR-10 python-version tar.gz in memory; return train_x/train_y/test_x/test_y.

    The archive is untrusted: its pickles may build only dicts, lists, bytes, str, ints and numpy
    arrays (`_BatchUnpickler`), wanted members must be regular files, every member may declare at
    most _MAX_MEMBER_BYTES, and the tar stream may hold at most _MAX_ENTRIES entries, declare at
    most _MAX_ARCHIVE_BYTES in all and unpack to at most as much.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: CIFAR-10 archive not found; {ARCHIVE_HINT}")
    wanted, found, declared = set(_TRAIN + [_TEST]), {}, 0
    try:
        with gzip.open(path, "rb") as gz, \
                tarfile.open(fileobj=_BoundedReader(gz, _MAX_ARCHIVE_BYTES, path), mode="r|") as tar:
            for i, member in enumerate(tar):  # one sequential pass over the gzip stream
                if i >= _MAX_ENTRIES:
                    raise DataError(f"{path}: over {_MAX_ENTRIES} tar entries (the CIFAR-10 archive has 9); refusing")
                declared = _declared(member, declared, path)
                if member.name in wanted:
                    found[member.name] = _parse_batch(_unpickle_member(tar, member, path), member.name)
    except DataError:
        raise
    except (tarfile.TarError, EOFError, zlib.error, OSError, pickle.UnpicklingError,
            ValueError, TypeError, AttributeError, OverflowError) as e:
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
        fp[k] = hashlib.sha256(np.ascontiguousarray(a)).hexdigest()  # hashes the buffer: no copy
    fp["data_fingerprint"] = hashlib.sha256(",".join(fp[k] for k in KEYS).encode()).hexdigest()
    return fp


def _unofficial(fp: dict[str, str]) -> list[str]:
    """The arrays whose digest in `fp` differs from the official CIFAR-10 release."""
    return [k for k in KEYS if fp[k] != OFFICIAL_SHA256[k]]


def verify(arrays: dict[str, np.ndarray]) -> dict[str, str]:
    """Raise DataError unless the content equals official CIFAR-10; return the fingerprint."""
    fp = fingerprint(arrays)
    bad = _unofficial(fp)
    if bad:
        raise DataError(f"CIFAR-10 content differs from the official release in: {', '.join(bad)}")
    return fp


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_arrays(arrays: dict[str, np.ndarray], where) -> None:
    """Raise DataError unless images are (N,3,32,32) uint8, labels (N,) uint8 in 0..9, N equal per split."""
    for split in ("train", "test"):
        x, y = arrays[f"{split}_x"], arrays[f"{split}_y"]
        if x.dtype != np.uint8 or x.ndim != 4 or x.shape[1:] != (3, 32, 32):
            raise DataError(f"{where}: {split}_x is {x.shape} {x.dtype}, expected (N, 3, 32, 32) uint8; {_REDO}")
        if y.dtype != np.uint8 or y.shape != (len(x),):
            raise DataError(f"{where}: {split}_y is {y.shape} {y.dtype}, expected ({len(x)},) uint8 to match "
                            f"{split}_x; {_REDO}")
        if y.size and y.max() > 9:
            raise DataError(f"{where}: {split}_y has labels outside 0..9 (max {y.max()}); {_REDO}")


def _record(fp: dict[str, str]) -> np.ndarray:
    """The `fingerprint` entry of a prepared file: "name=sha256" for the four arrays and data_fingerprint."""
    return np.array([f"{k}={fp[k]}" for k in _FP_KEYS])


def _read_record(entry: np.ndarray, where) -> dict[str, str]:
    """Parse a `fingerprint` entry written by `_record`; DataError if it is not one."""
    items = [str(s).partition("=") for s in entry.reshape(-1)] if entry.dtype.kind == "U" else []
    fp = {k: v for k, _, v in items}
    if [k for k, _, _ in items] != list(_FP_KEYS) or not all(len(v) == 64 for v in fp.values()):
        raise DataError(f"{where}: unreadable fingerprint record; {_REDO}")
    return fp


def write_prepared(arrays: dict[str, np.ndarray], out_npz: str | os.PathLike) -> dict[str, str]:
    """Write the four arrays and their fingerprint record to `out_npz` atomically; return the fingerprint.

    Checks dtypes, shapes and labels first. Any content may be written: `prepare` checks it is official,
    `load_prepared` refuses unofficial content unless asked not to.
    """
    _check_arrays(arrays, out_npz)
    fp = fingerprint(arrays)
    with atomic_open(out_npz) as f:  # numpy writes fixed zip timestamps: same arrays, same bytes
        np.savez(f, **{k: arrays[k] for k in KEYS}, fingerprint=_record(fp))
    return fp


def prepare(archive: str | os.PathLike | None, out_npz: str | os.PathLike,
            download_dir: str | os.PathLike) -> dict[str, str]:
    """Load (or download) the archive, verify its content, write `out_npz` atomically.

    Returns the fingerprint plus `archive` (path) and `archive_md5`.
    """
    if archive is None:
        from torchvision.datasets.utils import download_url  # checks the official md5
        try:
            download_url(URL, str(download_dir), FILENAME, OFFICIAL_MD5)
        except (OSError, RuntimeError) as e:  # no network (URLError), a refused or corrupt download
            reason = getattr(e, "reason", None) or getattr(e, "strerror", None) or e
            raise DataError(f"cannot download {URL} ({reason}); {ARCHIVE_HINT}") from None
        path = Path(download_dir) / FILENAME
    else:
        path = Path(archive)
        if not path.is_file():
            raise DataError(f"{path}: CIFAR-10 archive not found; {ARCHIVE_HINT}")
    arrays = load_archive(path)
    fp = verify(arrays)
    write_prepared(arrays, out_npz)
    return {**fp, "archive": str(path), "archive_md5": _md5(path)}


def _differ(keys: list[str]) -> str:
    """'train_y differs' / 'train_x, train_y differ'."""
    return f"{', '.join(keys)} {'differs' if len(keys) == 1 else 'differ'}"


def _declared_bytes(f: np.lib.npyio.NpzFile, name: str) -> int:
    """The bytes the header of array `name` in `f` declares (read before the array: numpy allocates
    that much at once, however short the data that follows)."""
    with f.zip.open(f"{name}.npy") as member:
        version = np.lib.format.read_magic(member)
        header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = header(member)
    return math.prod(shape) * dtype.itemsize


def _read_prepared(npz) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
    """The four arrays of a prepared file and its `fingerprint` entry (None in files written before it),
    once the sizes their headers declare are within bounds."""
    try:
        with np.load(npz, allow_pickle=False) as f:
            names = [*KEYS, *(["fingerprint"] if "fingerprint" in f.files else [])]
            declared = sum(_declared_bytes(f, k) for k in names)
            if declared > _MAX_ARCHIVE_BYTES:
                raise DataError(f"{npz}: its arrays declare {declared} bytes, over the {_MAX_ARCHIVE_BYTES} a prepared "
                                f"CIFAR-10 may hold (the real one holds 184 MB); {_REDO}")
            return {k: f[k] for k in KEYS}, (f["fingerprint"] if "fingerprint" in f.files else None)
    except DataError:
        raise
    except (OSError, KeyError, ValueError, EOFError, zlib.error, zipfile.BadZipFile, AttributeError) as e:
        raise DataError(f"{npz}: cannot read prepared CIFAR-10 arrays ({type(e).__name__}: {e}); {_REDO}") from e


def load_prepared(npz: str | os.PathLike, allow_unofficial: bool = False) -> tuple[dict[str, np.ndarray], str]:
    """Read a file written by `prepare` (or `write_prepared`); return (arrays, data_fingerprint) once verified.

    Checks, each a one-line DataError: the file reads; images are (N,3,32,32) uint8 and labels (N,)
    uint8 in 0..9; the content's sha256s equal the file's recorded fingerprint; and the recorded
    fingerprint is the official CIFAR-10 one (`allow_unofficial=True` skips only this last check,
    for synthetic test data). A file written before records existed is checked against the official
    fingerprint directly. Cost on the 60k-image (184 MB) file, 2-core CPU (Xeon 2.8 GHz, best of 9):
    0.26 s, against 0.13 s to read the arrays unverified; the difference is sha256 over the arrays.
    """
    arrays, entry = _read_prepared(npz)
    _check_arrays(arrays, npz)
    fp = fingerprint(arrays)
    recorded = fp if entry is None else _read_record(entry, npz)
    changed = [k for k in KEYS if fp[k] != recorded[k]]
    if not changed and fp["data_fingerprint"] != recorded["data_fingerprint"]:
        changed = ["data_fingerprint"]  # the record contradicts its own per-array digests
    if changed:
        raise DataError(f"{npz}: content does not match its recorded fingerprint ({_differ(changed)}); {_REDO}")
    bad = [] if allow_unofficial else _unofficial(recorded)
    if bad:
        raise DataError(f"{npz}: not the official CIFAR-10 content ({_differ(bad)} from the release); {_REDO}")
    return arrays, fp["data_fingerprint"]


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

    def _epoch_draws(self) -> torch.Tensor:
        """The epoch's random draws from `generator`, in the order the batches use them: each batch's
        image indices, then its crop offsets (dy, dx), then its flips; as one (4, images) int64
        tensor on the device, copied there once an epoch."""
        g, bs = self.generator, self.batch_size
        order = torch.randperm(self.n, generator=g)
        draws = [torch.empty(4, 0, dtype=torch.int64)]
        for i in range(len(self)):
            idx = order[i * bs:(i + 1) * bs]
            dy, dx = torch.randint(0, 2 * self.pad + 1, (2, len(idx)), generator=g)
            draws.append(torch.stack([idx, dy, dx, torch.randint(0, 2, (len(idx),), generator=g)]))
        return torch.cat(draws, 1).to(self.device)

    def __iter__(self):
        bs = self.batch_size
        draws = self._epoch_draws() if self.train else None
        for i in range(len(self)):
            if not self.train:
                sl = slice(i * bs, (i + 1) * bs)
                yield self._normalise(self.images[sl]), self.labels[sl]
                continue
            idx, dy, dx, flip = draws[:, i * bs:(i + 1) * bs]
            yield self._normalise(random_crop_flip(self.images[idx], dy, dx, flip.bool(), self.size)), self.labels[idx]
