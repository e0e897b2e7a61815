"""A small CNN for handwritten digits on the CPU (``nets.SmallCNN``: two blocks of two 3×3
convolutions, 32 and 64 channels, dropout and a linear head), trained by the shared engine with
AdamW, a one-cycle schedule, label smoothing and random translations (no flips: a mirrored digit
is another glyph, or none). Grey images only need one channel: the network averages the three.

measured (bench/digits.py, 2-core CPU shared with other work, 1 thread; bench/RESULTS.md §14):
digits, defaults: 99.78 / 98.44 / 99.56% local test over seeds 0-2, 5-6 s a run (warm);
digit-recognizer from MNIST's IDX files, ``--epochs 3``: 99.32% in 121 s. GPU: not measured.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from harness.baselines import add
from harness.baselines.vision.shared import image_baseline

# ----------------------------------------------------------------------------------------------
# Defaults and search space
# ----------------------------------------------------------------------------------------------
WIDTHS = (16, 32)  # channels of the two blocks
DEFAULTS: dict[str, Any] = {
    "epochs": 30.0,
    "batch_size": 128,
    "optimizer": "adamw",
    "lr": 3e-3,  # peak of the one-cycle schedule
    "momentum": 0.9,  # Adam's beta1
    "weight_decay": 5e-4,
    "schedule": "onecycle",
    "warmup": 0.2,
    "label_smoothing": 0.1,
    "flip": False,  # digits have a handedness
    "translate": 1,  # pixels (reflect-padded): a digit's position varies by a few pixels
    "cutout": 0,
    "ema": 0.0,
    "tta": 0,  # flip-TTA would average a digit with its mirror image
    "compile": False,
}


def space(trial: Any) -> dict[str, Any]:
    return {
        **DEFAULTS,
        "epochs": trial.suggest_categorical("epochs", [10.0, 20.0, 30.0, 50.0]),
        "batch_size": trial.suggest_categorical("batch_size", [64, 128, 256]),
        "lr": trial.suggest_float("lr", 5e-4, 1e-2, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-5, 1e-2, log=True),
        "label_smoothing": trial.suggest_float("label_smoothing", 0.0, 0.2),
        "translate": trial.suggest_int("translate", 0, 3),
    }


# ----------------------------------------------------------------------------------------------
# Network
# ----------------------------------------------------------------------------------------------
def make_net(classes: int, sample: np.ndarray, checkpoint: str | None) -> Any:
    from harness.baselines.vision.engine.nets import SmallCNN
    from harness.baselines.vision.timm_models import load_checkpoint

    grey = bool((sample[..., :1] == sample).all())  # three equal channels: one is enough
    net = SmallCNN(classes, side=sample.shape[1], widths=WIDTHS, grey=grey)
    return load_checkpoint(net, checkpoint) if checkpoint else net


add(
    image_baseline(
        "cnn",
        make_net,
        DEFAULTS,
        space,
        "a small CNN for digits on the CPU: 2×(conv-conv-pool), AdamW one-cycle, translations",
    )
)
