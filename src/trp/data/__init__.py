"""CIFAR-10 loading, content verification, and tensor batching with batched augmentation."""
from .cifar10 import (ARCHIVE_HINT, KEYS, MEAN, OFFICIAL_MD5, OFFICIAL_SHA256, STD, URL, DataError, TensorLoader,
                      fingerprint, load_archive, load_prepared, prepare, random_crop_flip, verify, write_prepared)
from .sample import sample_batches

__all__ = ["ARCHIVE_HINT", "KEYS", "MEAN", "OFFICIAL_MD5", "OFFICIAL_SHA256", "STD", "URL", "DataError",
           "TensorLoader", "fingerprint", "load_archive", "load_prepared", "prepare", "random_crop_flip", "sample_batches",
           "verify", "write_prepared"]
