"""What the stages share on the way in: the device, the data (CIFAR-10's prepared arrays as loaders, or an
ImageNet folder), the source network, layer names."""
import os
from dataclasses import dataclass, replace

import torch

from .. import models
from ..artifacts import DENSE, load_network
from ..config import ConfigError, TrainConfig
from ..data import TensorLoader, load_pretrained, load_prepared
from ..data.cifar10 import INPUT_SIZE
from ..data.imagenet import CROP
from ..data.pretrained import pretrained_arch
from ..lowrank import find_sites

EVAL_BATCH = 500


@dataclass(frozen=True)
class ImageNet:
    """An ImageNet-layout folder (trp.data.imagenet) as the stages read it, with the DataLoader worker
    processes of each process and the training crop (evaluation resizes to size*256/224 and centre-crops);
    a profile whose dataset is imagenet makes `--data` one (trp.cli)."""

    root: str
    workers: int
    image_size: int = CROP

    def __fspath__(self) -> str:  # the folder, where a command's inputs are listed
        return str(self.root)


def profile_settings(path, finetuning: bool = False) -> tuple[dict, dict]:
    """(the profile at `path` (trp.profile.load), the TrainConfig keys it sets): its train: block, then a
    training's TRP settings from its trp: block (e and m; lam, the weight of the +Nu rows, only where a run
    sets it) or a fine-tuning's finetune: block. Without a profile, ({}, {})."""
    if path is None:
        return {}, {}
    from .. import profile

    try:
        settings = profile.load(path)
    except OSError as e:
        raise ConfigError(f"profile {path} cannot be read ({e.strerror or e})") from None
    except profile.ProfileError as e:
        raise ConfigError(f"profile {path}: {e}") from None
    values = dict(settings.get("train") or {})
    if finetuning:
        values |= settings.get("finetune") or {}
    else:
        values |= {k: v for k, v in (settings.get("trp") or {}).items() if k in ("e", "m")}
    return settings, profile.numbers(values)


def finetuning_config(cfg: TrainConfig, rec: dict) -> TrainConfig:
    """`cfg` for fine-tuning the decomposed network of checkpoint record `rec`: its arch, no regulariser."""
    return replace(cfg, model=rec["arch"], method="baseline", lam=0.0, target_speedup=None)


def input_size(data):
    """The (C, H, W) at which a stage counts the MACs of a network trained on `data`: CIFAR-10's 32x32; on
    ImageNet the architecture's own (224x224, the paper's)."""
    return None if isinstance(data, ImageNet) else INPUT_SIZE


def dense_network(path, device="cpu"):
    """(network, record) of a dense network: a model.pt of `trp train`, or torchvision's pretrained weights file
    (<arch>-<sha256 prefix>.pth, checked by trp.data.pretrained; its record names the arch and the weights)."""
    arch = pretrained_arch(path)
    if arch is None:
        return load_network(path, device, expect=DENSE)
    model, weights = load_pretrained(arch, path)
    return model.to(device), {"format": DENSE, "arch": arch, "weights": weights}


def resolve_device(name: str, precision: str = "fp32", deterministic: bool = False) -> torch.device:
    """The device to run on (auto: a GPU when one is visible), with this process's numerics set for
    it (set_numerics)."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device 'cuda' was asked for but this process sees no GPU (check the node, its driver and "
                          "CUDA_VISIBLE_DEVICES); run it where a GPU is, or ask for device cpu or auto")
    set_numerics(name, precision, deterministic)
    return torch.device(name)


def set_numerics(device_type: str, precision: str, deterministic: bool) -> None:
    """fp32 convolutions and matmuls in IEEE fp32, or in TensorFloat-32 for precision "tf32" (a
    GPU's); with `deterministic`, deterministic algorithms only (cuDNN's and cuBLAS's too), and an
    operation that has none fails. Every record states these flags (trp.artifacts.provenance)."""
    if precision == "tf32" and device_type != "cuda":
        raise ConfigError("precision 'tf32' runs on a GPU only; on the CPU use fp32 or bf16")
    tf32 = precision == "tf32"
    torch.backends.cudnn.allow_tf32 = tf32
    torch.set_float32_matmul_precision("high" if tf32 else "highest")  # "high": TF32 matmuls on a GPU
    if deterministic:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # read when cuBLAS starts
    torch.backends.cudnn.deterministic = deterministic
    if deterministic != torch.are_deterministic_algorithms_enabled():  # setting it imports torch._inductor (seconds)
        torch.use_deterministic_algorithms(deterministic)


def test_loader(arrays: dict, device, test_subset: int | None = None, channels_last: bool = False) -> TensorLoader:
    return TensorLoader(arrays["test_x"][:test_subset], arrays["test_y"][:test_subset], EVAL_BATCH, False, device,
                        channels_last=channels_last)


def train_loaders(cfg: TrainConfig, data_npz, device, generator) -> tuple[TensorLoader, TensorLoader, str]:
    """(train loader, test loader, data fingerprint) of the verified prepared data."""
    arrays, data_fp = load_prepared(data_npz)
    train = TensorLoader(arrays["train_x"][:cfg.train_subset], arrays["train_y"][:cfg.train_subset], cfg.batch_size,
                         True, device, generator, channels_last=cfg.channels_last)
    return train, test_loader(arrays, device, cfg.test_subset, cfg.channels_last), data_fp


def sites_of(model, arch: str, scheme: str, layers: list[str] | None = None, input_size=None):
    """The convs TRP projects: the named ones (module or paper names), or the architecture's own
    (trp.models.kernels) except the stem, with their output sizes at `input_size` (default: the architecture's)."""
    names = layers and [models.paper_layer_name(n) for n in layers]
    try:
        return find_sites(model, input_size or models.input_size(arch), scheme, models.kernels(arch), names=names,
                          exclude=() if names else (models.stem(arch),))
    except ValueError as e:
        raise ConfigError(str(e)) from None
