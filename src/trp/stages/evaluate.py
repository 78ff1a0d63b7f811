"""`trp evaluate`: test accuracy of a dense or decomposed checkpoint."""
from ..artifacts import load_network, sha256_file
from ..data import load_prepared
from ..train import evaluate
from .inputs import resolve_device, test_loader


def evaluate_checkpoint(checkpoint, data_npz, test_subset=None, device="auto") -> dict:
    device = resolve_device(device)
    model, _ = load_network(checkpoint, device)
    arrays, data_fp = load_prepared(data_npz)
    return {**evaluate(model, test_loader(arrays, device, test_subset), device), "data_fingerprint": data_fp,
            "checkpoint_sha256": sha256_file(checkpoint)}
