"""CIFAR ResNet of He et al. 2016 (Sec. 4.2): 16/32/64 channels, basic blocks, n blocks per
stage (depth 6n+2), parameter-free identity shortcuts (option A: stride-2 subsampling and zero
padding of the new channels). Layer names: conv1 (stem), layer{s}.{b}.conv{1,2}, fc; the
paper's "res{s}-{b}-{c}" is layer{s}.{b-1}.conv{c}."""
import re

import torch.nn.functional as F
from torch import nn


class BasicBlock(nn.Module):
    def __init__(self, in_planes: int, planes: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.stride, self.pad = stride, planes - in_planes

    def shortcut(self, x):
        if self.stride == 1 and self.pad == 0:
            return x
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, self.pad // 2, self.pad - self.pad // 2))

    def forward(self, x):
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return F.relu(out + self.shortcut(x))


class CifarResNet(nn.Module):
    def __init__(self, depth: int, num_classes: int = 10):
        super().__init__()
        if (depth - 2) % 6:
            raise ValueError(f"CIFAR ResNet depth must be 6n+2, got {depth}")
        n = (depth - 2) // 6
        self.conv1 = nn.Conv2d(3, 16, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(16)
        planes, layers = 16, []
        for stage, width in enumerate((16, 32, 64)):
            blocks = [BasicBlock(planes if b == 0 else width, width, 2 if (b == 0 and stage > 0) else 1) for b in range(n)]
            layers.append(nn.Sequential(*blocks))
            planes = width
        self.layer1, self.layer2, self.layer3 = layers
        self.fc = nn.Linear(64, num_classes)
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight)

    def forward(self, x):
        x = F.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def paper_layer_name(name: str) -> str:
    """Translate the paper's "res3-1-2" (stage 3, block 1, conv 2) into "layer3.0.conv2";
    any other name is returned unchanged."""
    m = re.fullmatch(r"res(\d)-(\d+)-(\d)", name)
    return f"layer{m[1]}.{int(m[2]) - 1}.conv{m[3]}" if m else name
