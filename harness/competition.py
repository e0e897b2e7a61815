"""What a competition declares. One frozen :class:`Competition` per folder in ``competitions/``."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # numpy and pandas stay out of `harness --help`
    import numpy as np
    import pandas as pd

    from harness.metrics import Metric

#: ``prepare(comp, raw, public, private)``: read the raw data in ``raw`` (a directory) and
#: write the participants' files into ``public`` and the answers into ``private``, nowhere
#: else; ``comp`` is the competition being prepared (its ids, columns, seed). It may return
#: notes for the user (e.g. which unreadable images it skipped); they are kept in the manifest
#: and printed by `harness prepare`. :mod:`harness.data.kit` has the helpers.
PrepareFn = Callable[["Competition", Path, Path, Path], "list[str] | None"]

#: ``features(frame) -> frame``: a tabular competition's feature hints, applied by the tabular
#: baselines once to the public train and test rows together (one frame, in that order, the
#: target removed; never the answers), so that counting rows (a ticket's party) sees them all.
FeaturesFn = Callable[["pd.DataFrame"], "pd.DataFrame"]

#: ``target_features(fit, y, rows) -> frame``: features of ``rows`` (one row each, same order)
#: learnt from the labelled rows ``fit`` (``y``: their target as the model learns it, e.g. the
#: log price), such as a group's survival rate. The baselines call it out-of-fold: a training
#: row's features come from the other folds' labels, a test row's from all of train, so a row
#: never sees its own label (and a test row no label of the test).
TargetFeaturesFn = Callable[["pd.DataFrame", "np.ndarray", "pd.DataFrame"], "pd.DataFrame"]

#: ``outliers(train, y) -> mask``: training rows (True) that models should not learn from;
#: they are left out of every fit, never out of a score.
OutliersFn = Callable[["pd.DataFrame", "np.ndarray"], "np.ndarray"]


@dataclass(frozen=True)
class ImageSpec:
    """How an image competition's public files are laid out: ``train/<id><ext>``, and the
    side in pixels of the tensor cache ``harness.load`` gives by default."""

    size: int  # pixels (square)
    ext: str  # ".png", ".jpg"


@dataclass(frozen=True)
class Download:
    """A publisher's official archive: fetched with resume and checked against its sha256."""

    url: str
    filename: str
    sha256: str
    size: int | None = None  # bytes, when the publisher's file size is known


class Task(enum.Enum):
    TABULAR_CLASSIFICATION = "tabular-classification"
    TABULAR_REGRESSION = "tabular-regression"
    IMAGE_CLASSIFICATION = "image-classification"
    TEXT_CLASSIFICATION = "text-classification"

    @property
    def is_classification(self) -> bool:
        return self is not Task.TABULAR_REGRESSION


@dataclass(frozen=True, kw_only=True)
class Competition:
    id: str  # Kaggle's slug: `harness submit <id>`
    title: str
    task: Task
    metric: Metric
    id_column: str
    target_columns: tuple[str, ...]
    prepare: PrepareFn
    description: str  # markdown: overview, data, and why the split sizes are what they are
    labels: tuple[Any, ...] | None = None  # the allowed predictions when the metric needs labels
    extra_metrics: tuple[Metric, ...] = ()  # shown beside the score, never used to rank
    public_fraction: float = 0.5  # share of test rows scored on the public leaderboard
    seed: int = 0  # seeds every split this competition makes
    embedded_raw: Path | None = None  # raw data shipped inside the package, if any
    kaggle_slug: str | None = None  # for `harness download` through the Kaggle API
    #: the official URL(s), preferred over the Kaggle API; several files (MNIST's four IDX
    #: archives) are all fetched into the raw folder
    download: Download | tuple[Download, ...] | None = None
    extract_raw: bool = True  # False: `prepare` gets the archive itself, to stream (walk_raw)
    raw_hint: str = ""  # what `--raw` expects, for error messages and `harness describe`
    version: int = 1  # bump when `prepare` changes its output, so old preparations are redone
    features: FeaturesFn | None = None  # tabular: feature hints for the baselines
    target_features: TargetFeaturesFn | None = None  # tabular: hints learnt from labels
    outliers: OutliersFn | None = None  # tabular: training rows not to learn from
    text_column: str | None = None  # text: the column of train/test that holds the text
    images: ImageSpec | None = None  # images: layout and default tensor size
    #: a real competition's final leaderboard (a CSV with a ``score`` column, Kaggle's as
    #: mle-bench keeps it): each submission also says where its score would have ranked there
    reference_board: Path | None = None

    def __post_init__(self) -> None:
        if not 0 < self.public_fraction < 1:
            raise ValueError(f"public_fraction must be in (0, 1), got {self.public_fraction}")
        if not self.target_columns:
            raise ValueError(f"{self.id}: at least one target column is required")
        if self.task is Task.IMAGE_CLASSIFICATION and self.images is None:
            raise ValueError(f"{self.id}: an image competition needs images=ImageSpec(...)")
        if self.task is Task.TEXT_CLASSIFICATION and self.text_column is None:
            raise ValueError(f"{self.id}: a text competition needs text_column=...")

    @property
    def submission_columns(self) -> tuple[str, ...]:
        return (self.id_column, *self.target_columns)

    @property
    def downloads(self) -> tuple[Download, ...]:
        """The official files, as a tuple (none, one or several)."""
        if self.download is None:
            return ()
        return self.download if isinstance(self.download, tuple) else (self.download,)
