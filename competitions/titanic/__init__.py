"""Titanic: predict who survived the sinking (Kaggle ``titanic``)."""

from __future__ import annotations

from pathlib import Path

from harness.competition import Competition, Task
from harness.data.kit import prepare_from_labelled_train
from harness.metrics import ACCURACY

from .features import add_features, group_survival

HERE = Path(__file__).parent

# 20% of Kaggle's 891 labelled passengers become the local test (179 rows, ~90 public and ~90
# private): Kaggle's own test is 418 rows, but every row taken from train is one fewer to learn
# from, and 712 training rows keep the usual models' accuracy close to what they get on Kaggle.
TEST_SIZE = 0.2


def prepare(comp: Competition, raw: Path, public: Path, private: Path) -> None:
    prepare_from_labelled_train(comp, raw, public, private, test_size=TEST_SIZE)


COMPETITION = Competition(
    id="titanic",
    title="Titanic - Machine Learning from Disaster",
    task=Task.TABULAR_CLASSIFICATION,
    metric=ACCURACY,
    id_column="PassengerId",
    target_columns=("Survived",),
    labels=(0, 1),
    prepare=prepare,
    description=(HERE / "description.md").read_text(encoding="utf-8"),
    embedded_raw=HERE / "raw",
    kaggle_slug="titanic",
    raw_hint="Kaggle's titanic.zip (train.csv, test.csv, gender_submission.csv)",
    features=add_features,
    target_features=group_survival,
)
