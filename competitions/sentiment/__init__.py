"""Movie-review sentiment: is an IMDB review positive? (Kaggle ``word2vec-nlp-tutorial``,
"Bag of Words Meets Bags of Popcorn", scored with ROC AUC.)"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from harness.competition import Competition, Download, Task
from harness.data.kit import (
    RawDataError,
    walk_raw,
    write_answers,
    write_csv,
    write_sample_submission,
)
from harness.metrics import ACCURACY_AT_HALF, ROC_AUC

HERE = Path(__file__).parent
REVIEW = re.compile(r"(?:^|/)(train|test)/(pos|neg)/(\d+)_(\d+)\.txt$")


def prepare(comp: Competition, raw: Path, public: Path, private: Path) -> None:
    import pandas as pd

    rows: dict[str, list[tuple[str, int, str]]] = {"train": [], "test": []}
    for name, data in walk_raw(raw, lambda n: bool(REVIEW.search(n))):
        found = REVIEW.search(name)
        assert found is not None
        split, polarity, number, rating = found.groups()
        rows[split].append((f"{number}_{rating}", int(polarity == "pos"), data.decode("utf-8")))
    if not rows["train"] or not rows["test"]:
        raise RawDataError(f"sentiment: no reviews in {raw}; expected {comp.raw_hint}")

    rng = np.random.default_rng(comp.seed)
    frames = {}
    for split, items in rows.items():
        items.sort()  # the walk's order differs between the archive and an unpacked tree
        frame = pd.DataFrame(items, columns=["kaggle_id", "sentiment", "review"])
        frames[split] = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    train, test = frames["train"], frames["test"]
    # Train keeps Kaggle's "<id>_<rating>" ids; test ids are 1..n, revealing no rating.
    write_csv(
        train.rename(columns={"kaggle_id": "id"})[["id", "sentiment", "review"]],
        public / "train.csv",
    )
    test["id"] = np.arange(1, len(test) + 1)
    write_csv(test[["id", "review"]], public / "test.csv")
    write_answers(private, test, comp, stratify=test["sentiment"].to_numpy())
    write_sample_submission(public, test["id"], comp, 0.5)


COMPETITION = Competition(
    id="sentiment",
    title="Bag of Words Meets Bags of Popcorn (IMDB movie reviews)",
    task=Task.TEXT_CLASSIFICATION,
    metric=ROC_AUC,
    extra_metrics=(ACCURACY_AT_HALF,),
    id_column="id",
    target_columns=("sentiment",),
    prepare=prepare,
    description=(HERE / "description.md").read_text(encoding="utf-8"),
    download=Download(
        url="https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
        filename="aclImdb_v1.tar.gz",
        sha256="c40f74a18d3b61f90feba1e17730e0d38e8b97c05fde7008942e91923d1658fe",
        size=84_125_825,
    ),
    extract_raw=False,
    raw_hint=(
        "Stanford's aclImdb_v1.tar.gz (aclImdb/{train,test}/{pos,neg}/ID_RATING.txt) or that "
        "tree unpacked"
    ),
    text_column="review",
)
