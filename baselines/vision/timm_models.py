"""timm architectures from scratch (``pretrained=False``; weights a user already has load with
``--checkpoint PATH``; nothing is downloaded): ``resnet18`` as a CIFAR learner would train it,
``resnet26d`` with the Dogs vs Cats recipe of the issue as a preset, and any other timm model
by name through ``--model timm:<architecture>``.

measured: not yet: they need a GPU, and no session has been lent one (bench/RESULTS.md §8).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from harness.baselines import Baseline, add
from harness.baselines.vision.shared import image_baseline

from harness.errors import HarnessError

# ----------------------------------------------------------------------------------------------
# Defaults and search spaces
# ----------------------------------------------------------------------------------------------
TIMM = ("torch", "timm")  # what these need installed (harness[vision])
RESNET18: dict[str, Any] = {  # CIFAR-10 at 32 px, from scratch
    "epochs": 30.0,
    "batch_size": 512,
    "optimizer": "sgd",
    "lr": 0.4,
    "momentum": 0.9,
    "weight_decay": 5e-4,
    "schedule": "onecycle",
    "label_smoothing": 0.1,
    "translate": 4,
    "tta": 1,
    "compile": True,
}
RESNET26D: dict[str, Any] = {  # the Dogs vs Cats recipe: AdamW, one-cycle, 128 px
    "epochs": 40.0,
    "batch_size": 128,
    "optimizer": "adamw",
    "lr": 2e-3,
    "momentum": 0.9,  # Adam's beta1
    "weight_decay": 0.05,
    "schedule": "onecycle",
    "warmup": 0.2,
    "label_smoothing": 0.1,
    "translate": 8,  # reflect-padded translation, 1/16 of 128 px
    "cutout": 0,
    "tta": 1,  # flip
    "compile": False,
}


def sgd_space(defaults: dict[str, Any]) -> Any:
    def space(trial: Any) -> dict[str, Any]:
        return {
            **defaults,
            "epochs": trial.suggest_categorical("epochs", [15.0, 20.0, 30.0, 40.0]),
            "lr": trial.suggest_float("lr", 0.02, 1.0, log=True),
            "weight_decay": trial.suggest_float("weight_decay", 1e-4, 2e-3, log=True),
            "label_smoothing": trial.suggest_float("label_smoothing", 0.0, 0.3),
            "translate": trial.suggest_int("translate", 0, 4),
        }

    return space


def adamw_space(defaults: dict[str, Any]) -> Any:
    def space(trial: Any) -> dict[str, Any]:
        return {
            **defaults,
            "epochs": trial.suggest_categorical("epochs", [20.0, 30.0, 40.0, 60.0]),
            "batch_size": trial.suggest_categorical("batch_size", [64, 128, 256]),
            "lr": trial.suggest_float("lr", 3e-4, 1e-2, log=True),
            "weight_decay": trial.suggest_float("weight_decay", 1e-3, 0.2, log=True),
            "label_smoothing": trial.suggest_float("label_smoothing", 0.0, 0.2),
            "cutout": trial.suggest_categorical("cutout", [0, 16, 32]),
        }

    return space


# ----------------------------------------------------------------------------------------------
# Networks
# ----------------------------------------------------------------------------------------------
def timm_net(architecture: str) -> Any:
    def make_net(classes: int, sample: np.ndarray, checkpoint: str | None) -> Any:
        import timm

        try:
            net = timm.create_model(architecture, pretrained=False, num_classes=classes)
        except RuntimeError as error:  # timm: "Unknown model (…)"
            raise HarnessError(f"timm has no model '{architecture}' ({error})") from None
        return load_checkpoint(net, checkpoint) if checkpoint else net

    return make_net


def load_checkpoint(net: Any, path: str) -> Any:
    """Weights from a local file (a state dict, or a dict holding one under ``state_dict`` or
    ``model``); tensors whose shape differs (another head) are left as initialised."""
    import torch

    file = Path(path).expanduser()
    if not file.is_file():
        raise HarnessError(f"--checkpoint {path}: no such file (weights are never downloaded)")
    state = torch.load(file, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    own = net.state_dict()
    usable = {k: v for k, v in state.items() if k in own and own[k].shape == v.shape}
    if not usable:
        raise HarnessError(f"--checkpoint {path}: no tensor matches this network")
    net.load_state_dict(usable, strict=False)
    return net


def timm_baseline(architecture: str) -> Baseline:
    baseline = image_baseline(
        f"timm:{architecture}",
        timm_net(architecture),
        RESNET26D,
        adamw_space(RESNET26D),
        f"timm {architecture} from scratch, AdamW one-cycle",
        requires=TIMM,
    )
    baseline.check_installed()
    import timm

    if not timm.list_models(architecture):
        raise HarnessError(f"timm has no model '{architecture}'; see timm.list_models()")
    return baseline


for preset in (
    image_baseline(
        "resnet18",
        timm_net("resnet18"),
        RESNET18,
        sgd_space(RESNET18),
        "timm resnet18 from scratch, Nesterov SGD one-cycle (a learner's CIFAR recipe)",
        requires=TIMM,
    ),
    image_baseline(
        "resnet26d",
        timm_net("resnet26d"),
        RESNET26D,
        adamw_space(RESNET26D),
        "timm resnet26d from scratch: AdamW 2e-3, wd 0.05, one-cycle, 40 epochs, 128 px",
        requires=TIMM,
    ),
):
    add(preset)


def find(name: str) -> Baseline | None:
    """``timm:<architecture>``: any timm model by name, from scratch or ``--checkpoint``."""
    return timm_baseline(name.removeprefix("timm:")) if name.startswith("timm:") else None
