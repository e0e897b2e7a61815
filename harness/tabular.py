"""Preparing Kaggle-style CSV competitions: split the labelled ``train.csv`` into a local train
and a local test, since Kaggle's own test labels are not public.

Cells are kept as the text the publisher wrote (read with ``dtype=str``), so the public files
hold the same values as Kaggle's, only in fewer rows.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

from harness.competition import Competition
from harness.errors import RawDataError
from harness.preparation import write_answers, write_csv, write_sample_submission
from harness.sources import find_file


def prepare_labelled_csv(
    comp: Competition,
    raw: Path,
    public: Path,
    private: Path,
    *,
    test_size: float,
    extra_files: Sequence[str] = (),
) -> None:
    """Split the raw ``train.csv``: ``test_size`` of its rows become the local test.

    Classification splits are stratified on the label; regression splits on deciles of the
    target, so both halves see the same range of values.
    """
    import pandas as pd
    from sklearn.model_selection import train_test_split

    source = find_file(raw, "train.csv", comp)
    frame = pd.read_csv(source, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    missing = [c for c in comp.submission_columns if c not in frame.columns]
    if missing:
        raise RawDataError(
            f"{source.name}: missing column(s) {', '.join(map(repr, missing))}"
            f" — is this the '{comp.id}' data? expected {comp.raw_hint}"
        )
    target = comp.target_columns[0]
    strata = _strata(frame[target], classification=comp.task.is_classification)
    train, test = train_test_split(
        frame, test_size=test_size, random_state=comp.seed, stratify=strata
    )
    order = lambda f: f.sort_values(comp.id_column, key=_id_key)  # noqa: E731
    train, test = order(train), order(test)

    write_csv(train, public / "train.csv")
    write_csv(test.drop(columns=list(comp.target_columns)), public / "test.csv")
    test_strata = _strata(test[target], classification=comp.task.is_classification)
    write_answers(private, test, comp, stratify=test_strata)
    write_sample_submission(
        public, test[comp.id_column], comp, _constant_prediction(train[target], comp)
    )
    for name in extra_files:
        shutil.copyfile(find_file(raw, name, comp), public / name)


def _strata(values: object, *, classification: bool) -> object:
    import pandas as pd

    series = pd.Series(values)
    if classification:
        return series.to_numpy()
    return pd.qcut(pd.to_numeric(series), q=10, labels=False, duplicates="drop").to_numpy()


def _id_key(ids: object) -> object:
    import pandas as pd

    numeric = pd.to_numeric(pd.Series(ids), errors="coerce")
    return numeric if numeric.notna().all() else ids


def _constant_prediction(train_target: object, comp: Competition) -> object:
    """The sample submission's value: the most frequent label, or the median target."""
    import pandas as pd

    series = pd.Series(train_target)
    if comp.task.is_classification:
        return series.value_counts().sort_index().idxmax()
    median = float(pd.to_numeric(series).median())
    return int(median) if median.is_integer() else median
