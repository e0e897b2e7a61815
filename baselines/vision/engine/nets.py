"""Networks written for speed on small images (imported only when training: needs torch).

``AirNet`` follows the published recipe of the fast CIFAR-10 speedruns (the airbench paper):
a frozen 2×2 patch-whitening first layer computed from the training images, then three
VGG-like blocks (conv → max-pool → batch-norm → GELU → conv → batch-norm → GELU), a global max
pool and a linear head with a fixed down-scaling of the logits. The code is ours.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from harness.baselines.vision.engine import MEAN, STD
from torch import nn


def whitening_weights(images: np.ndarray, patch: int = 2, eps: float = 5e-4) -> torch.Tensor:
    """Filters that whiten ``patch``×``patch`` RGB patches of ``images`` (uint8 N×H×W×C): the
    eigenvectors of the patch covariance scaled by 1/√eigenvalue, each with its negation (so a
    ReLU-like activation after it keeps both signs): shape (2·3·patch², 3, patch, patch)."""
    # The covariance is accumulated over chunks of images: 5,000 images at 128 px are 80
    # million patches, 7.7 GB as one float64 matrix.
    size = 3 * patch * patch
    total = torch.zeros(size, dtype=torch.float64)
    outer = torch.zeros(size, size, dtype=torch.float64)
    count = 0
    for start in range(0, len(images), 64):
        x = torch.from_numpy(np.asarray(images[start : start + 64])).float().div(255)
        x = x.permute(0, 3, 1, 2)
        x = (x - torch.tensor(MEAN).view(1, 3, 1, 1)) / torch.tensor(STD).view(1, 3, 1, 1)
        patches = x.unfold(2, patch, 1).unfold(3, patch, 1)  # N×C×H'×W'×p×p
        patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, size).double()
        total += patches.sum(0)
        outer += patches.T @ patches
        count += len(patches)
    mean = total / count
    cov = outer / count - torch.outer(mean, mean)
    eigenvalues, eigenvectors = torch.linalg.eigh(cov)
    filters = (eigenvectors.T / torch.sqrt(eigenvalues + eps)[:, None]).float()
    filters = filters.reshape(-1, 3, patch, patch)
    return torch.cat([filters, -filters])


class ConvBlock(nn.Module):
    def __init__(self, inputs: int, width: int, bn_momentum: float) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(inputs, width, 3, padding=1, bias=False)
        self.pool = nn.MaxPool2d(2)
        self.norm1 = nn.BatchNorm2d(width, momentum=bn_momentum)
        self.conv2 = nn.Conv2d(width, width, 3, padding=1, bias=False)
        self.norm2 = nn.BatchNorm2d(width, momentum=bn_momentum)
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act(self.norm1(self.pool(self.conv1(x))))
        return self.act(self.norm2(self.conv2(x)))


class AirNet(nn.Module):
    def __init__(
        self,
        classes: int,
        sample: np.ndarray,
        widths: Sequence[int] = (64, 256, 256),
        bn_momentum: float = 0.4,
        logit_scale: float = 1 / 9,
    ) -> None:
        super().__init__()
        weights = whitening_weights(sample)
        self.whiten = nn.Conv2d(3, len(weights), 2, padding=0, bias=True)
        self.whiten.weight.data.copy_(weights)
        self.whiten.weight.requires_grad_(False)  # fixed by the data; its bias still learns
        nn.init.zeros_(self.whiten.bias)  # type: ignore[arg-type]
        blocks, inputs = [], len(weights)
        for width in widths:
            blocks.append(ConvBlock(inputs, width, bn_momentum))
            inputs = width
        self.blocks = nn.Sequential(*blocks)
        self.head = nn.Linear(inputs, classes, bias=False)
        self.act = nn.GELU()
        self.logit_scale = logit_scale
        for module in self.modules():
            if isinstance(module, nn.Conv2d) and module is not self.whiten:
                nn.init.dirac_(module.weight[: module.in_channels])  # identity-like start
                if module.out_channels > module.in_channels:
                    nn.init.kaiming_normal_(module.weight[module.in_channels :])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.act(self.whiten(x)))
        x = torch.amax(x, dim=(2, 3))
        return self.head(x) * self.logit_scale


class SmallCNN(nn.Module):
    """A small VGG-like CNN for small grey images (handwritten digits): the three equal
    channels averaged to one, then per width a block of 3×3 conv → batch-norm → ReLU (twice,
    or once with ``double=False``) and a 2×2 max-pool, then dropout and a linear head on the
    flattened map (digits are not shift-invariant: where a stroke is matters)."""

    def __init__(
        self,
        classes: int,
        side: int,
        widths: Sequence[int] = (32, 64),
        *,
        double: bool = True,
        dropout: float = 0.25,
        grey: bool = True,
    ) -> None:
        super().__init__()
        self.grey = grey
        layers: list[nn.Module] = []
        inputs = 1 if grey else 3
        for width in widths:
            for _ in range(2 if double else 1):
                layers += [
                    nn.Conv2d(inputs, width, 3, padding=1, bias=False),
                    nn.BatchNorm2d(width),
                    nn.ReLU(inplace=True),
                ]
                inputs = width
            layers.append(nn.MaxPool2d(2))
            side //= 2
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(inputs * side * side, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.grey:
            x = x.mean(1, keepdim=True)
        return self.head(self.features(x).flatten(1))
