"""CIFAR-10 loading, content verification, and tensor batching with batched augmentation;
ImageNet folders, their DataLoaders, and torchvision's pretrained ImageNet weights."""
from .cifar10 import (ARCHIVE_HINT, KEYS, MEAN, OFFICIAL_MD5, OFFICIAL_SHA256, STD, URL, DataError, TensorLoader,
                      fingerprint, load_archive, load_prepared, prepare, random_crop_flip, verify, write_prepared)
from .imagenet import (DeviceLoader, ImageFolders, image_folders, imagenet_loaders, loader_throughput,
                       per_image_cost)
from .pretrained import BASELINE_NOTE, PUBLISHED, default_weights, load_pretrained
from .sample import SAMPLE, sample_batches

__all__ = ["ARCHIVE_HINT", "BASELINE_NOTE", "KEYS", "MEAN", "OFFICIAL_MD5", "OFFICIAL_SHA256", "PUBLISHED", "SAMPLE",
           "STD", "URL", "DataError", "DeviceLoader", "ImageFolders", "TensorLoader", "default_weights", "fingerprint",
           "image_folders", "imagenet_loaders", "load_archive", "load_pretrained", "load_prepared",
           "loader_throughput", "per_image_cost", "prepare", "random_crop_flip", "sample_batches", "verify",
           "write_prepared"]
