"""The two network formats `trp` writes, and their safe loading.

dense       {"format": "trp.dense/1", "arch", "state_dict", "config", "input_size"}   model.pt
decomposed  {"format": "trp.decomposed/1", "arch", "scheme", "ranks", "state_dict", "meta", "input_size"}
            decomposed.pt, finetuned.pt
"input_size" (C, H, W) is the size of the images the network was trained on, at which its MACs are
counted; a file without it was trained at its architecture's own size (trp.models.input_size).
training    {"model", "optimizer", "scheduler", "generator", "state", "regularizer"}   last.pt
Files written before the "format" key existed are recognised by their keys ("ranks": decomposed).
Every load uses torch.load(weights_only=True): a checkpoint can hold tensors and plain data, never
code. A file that is missing, truncated, crafted, or of the other kind is an ArtifactError naming it.
"""
import pickle
import zipfile
from pathlib import Path

import torch
from torch import nn

from .. import models
from ..lowrank import decompose_model
from .atomic import ArtifactError, atomic_save

DENSE, DECOMPOSED = "trp.dense/1", "trp.decomposed/1"
TRAINING_KEYS = {"model", "optimizer", "scheduler", "generator", "state", "regularizer"}
# The image sides a checkpoint may declare: CIFAR-10's, up to the largest a network's MACs are counted at
# in bounded memory (each layer runs once at that size; at 20000 the first conv's output alone is 25 GB).
MIN_SIDE, MAX_SIDE = 32, 2048
WRITTEN_BY = {DENSE: "`trp train` (model.pt)", DECOMPOSED: "`trp train` or `trp decompose` (decomposed.pt)"}


def save_dense(path, model: nn.Module, arch: str, config: dict, input_size=None) -> None:
    atomic_save({"format": DENSE, "arch": arch, "state_dict": model.state_dict(), "config": config,
                 "input_size": list(input_size or models.input_size(arch))}, path)


def save_decomposed(path, model: nn.Module, arch: str, scheme: str, ranks: dict[str, int], meta: dict | None = None,
                    input_size=None) -> None:
    atomic_save({"format": DECOMPOSED, "arch": arch, "scheme": scheme, "ranks": dict(ranks),
                 "state_dict": model.state_dict(), "meta": meta or {},
                 "input_size": list(input_size or models.input_size(arch))}, path)


def input_size_of(rec: dict) -> tuple[int, int, int]:
    """The (C, H, W) a checkpoint's network was trained at (its MACs are counted there)."""
    return tuple(rec["input_size"]) if "input_size" in rec else models.input_size(rec["arch"])


def load_weights_only(path, map_location="cpu"):
    """torch.load(weights_only=True): tensors and plain data only, never code."""
    path = Path(path)
    if not path.is_file():
        raise ArtifactError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, zipfile.BadZipFile, OSError, ValueError,
            AttributeError, TypeError, KeyError, IndexError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise ArtifactError(f"{path}: not a readable trp checkpoint ({first[:200]})") from None


def read_record(path, map_location="cpu") -> dict:
    """The saved record of a network checkpoint, with its "format" filled in."""
    rec = load_weights_only(path, map_location)
    if not isinstance(rec, dict) or not isinstance(rec.get("state_dict"), dict) or rec.get("arch") not in models.MODELS:
        raise ArtifactError(f"{path}: not a network checkpoint written by trp (no known arch and state_dict)")
    rec.setdefault("format", DECOMPOSED if "ranks" in rec else DENSE)
    if rec["format"] not in WRITTEN_BY:
        raise ArtifactError(f"{path}: unknown checkpoint format {rec['format']!r}")
    size = rec.get("input_size", [3, MIN_SIDE, MIN_SIDE])
    if not (isinstance(size, (list, tuple)) and len(size) == 3 and all(type(v) is int for v in size)
            and size[0] == 3 and size[1] == size[2] and MIN_SIDE <= size[1] <= MAX_SIDE):
        raise ArtifactError(f"{path}: malformed input_size {size!r} (expected [3, S, S], S from {MIN_SIDE} to "
                            f"{MAX_SIDE}: RGB images of the square size the network was trained at)")
    bad = [k for k, v in rec["state_dict"].items()
           if isinstance(v, torch.Tensor) and v.is_floating_point() and not bool(v.isfinite().all())]
    if bad:
        raise ArtifactError(f"{path}: non-finite weights (NaN or inf) in {bad[0]}"
                            f"{f' and {len(bad) - 1} more tensors' if len(bad) > 1 else ''}; the network it holds "
                            "diverged and cannot be evaluated, decomposed or timed")
    return rec


def save_training_state(path, state: dict) -> None:
    atomic_save(state, path)


def _to_device(obj, device):
    """`obj` (tensors in dicts, lists and tuples) with every tensor on `device`."""
    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_device(v, device) for v in obj)
    return obj


def load_training_state(path, device="cpu", model: nn.Module | None = None, arch: str = "") -> dict:
    """The state `trp train` / `trp finetune` saved after an epoch (last.pt), to resume from, with
    its tensors on `device` except the random generator's state: the data order is drawn by a CPU
    generator, which takes its state back only as a CPU ByteTensor. With `model`, a state whose
    weights do not fit it (another network's last.pt) is refused."""
    state = load_weights_only(path, "cpu")
    if not isinstance(state, dict) or not TRAINING_KEYS <= set(state):
        raise ArtifactError(f"{path}: not a training state written by trp (last.pt); delete it to start afresh")
    if model is not None:
        mine, theirs = model.state_dict(), state["model"]
        if not (isinstance(theirs, dict) and set(theirs) == set(mine)
                and all(isinstance(theirs[k], torch.Tensor) and theirs[k].shape == v.shape for k, v in mine.items())):
            raise ArtifactError(f"{path}: the training state of another network, not of this run's {arch or 'network'}; "
                                "move it away to start afresh")
    return {k: v if k == "generator" else _to_device(v, device) for k, v in state.items()}


def _load_state(path, model: nn.Module, state_dict: dict) -> nn.Module:
    try:
        model.load_state_dict(state_dict)
    except (RuntimeError, TypeError, ValueError) as e:
        raise ArtifactError(f"{path}: weights do not fit the network it names ({str(e).splitlines()[0][:200]})") from None
    return model


def build_from_record(path, rec: dict) -> nn.Module:
    """The network a record describes, with its weights."""
    if rec["format"] == DENSE:
        return _load_state(path, models.build(rec["arch"]), rec["state_dict"])
    ranks, scheme = rec.get("ranks"), rec.get("scheme")
    if not isinstance(ranks, dict) or not all(isinstance(k, str) and type(v) is int for k, v in ranks.items()):
        raise ArtifactError(f"{path}: decomposed checkpoint has malformed ranks")
    try:
        model = decompose_model(models.build(rec["arch"]), ranks, scheme)
    except (ValueError, KeyError, AttributeError, TypeError) as e:
        raise ArtifactError(f"{path}: decomposed checkpoint does not fit {rec['arch']} ({e})") from None
    return _load_state(path, model, rec["state_dict"])


def load_network(path, map_location="cpu", expect: str | None = None) -> tuple[nn.Module, dict]:
    """(network, record) of a dense or decomposed checkpoint; `expect` (DENSE or DECOMPOSED)
    refuses the other kind with a message saying which file is wanted."""
    rec = read_record(path, map_location)
    if expect is not None and rec["format"] != expect:
        raise ArtifactError(f"{path} is a {rec['format'].split('.')[1].split('/')[0]} network; "
                            f"this command needs one written by {WRITTEN_BY[expect]}")
    return build_from_record(path, rec).to(map_location), rec
