"""Models by name: CIFAR ResNet-20/56 (He et al. 2016) and torchvision's ImageNet ResNet-18/50."""
from torch import nn

from .cifar_resnet import CifarResNet, paper_layer_name

# name -> (constructor, input size (C, H, W), the stem conv the paper leaves dense)
_REGISTRY = {
    "resnet20": (lambda: CifarResNet(20), (3, 32, 32), "conv1"),
    "resnet56": (lambda: CifarResNet(56), (3, 32, 32), "conv1"),
    "resnet18": (lambda: _torchvision("resnet18"), (3, 224, 224), "conv1"),
    "resnet50": (lambda: _torchvision("resnet50"), (3, 224, 224), "conv1"),
}
MODELS = tuple(_REGISTRY)


def _torchvision(name: str) -> nn.Module:
    import torchvision

    return getattr(torchvision.models, name)(weights=None)


def _entry(name: str):
    if name not in _REGISTRY:
        raise ValueError(f"unknown model {name!r}; choose one of {MODELS}")
    return _REGISTRY[name]


def build(name: str) -> nn.Module:
    """A freshly initialised model by name (resnet20, resnet56, resnet18, resnet50)."""
    return _entry(name)[0]()


def input_size(name: str) -> tuple[int, int, int]:
    return _entry(name)[1]


def stem(name: str) -> str:
    return _entry(name)[2]


__all__ = ["MODELS", "CifarResNet", "build", "input_size", "paper_layer_name", "stem"]
