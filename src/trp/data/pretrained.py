"""torchvision's pretrained ImageNet ResNet weights, from a local file, checked by sha256 before
they are loaded (torch.load(weights_only=True): tensors, never code).

torchvision names its files <name>-<first 8 hex digits of their sha256>.pth; a file is accepted
only if its sha256 begins with the digits in its name, and the full hash goes into the record.
"""
import re
from pathlib import Path

import torch

from ..artifacts import DENSE, ArtifactError, sha256_file
from ..artifacts.checkpoints import build_from_record, load_weights_only

DOWNLOADS = "https://download.pytorch.org/models/"
# IMAGENET1K_V1 weights: top-1 / top-5 (%) as torchvision publishes them (ResNet18_Weights /
# ResNet50_Weights docs, single 224 centre crop of the 256-resized image); the paper's Baseline rows
# live in trp.report.paper with the paper's other numbers.
PUBLISHED = {
    "resnet18": {"file": "resnet18-f37072fd.pth", "torchvision": {"top1": 69.758, "top5": 89.078}},
    "resnet50": {"file": "resnet50-0676ba61.pth", "torchvision": {"top1": 76.130, "top5": 92.862}},
}
BASELINE_NOTE = ("The paper does not say which pretrained weights or evaluation gave its baselines (the authors' "
                 "README and the paper print different ResNet-50 top-5 baselines, and neither pair is "
                 "torchvision's), so compare each method's drop from its own baseline, not absolute accuracies.")
HASHED_NAME = re.compile(r".+-(?P<prefix>[0-9a-f]{8})\.pth")


def pretrained_arch(path) -> str | None:
    """The architecture of a file named as torchvision names its pretrained weights (resnet18-f37072fd.pth: any
    8 hex digits), or None for any other name."""
    name = HASHED_NAME.fullmatch(Path(path).name)
    arch = name and Path(path).name.rsplit("-", 1)[0]
    return arch if arch in PUBLISHED else None


def default_weights(arch: str) -> Path:
    """Where torchvision keeps the file: $TORCH_HOME/hub/checkpoints (default ~/.cache/torch)."""
    return Path(torch.hub.get_dir()) / "checkpoints" / PUBLISHED[arch]["file"]


def load_pretrained(arch: str, path=None) -> tuple[torch.nn.Module, dict]:
    """(network, record) of pretrained `arch` weights from `path` (default: torchvision's cache
    file). A missing file, a name without torchvision's hash prefix, a sha256 that does not begin
    with it, or weights that do not fit `arch` is a one-line ArtifactError."""
    expected = PUBLISHED[arch]["file"]
    path = Path(path) if path is not None else default_weights(arch)
    if not path.is_file():
        raise ArtifactError(f"{path}: pretrained {arch} weights not found; download {DOWNLOADS}{expected} "
                            f"into {default_weights(arch).parent} or pass --weights FILE")
    name = HASHED_NAME.fullmatch(path.name)
    if name is None:
        raise ArtifactError(f"{path}: name the file as torchvision does, <name>-<first 8 hex digits of its "
                            f"sha256>.pth (e.g. {expected}), so that it can be checked")
    digest = sha256_file(path)
    if not digest.startswith(name["prefix"]):
        raise ArtifactError(f"{path}: its sha256 begins {digest[:8]}, not {name['prefix']} as its name says; the file "
                            "is corrupt or not the one it is named after")
    state = load_weights_only(path)
    if not isinstance(state, dict) or not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise ArtifactError(f"{path}: not a state_dict (a mapping of names to tensors)")
    model = build_from_record(path, {"format": DENSE, "arch": arch, "state_dict": state})
    published = path.name == expected
    return model, {"path": str(path), "sha256": digest, "torchvision_file": published,
                   "published": PUBLISHED[arch]["torchvision"] if published else None}
