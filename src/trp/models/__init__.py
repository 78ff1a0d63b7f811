"""Models by name: CIFAR ResNet-20/56 (He et al. 2016) and torchvision's ImageNet ResNet-18/50."""
from torch import nn

from .cifar_resnet import CifarResNet, paper_layer_name

# name -> (constructor, input size (C, H, W), the stem conv the paper leaves dense, the kernel sizes of the convs
# it decomposes (Sec. 4.4): every 1x1 and 3x3 conv, except in ResNet-18, whose 3x3 convs alone; ResNet-50's four
# 1x1 shortcut convs are decomposed, since the paper names all 1x1 layers)
_REGISTRY = {
    "resnet20": (lambda: CifarResNet(20), (3, 32, 32), "conv1", (1, 3)),
    "resnet56": (lambda: CifarResNet(56), (3, 32, 32), "conv1", (1, 3)),
    "resnet18": (lambda: _torchvision("resnet18"), (3, 224, 224), "conv1", (3,)),
    "resnet50": (lambda: _torchvision("resnet50"), (3, 224, 224), "conv1", (1, 3)),
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


def kernels(name: str) -> tuple[int, ...]:
    """The kernel sizes of the convs the paper decomposes in this network (all but the stem)."""
    return _entry(name)[3]


__all__ = ["MODELS", "CifarResNet", "build", "input_size", "kernels", "paper_layer_name", "stem"]
