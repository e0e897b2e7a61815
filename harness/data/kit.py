"""The competition authors' toolkit: everything a competition's ``prepare(comp, raw, public,
private)`` needs, in one module whose names stay stable.

A competition is a :class:`~harness.competition.Competition` whose ``prepare`` reads the raw
data in ``raw`` (a folder: an archive given with ``--raw`` is unpacked there first) and writes
the participants' files into ``public`` and ``private/answers.csv`` (id, targets, ``Usage``).
Harness then checks the layout, writes ``description.md``, hashes every file into the manifest
and moves both folders into place. Two layouts cover what publishers and teachers have:

- :func:`prepare_from_labelled_train`: only a labelled ``train.csv`` (Kaggle's own test labels
  are secret), so a seeded, stratified share of it becomes the local test. Titanic and House
  Prices do this.
- :func:`prepare_from_split`: a labelled ``train.csv``, an unlabelled ``test.csv`` and the test
  labels in a file of their own (``test_labels.csv``: id and targets), what a teacher hosting a
  class competition holds.

Both write ``train.csv``, ``test.csv``, ``sample_submission.csv`` and the answers with a seeded
public/private split of the test rows, stratified on the target (:func:`strata`). The pieces
are here too, for other layouts: :func:`find_file` and :func:`walk_raw` read the raw data,
:func:`write_csv`, :func:`write_answers`, :func:`write_sample_submission` write, and
:func:`prepare_images` writes the image layout from an :class:`ImageSet` (and
:func:`prepare_pixel_tables` Kaggle's ``label,pixel0,…`` tables of grey images; :func:`read_idx`
reads MNIST's IDX files). Raise
:class:`RawDataError` for raw data that is not what ``comp.raw_hint`` says.

Cells are kept as the text the publisher wrote (read with ``dtype=str``), so the public files
hold the same values as the publisher's.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.competition import Competition
from harness.data.images import (
    ImageSet,
    decode,
    prepare_images,
    prepare_pixel_tables,
    read_idx,
    readable,
    rgb,
)
from harness.data.sources import find_file, walk_raw
from harness.data.writers import assign_usage, write_answers, write_csv, write_sample_submission
from harness.errors import RawDataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ImageSet",
    "RawDataError",
    "assign_usage",
    "decode",
    "default_prediction",
    "find_file",
    "prepare_from_labelled_train",
    "prepare_from_split",
    "prepare_images",
    "prepare_pixel_tables",
    "read_idx",
    "read_table",
    "readable",
    "rgb",
    "split_labelled",
    "strata",
    "walk_raw",
    "write_answers",
    "write_csv",
    "write_sample_submission",
]


def prepare_from_labelled_train(
    comp: Competition,
    raw: Path,
    public: Path,
    private: Path,
    *,
    test_size: float,
    train: str = "train.csv",
    extra_files: Sequence[str] = (),
) -> None:
    """Split the raw labelled ``train``: ``test_size`` of its rows become the local test.

    Classification splits are stratified on the label; regression splits on deciles of the
    target, so both halves see the same range of values. ``extra_files`` are copied to
    ``public`` as they are (a data description, say).
    """
    from sklearn.model_selection import train_test_split

    frame = read_table(comp, raw, train, comp.submission_columns)
    target = comp.target_columns[0]
    kept, held = train_test_split(
        frame,
        test_size=test_size,
        random_state=comp.seed,
        stratify=strata(frame[target], comp),
    )
    _write_split(comp, raw, public, private, kept, held, extra_files)


def prepare_from_split(
    comp: Competition,
    raw: Path,
    public: Path,
    private: Path,
    *,
    train: str = "train.csv",
    test: str = "test.csv",
    labels: str = "test_labels.csv",
    extra_files: Sequence[str] = (),
) -> None:
    """A labelled ``train``, an unlabelled ``test`` and its ``labels`` apart (id and target
    columns): every test row must have exactly one label, and no label an unknown id."""
    train_frame = read_table(comp, raw, train, comp.submission_columns)
    test_frame = read_table(comp, raw, test, (comp.id_column,))
    answers = read_table(comp, raw, labels, comp.submission_columns)
    ids = test_frame[comp.id_column]
    doubled = answers[comp.id_column][answers[comp.id_column].duplicated()]
    unknown = sorted(set(answers[comp.id_column]) - set(ids))
    unlabelled = sorted(set(ids) - set(answers[comp.id_column]))
    for what, bad in (("twice", list(doubled)), ("unknown", unknown), ("unlabelled", unlabelled)):
        if bad:
            shown = ", ".join(map(str, bad[:3]))
            raise RawDataError(
                f"{labels}: {len(bad):,} {what} id(s) in the test labels (first: {shown})"
            )
    test_frame = test_frame.drop(columns=list(comp.target_columns), errors="ignore")
    held = test_frame.merge(answers[list(comp.submission_columns)], on=comp.id_column)
    _write_split(comp, raw, public, private, train_frame, held, extra_files)


def read_table(comp: Competition, raw: Path, name: str, required: Sequence[str]) -> pd.DataFrame:
    """The raw CSV ``name`` (found anywhere under ``raw``) as text cells, with its ``required``
    columns checked."""
    import pandas as pd

    source = find_file(raw, name, comp)
    frame = pd.read_csv(source, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise RawDataError(
            f"{source.name}: missing column(s) {', '.join(map(repr, missing))}"
            f" — is this the '{comp.id}' data? expected {comp.raw_hint}"
        )
    return frame


def split_labelled(comp: Competition, labels: Any, *, test_size: float | int) -> tuple[Any, Any]:
    """Row numbers of labelled items (images, say) split into the local train and test:
    seeded, stratified as :func:`strata` says, ``test_size`` a share or a count; each sorted."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    train_rows, test_rows = train_test_split(
        np.arange(len(labels)),
        test_size=test_size,
        random_state=comp.seed,
        stratify=strata(labels, comp),
    )
    return np.sort(train_rows), np.sort(test_rows)


def strata(values: Any, comp: Competition) -> Any:
    """What a split of ``comp``'s rows is stratified on: the label for classification, the
    target's deciles for regression."""
    import pandas as pd

    series = pd.Series(values)
    if comp.task.is_classification:
        return series.to_numpy()
    return pd.qcut(pd.to_numeric(series), q=10, labels=False, duplicates="drop").to_numpy()


def default_prediction(train_target: Any, comp: Competition) -> Any:
    """The sample submission's value: the most frequent label, or the median target."""
    import pandas as pd

    series = pd.Series(train_target)
    if comp.task.is_classification:
        return series.value_counts().sort_index().idxmax()
    median = float(pd.to_numeric(series).median())
    return int(median) if median.is_integer() else median


def _write_split(
    comp: Competition,
    raw: Path,
    public: Path,
    private: Path,
    train: pd.DataFrame,
    test: pd.DataFrame,
    extra_files: Sequence[str],
) -> None:
    """The public train and test (test without its targets, both in id order), the answers and
    the sample submission."""

    def by_id(frame: pd.DataFrame) -> pd.DataFrame:
        return frame.sort_values(comp.id_column, key=_id_key)

    train, test = by_id(train), by_id(test)
    target = comp.target_columns[0]
    write_csv(train, public / "train.csv")
    write_csv(test.drop(columns=list(comp.target_columns)), public / "test.csv")
    write_answers(private, test, comp, stratify=strata(test[target], comp))
    write_sample_submission(
        public, test[comp.id_column], comp, default_prediction(train[target], comp)
    )
    for name in extra_files:
        shutil.copyfile(find_file(raw, name, comp), public / name)


def _id_key(ids: Any) -> Any:
    import pandas as pd

    numeric = pd.to_numeric(pd.Series(ids), errors="coerce")
    return numeric if numeric.notna().all() else ids
