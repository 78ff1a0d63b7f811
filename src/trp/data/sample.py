"""A fixed random sample of the training images as normalised batches (COBLA's objective)."""
import numpy as np

from .cifar10 import TensorLoader

SAMPLE_BATCH = 512  # images per forward pass of the sample loss
SAMPLE = 2048  # training images in the sample (COBLA's objective); a profile sets its own (cobla.sample)


def sample_batches(images, labels, sample: int = SAMPLE, seed: int = 0, batch_size: int = SAMPLE_BATCH, device="cpu"):
    """`sample` images drawn without replacement (numpy seed `seed`) from uint8 arrays
    (N, C, H, W), normalised as the test loader does (no augmentation), in batches."""
    n = len(images)
    idx = np.sort(np.random.default_rng(seed).choice(n, size=min(sample, n), replace=False))
    loader = TensorLoader(np.asarray(images)[idx], np.asarray(labels)[idx], batch_size, False, device)
    return [(x, y) for x, y in loader]
