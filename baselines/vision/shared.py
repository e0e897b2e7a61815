"""What every image baseline shares: the competition's uint8 tensors (``harness.load``) as the
data, a held-out slice of public train for validation (one training run per trial, scored every
epoch for pruning), and :class:`ImageModel`, the estimator that wraps the training engine.

A baseline file gives a network factory, its recipe defaults and its search space; this module
turns them into a :class:`baselines.Baseline` (:func:`image_baseline`). Any timm architecture
works by name (``--model timm:convnext_atto``); nothing is ever downloaded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import fields, replace
from typing import TYPE_CHECKING, Any

import numpy as np
from harness.baselines import Baseline, SpaceFn, declare
from harness.baselines.data import Data, split_rows

from harness.competition import Competition, Task
from harness.errors import HarnessError
from harness.metrics import Needs

if TYPE_CHECKING:
    from harness.data.loading import Images

TASKS = frozenset({Task.IMAGE_CLASSIFICATION})
HOLDOUT = 0.1  # of public train, for validation while tuning (never the local test)
CALIBRATION = 0.1  # of what a model is fitted on, for its temperature (log-loss metrics)
OPTIONS = frozenset({"device", "checkpoint", "compile", "image_size", "progress", "minutes"})
_FITTED = [0]  # training runs started in this process: the first one's budget counts start-up

#: ``make_net(classes, sample, checkpoint) -> torch.nn.Module``; ``sample`` is a few thousand
#: training images (uint8 N×H×W×C) for data-dependent initialisation.
NetFactory = Callable[[int, np.ndarray, "str | None"], Any]


def load_data(comp: Competition, images: Images) -> Data:
    return Data(
        x_train=images.x_train,
        y_train=np.asarray(images.y_train, dtype=np.int64),
        x_test=images.x_test,
        test_ids=images.test_ids,
        columns=images.classes,
        labels=images.classes if _needs_labels(comp) else None,
    )


def _needs_labels(comp: Competition) -> bool:
    """Whether a submission holds class names (CIFAR-10) rather than a probability."""
    return comp.metric.needs not in (Needs.PROBABILITIES, Needs.FINITE)


class ImageModel:
    """A network and a training recipe as an estimator: ``fit(x, y, rows=…, valid=…,
    report=…)`` trains on ``x[rows]`` and reports probabilities on ``x[valid]`` per epoch;
    ``predict_proba(x)`` applies test-time augmentation and, for log-loss metrics, the
    temperature fitted on a calibration slice held out of the training rows."""

    def __init__(
        self,
        make_net: NetFactory,
        recipe: Any,
        classes: int,
        *,
        device: str | None = None,
        checkpoint: str | None = None,
        calibrate: bool = False,
        seed: int = 0,
        progress: Callable[[str], None] | None = None,
        minutes: float | None = None,
    ) -> None:
        from harness.baselines.vision.engine import device_of

        self.make_net, self.recipe, self.classes = make_net, recipe, classes
        self.device = device_of(device)
        self.checkpoint, self.calibrate, self.seed = checkpoint, calibrate, seed
        self.progress = progress
        self.temperature = 1.0
        self.train_seconds = 0.0
        self.chunk_ = 1000
        self.record: dict[str, Any] = {}  # how the run went: logged with its trial
        self.minutes = minutes  # the run's time budget (None: the recipe's epochs)
        self.will_predict = 0  # images the caller predicts after fit (set by the scheme)

    def fit(
        self,
        x: np.ndarray,
        y: np.ndarray,
        *,
        rows: np.ndarray | None = None,
        valid: np.ndarray | None = None,
        report: Callable[[int, np.ndarray], None] | None = None,
    ) -> ImageModel:
        from harness.baselines.vision import engine

        rows = np.arange(len(x)) if rows is None else np.asarray(rows)
        held: np.ndarray | None = None
        if self.calibrate:
            rows, held = split_rows(rows, np.asarray(y), CALIBRATION, self.seed + 1)
        rng = np.random.default_rng(self.seed)
        sample = np.asarray(x[np.sort(rng.choice(rows, min(len(rows), 5000), replace=False))])
        net = self.make_net(self.classes, sample, self.checkpoint)
        budget: dict[str, Any] = {}
        if self.minutes is not None:
            from harness.baselines.vision.engine.budget import start_up_seconds

            budget = {
                "budget": self.minutes * 60,
                "spent": start_up_seconds() if _FITTED[0] == 0 else 0.0,  # the CLI's start-up
                "final_images": self.will_predict + (0 if held is None else len(held)),
            }
        _FITTED[0] += 1
        trained = engine.train(
            net,
            x,
            y,
            self.recipe,
            device=self.device,
            seed=self.seed,
            rows=rows,
            valid_rows=valid,
            report=report,
            progress=self.progress,
            **budget,
        )
        self.model_, self.train_seconds = trained.model, trained.seconds
        self.recipe = trained.recipe  # a time budget may have lowered its test-time views
        self.chunk_ = trained.eval_chunk
        self.record = {
            **getattr(trained.model, "record", {}),  # a pretrained net's weight file
            "precision": trained.precision,
            "micro_batch": trained.micro_batch,
            "eval_chunk": trained.eval_chunk,
        }
        if trained.plan is not None:  # what the run did with its --minutes
            self.record |= {
                "minutes": self.minutes,
                "budget_epochs": round(trained.plan.epochs, 3),
                "budget_steps": trained.plan.total_steps,
                "budget_step_s": round(trained.plan.step_seconds, 4),
                "budget_start_s": round(budget["spent"], 1),
                "budget_tta": trained.recipe.tta,
            }
        if held is not None:
            logits = engine.predict_logits(
                self.model_, x, self.recipe, device=self.device, rows=held, batch_size=self.chunk_
            )
            self.temperature = engine.fit_temperature(logits, np.asarray(y)[held])
        return self

    def predict_proba(self, x: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        from harness.baselines.vision.engine import predict_proba

        return predict_proba(
            self.model_,
            x,
            self.recipe,
            device=self.device,
            rows=rows,
            temperature=self.temperature,
            batch_size=self.chunk_,
        )

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.asarray(self.predict_proba(x).argmax(1))


def image_baseline(
    name: str,
    make_net: NetFactory,
    defaults: dict[str, Any],
    space: SpaceFn,
    summary: str,
    *,
    requires: tuple[str, ...] = ("torch",),
) -> Baseline:
    """A :class:`Baseline` from a network factory, declared in the factory's module (its
    source file); params are :class:`engine.Recipe` fields. :func:`baselines.add` registers
    it."""

    def build(
        params: dict[str, Any],
        comp: Competition,
        columns: Any,
        seed: int,
        *,
        device: str | None = None,
        checkpoint: str | None = None,
        compile: bool | None = None,
        image_size: int | None = None,  # used when loading, not here
        progress: Callable[[str], None] | None = None,
        minutes: float | None = None,
    ) -> ImageModel:
        recipe = make_recipe(params)
        use_compile = recipe.compile if compile is None else compile
        return ImageModel(
            make_net,
            replace(recipe, compile=use_compile),
            len(columns),
            device=device,
            checkpoint=checkpoint,
            calibrate=not _needs_labels(comp),
            seed=seed,
            progress=progress,
            minutes=minutes,
        )

    return declare(
        name,
        build,
        module=make_net.__module__,
        defaults=defaults,
        space=space,
        summary=summary,
        holdout=HOLDOUT,
        options=OPTIONS,
        requires=requires,
        extra="vision",
    )


def make_recipe(params: dict[str, Any]) -> Any:
    from harness.baselines.vision.engine import Recipe

    known = {f.name for f in fields(Recipe)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise HarnessError(f"unknown training setting(s) {', '.join(unknown)}")
    return Recipe(**params)


class Pixels:
    """The first step of the classical image baselines (scikit-learn pipelines): uint8 images
    ``(n, h, w, c)`` as rows of ``h·w·c`` pixels in [0, 1], keeping one channel when the
    training images are grey (three equal channels, as digits are stored). ``unit_width``
    scales them so that scikit-learn's "scale" RBF width, 1 / (features · variance), is 1 on
    the training rows: an SVC's ``gamma`` is then a multiple of it, one range for any size."""

    def __init__(self, unit_width: bool = False) -> None:
        self.unit_width = unit_width
        self.grey_, self.factor_ = False, 1.0 / 255

    def get_params(self, deep: bool = True) -> dict[str, Any]:  # for sklearn.clone
        return {"unit_width": self.unit_width}

    def set_params(self, **params: Any) -> Pixels:
        self.unit_width = params.get("unit_width", self.unit_width)
        return self

    def fit(self, x: Any, y: Any = None) -> Pixels:
        x = np.asarray(x)
        self.grey_ = x.ndim == 4 and x.shape[-1] == 3 and bool((x[..., :1] == x).all())
        self.factor_ = 1.0 / 255
        if self.unit_width:
            rows = self._rows(x)
            spread = rows.shape[1] * float(rows.var())
            self.factor_ /= np.sqrt(spread) if spread > 0 else 1.0
        return self

    def transform(self, x: Any) -> np.ndarray:
        return self._rows(np.asarray(x)) * np.float32(self.factor_ * 255)

    def _rows(self, x: np.ndarray) -> np.ndarray:
        if self.grey_:
            x = x[..., 0]
        return x.reshape(len(x), -1).astype(np.float32) / 255

    def fit_transform(self, x: Any, y: Any = None) -> np.ndarray:
        return self.fit(x, y).transform(x)
