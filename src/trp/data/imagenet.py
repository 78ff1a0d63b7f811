"""ImageNet in the standard folder layout, decoded with PIL in DataLoader worker processes.

ROOT/train/<class>/*.JPEG and ROOT/val/<class>/*.JPEG, the same class folders in both. Labels
are the indices of the sorted class folder names (torchvision's ImageFolder), which is the order
of torchvision's pretrained 1000-way heads when all 1000 synset folders are there. Images are
opened by PIL and nothing else: no file in the folder is unpickled or run, and files whose names
are not images' are ignored. Workers return uint8 tensors (4x less to pin and copy than float);
the ImageNet mean/std normalisation runs on the training device.

Every training image gets its own random seed from (seed, epoch, index), so its crop and flip are
the same whichever worker or process loads it: a run does not depend on the number of workers,
and resuming at an epoch boundary replays nothing differently.
"""
from __future__ import annotations

import hashlib
import itertools
import multiprocessing
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset, DistributedSampler, Sampler, Subset

from .cifar10 import DataError

# torchvision is imported where it is used: `import trp.data` stays fast for every other command.
if TYPE_CHECKING:
    from torchvision.datasets import ImageFolder

LAYOUT = ("expected ROOT/train/<class>/*.JPEG and ROOT/val/<class>/*.JPEG with the same class folders "
          "(the validation images sorted into class folders, as torchvision's ImageFolder reads them)")
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
CROP = 224
RESIZE = 256  # evaluation: shorter side to 256, centre crop 224 (scaled alike for other crop sizes)


def read_rgb(path: str) -> Image.Image:
    """The image at `path` as RGB; a file PIL cannot read is a one-line DataError naming it."""
    try:
        with open(path, "rb") as f:
            return Image.open(f).convert("RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        raise DataError(f"{path}: not a readable image ({' '.join(str(e).split())})") from None


def train_transform(size: int = CROP):
    from torchvision import transforms

    return transforms.Compose([transforms.RandomResizedCrop(size), transforms.RandomHorizontalFlip(),
                               transforms.PILToTensor()])


def eval_transform(size: int = CROP):
    from torchvision import transforms

    return transforms.Compose([transforms.Resize(round(size * RESIZE / CROP)), transforms.CenterCrop(size),
                               transforms.PILToTensor()])


@dataclass
class ImageFolders:
    """The train and val splits of an ImageNet-layout folder, checked."""
    root: Path
    train: ImageFolder
    val: ImageFolder

    @property
    def classes(self) -> list[str]:
        return self.train.classes

    def describe(self) -> dict:
        """What a run records of its data: class and image counts, and the sha256 of the file
        listing (relative paths and labels; the image bytes are not hashed, 140 GB would take hours)."""
        h = hashlib.sha256()
        for split, folder in (("train", self.train), ("val", self.val)):
            for path, label in folder.samples:  # path: folder.root/<class>/<file>
                h.update(f"{split}{path[len(str(folder.root)):]}\t{label}\n".encode())
        return {"root": str(self.root), "classes": len(self.classes), "train_images": len(self.train),
                "val_images": len(self.val), "listing_sha256": h.hexdigest()}


def _split(root: Path, split: str, transform) -> ImageFolder:
    from torchvision.datasets import ImageFolder

    folder = root / split
    if not folder.is_dir():
        raise DataError(f"{root}: no {split}/ folder; {LAYOUT}")
    try:
        data = ImageFolder(str(folder), transform=transform, loader=read_rgb, allow_empty=True)
    except FileNotFoundError:
        raise DataError(f"{folder}: no class folders; {LAYOUT}") from None
    counts = np.bincount(data.targets, minlength=len(data.classes))
    empty = [c for c, n in zip(data.classes, counts) if n == 0]
    if empty:
        raise DataError(f"{folder}: class folders without images: {', '.join(empty[:5])}"
                        f"{' ...' if len(empty) > 5 else ''}; {LAYOUT}")
    return data


def image_folders(root, size: int = CROP) -> ImageFolders:
    """Both splits of `root` with the training (random resized crop + flip) and evaluation
    (resize + centre crop) transforms at crop `size`; a missing or malformed layout is a
    one-line DataError."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: no such directory; {LAYOUT}")
    train, val = _split(root, "train", train_transform(size)), _split(root, "val", eval_transform(size))
    if train.classes != val.classes:
        only_train, only_val = sorted(set(train.classes) - set(val.classes)), sorted(set(val.classes) - set(train.classes))
        raise DataError(f"{root}: train/ and val/ have different class folders (only in train: {only_train[:5]}, "
                        f"only in val: {only_val[:5]}); {LAYOUT}")
    return ImageFolders(root, train, val)


def spread_subset(dataset: Dataset, n: int | None) -> Dataset:
    """`n` images spread evenly over the dataset (every class, not the first ones), or all of it."""
    if n is None or n >= len(dataset):
        return dataset
    return Subset(dataset, [i * len(dataset) // n for i in range(n)])


class SeededSamples(Dataset):
    """Item (epoch, index) is `dataset[index]` drawn under its own seed from (seed, epoch, index)."""

    def __init__(self, dataset: Dataset, seed: int):
        self.dataset, self.seed = dataset, seed

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key):
        epoch, index = key
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(np.random.SeedSequence([self.seed, epoch, index]).generate_state(1, np.uint64)[0]))
            return self.dataset[index]


class EpochShard(Sampler):
    """This process's share of each epoch's shuffled order (DistributedSampler, seed + epoch;
    one process is a share of one), as the (epoch, index) keys of SeededSamples."""

    def __init__(self, n: int, rank: int, world_size: int, seed: int):
        self.order = DistributedSampler(range(n), num_replicas=world_size, rank=rank, shuffle=True, seed=seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.order.set_epoch(epoch)

    def __iter__(self):
        return ((self.epoch, i) for i in self.order)

    def __len__(self) -> int:
        return len(self.order)


def _worker_error(e: DataError) -> DataError:
    """The one-line message of a DataError that a DataLoader worker raised (the loader re-raises
    it with the worker's whole traceback, whose last line is `module.DataError: message`)."""
    return DataError(str(e).strip().splitlines()[-1].partition(": ")[2] or str(e))


class DeviceLoader:
    """A DataLoader's batches on `device`: uint8 images copied without blocking (from pinned
    memory on a GPU), normalised there to float32 with ImageNet's mean and std, channels_last if
    asked; int64 labels. `set_epoch` chooses the order and augmentation of the next pass."""

    def __init__(self, loader: DataLoader, device, channels_last: bool = False):
        self.loader, self.device, self.channels_last = loader, torch.device(device), channels_last
        self.mean = torch.tensor(MEAN, device=self.device).view(1, -1, 1, 1) * 255
        self.std = torch.tensor(STD, device=self.device).view(1, -1, 1, 1) * 255

    def __len__(self) -> int:
        return len(self.loader)

    def set_epoch(self, epoch: int) -> None:
        self.loader.sampler.set_epoch(epoch)

    def __iter__(self):
        try:
            for x, y in self.loader:
                x = (x.to(self.device, non_blocking=True).float() - self.mean) / self.std
                if self.channels_last:
                    x = x.contiguous(memory_format=torch.channels_last)
                yield x, y.to(self.device, non_blocking=True)
        except DataError as e:
            raise _worker_error(e) from None


def worker_context() -> multiprocessing.context.BaseContext:
    """Where the loaders' workers are started: a fork server that has imported this module (and so
    torch and torchvision) once. A worker forked from the training process itself can deadlock on a
    lock held by one of its threads (gloo's, a persistent loader's queue feeders) at the instant of
    the fork; the fork server runs no such thread."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    return context


def _loader(dataset, batch_size: int, workers: int, device: torch.device, **kw) -> DataLoader:
    return DataLoader(dataset, batch_size=batch_size, num_workers=workers, pin_memory=device.type == "cuda",
                      multiprocessing_context=worker_context() if workers > 0 else None, **kw)


def imagenet_loaders(folders: ImageFolders, batch_size: int, workers: int, device, seed: int, rank: int = 0,
                     world_size: int = 1, channels_last: bool = False, train_subset: int | None = None,
                     val_subset: int | None = None) -> tuple[DeviceLoader, DeviceLoader]:
    """(train, val) loaders of this process: `batch_size` images a batch. Training: this
    process's shard of a shuffled epoch, full batches only (every process takes the same number
    of steps). Validation: every world_size-th image from `rank` on, in order, so the shards
    cover the split exactly once (sum the counts across processes)."""
    device = torch.device(device)
    train = spread_subset(folders.train, train_subset)
    val = spread_subset(folders.val, val_subset)
    # The training workers live through the run; the validation ones only through each pass.
    train_loader = _loader(SeededSamples(train, seed), batch_size, workers, device, persistent_workers=workers > 0,
                           sampler=EpochShard(len(train), rank, world_size, seed), drop_last=True)
    val_loader = _loader(Subset(val, range(rank, len(val), world_size)), batch_size, workers, device)
    return DeviceLoader(train_loader, device, channels_last), DeviceLoader(val_loader, device, channels_last)


def loader_throughput(loader: DataLoader, batches: int) -> dict:
    """Images per second of `loader` alone (decoding, augmentation, collation; no copy to a
    device, no model), timed from its second batch on (the first waits for workers to start)."""
    it = iter(loader)
    next(it)
    t0, images = time.perf_counter(), 0
    for x, _ in itertools.islice(it, batches):
        images += len(x)
    seconds = time.perf_counter() - t0
    return {"images_per_s": images / seconds, "images": images, "seconds": seconds,
            "workers": loader.num_workers, "batch_size": loader.batch_size}


def per_image_cost(folder: ImageFolder, n: int = 32) -> dict:
    """Milliseconds per image, in this process, of the two stages a worker runs: PIL decoding
    (open + RGB) and the transform (crop, flip, to tensor), over `n` images spread over `folder`."""
    paths = [folder.samples[i * len(folder) // n][0] for i in range(min(n, len(folder)))]
    t0 = time.perf_counter()
    images = [read_rgb(p) for p in paths]
    t1 = time.perf_counter()
    for img in images:
        folder.transform(img)
    t2 = time.perf_counter()
    return {"decode_ms": 1000 * (t1 - t0) / len(paths), "transform_ms": 1000 * (t2 - t1) / len(paths),
            "mean_pixels": sum(i.width * i.height for i in images) / len(images)}
