"""AirNet: our fast CIFAR-10 network (patch-whitening stem, three conv blocks; see
``nets.AirNet``) trained with Muon on the conv filters and large-batch Nesterov SGD on the rest,
label smoothing, flip + translate augmentation and flip + translate test-time augmentation, like
the published speedruns.
Any image size works (global pooling); 32 px is what it is shaped for.

measured: on the CPU at reduced size only (quarter width, 3 epochs, batch 1024: 0.827 on the
tuner's train holdout, a sanity check, not a result); the GPU figures are not measured yet (no
session has been lent a GPU; bench/RESULTS.md §8 has the call).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from harness.baselines import add
from harness.baselines.vision.shared import image_baseline

# ----------------------------------------------------------------------------------------------
# Defaults and search space
# ----------------------------------------------------------------------------------------------
WIDTHS = (64, 256, 256)  # channels of the three blocks
DEFAULTS: dict[str, Any] = {
    "epochs": 10.0,
    "batch_size": 1024,
    "optimizer": "muon",  # orthogonalised updates of the conv filters, Nesterov SGD the rest
    "lr": 2.0,  # peak of a one-cycle schedule: SGD's rate (all weights when optimizer "sgd")
    "muon_lr": 0.3,  # peak rate of the conv filters' orthogonalised updates (bench/RESULTS §8)
    "momentum": 0.85,
    "weight_decay": 5e-4,
    "schedule": "onecycle",
    "warmup": 0.2,
    "label_smoothing": 0.2,
    "translate": 2,
    "cutout": 0,
    "ema": 0.0,
    "tta": 2,  # flip + 1-pixel translations
    "compile": True,  # on CUDA
}


def space(trial: Any) -> dict[str, Any]:
    return {
        **DEFAULTS,
        "epochs": trial.suggest_categorical("epochs", [8.0, 10.0, 12.0, 16.0]),
        "batch_size": trial.suggest_categorical("batch_size", [512, 1024]),  # few shapes
        "optimizer": trial.suggest_categorical("optimizer", ["muon", "sgd"]),
        "lr": trial.suggest_float("lr", 0.2, 6.0, log=True),
        "muon_lr": trial.suggest_float("muon_lr", 0.05, 1.0, log=True),
        "momentum": trial.suggest_float("momentum", 0.8, 0.95),
        "weight_decay": trial.suggest_float("weight_decay", 1e-4, 3e-3, log=True),
        "label_smoothing": trial.suggest_float("label_smoothing", 0.0, 0.3),
        "translate": trial.suggest_int("translate", 0, 4),
        "cutout": trial.suggest_categorical("cutout", [0, 8, 12]),
    }


# ----------------------------------------------------------------------------------------------
# Network
# ----------------------------------------------------------------------------------------------
def make_net(classes: int, sample: np.ndarray, checkpoint: str | None) -> Any:
    from harness.baselines.vision.engine.nets import AirNet
    from harness.baselines.vision.timm_models import load_checkpoint

    net = AirNet(classes, sample, widths=WIDTHS)
    return load_checkpoint(net, checkpoint) if checkpoint else net


add(
    image_baseline(
        "airnet",
        make_net,
        DEFAULTS,
        space,
        "AirNet: whitened VGG-like CNN, Muon + Nesterov SGD, flip/translate TTA (fast CIFAR-10)",
    )
)
