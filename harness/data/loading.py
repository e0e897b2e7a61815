"""One-line loaders: ``harness.load("titanic")`` → DataFrames; ``harness.load("cifar10")`` →
uint8 arrays ready for torch or sklearn. Only public files are read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from harness.competition import Competition, Task
from harness.settings import Settings

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class Tables:
    """A tabular or text competition: the public CSVs as DataFrames."""

    train: pd.DataFrame
    test: pd.DataFrame
    sample_submission: pd.DataFrame


@dataclass(frozen=True)
class Images:
    """An image competition: ``x_*`` are uint8 ``(n, size, size, 3)``, memory-mapped, in id
    order; ``y_train`` holds class indices into ``classes``; ``test_ids`` match ``x_test``."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    train_ids: np.ndarray
    test_ids: np.ndarray
    classes: tuple[str, ...]
    sample_submission: pd.DataFrame


def load(comp: Competition, settings: Settings, *, size: int | None = None) -> Tables | Images:
    """The public data of a prepared competition; ``size`` picks the image size (pixels)."""
    import pandas as pd

    from harness.data.images import tensors
    from harness.data.preparation import SAMPLE_SUBMISSION, read_manifest

    read_manifest(comp, settings)  # raises NotPrepared
    public = settings.public_dir(comp.id)
    sample = pd.read_csv(public / SAMPLE_SUBMISSION)
    if comp.task is not Task.IMAGE_CLASSIFICATION:
        return Tables(pd.read_csv(public / "train.csv"), pd.read_csv(public / "test.csv"), sample)
    if comp.images is None:  # a bug in the declaration, not a user mistake
        raise RuntimeError(f"{comp.id}: an image competition without an ImageSpec")
    size, ext = size or comp.images.size, comp.images.ext
    y_train = np.load(public / "tensors" / "train_labels.npy")
    with open(public / "train.csv", encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split(",")
    if comp.id_column in header:
        train_ids = pd.read_csv(public / "train.csv", usecols=[comp.id_column])[comp.id_column]
    else:  # a pixel table (Kaggle's digit-recognizer): the id is the row number, from 1
        train_ids = pd.Series(np.arange(1, len(y_train) + 1))
    classes = tuple(str(c) for c in comp.labels) if comp.labels else ("0", "1")
    return Images(
        x_train=tensors(public, "train", size, ext),
        y_train=y_train,
        x_test=tensors(public, "test", size, ext),
        train_ids=train_ids.to_numpy(),
        test_ids=sample[comp.id_column].to_numpy(),
        classes=classes,
        sample_submission=sample,
    )
