"""Dogs vs. Cats: the probability that a photo shows a dog (Kaggle ``dogs-vs-cats``, scored
like the "Redux: Kernels Edition" with log loss)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from harness.competition import Competition, ImageSpec, Task
from harness.data.kit import ImageSet, RawDataError, prepare_images, readable, walk_raw
from harness.metrics import ACCURACY_AT_HALF, LOG_LOSS

HERE = Path(__file__).parent
CLASSES = ("cat", "dog")  # label 1 = dog: submissions give P(dog)
BY_NAME = re.compile(r"(?:^|/)(cat|dog)\.\d+\.(?:jpe?g|png)$", re.IGNORECASE)
BY_FOLDER = re.compile(r"(?:^|/)(cat|dog)s?/[^/]+\.(?:jpe?g|png)$", re.IGNORECASE)

# A quarter of the labelled photos become the local test (2,000 of 8,000 in the compact copy,
# 6,250 of Kaggle's 25,000): Kaggle's own test1/ has no labels, and a quarter keeps the log
# loss of each leaderboard half steady to about ±0.01 while leaving most photos to learn from.
TEST_SIZE = 0.25


def _label(name: str) -> int | None:
    if "test1/" in name.lower():  # Kaggle's unlabelled test set
        return None
    found = BY_NAME.search(name) or BY_FOLDER.search(name)
    return None if found is None else CLASSES.index(found.group(1).lower())


def prepare(comp: Competition, raw: Path, public: Path, private: Path) -> list[str]:
    from sklearn.model_selection import train_test_split

    photos: list[tuple[str, bytes, int]] = []
    for name, data in walk_raw(raw, lambda n: _label(n) is not None):
        label = _label(name)
        assert label is not None
        photos.append((name, data, label))
    if not photos:
        raise RawDataError(f"dogs-vs-cats: no labelled photos in {raw}; expected {comp.raw_hint}")
    photos.sort(key=lambda p: p[0])
    bad = [name for name, data, _ in photos if not readable(data)]
    if bad:
        photos = [p for p in photos if p[0] not in set(bad)]
    labels = np.array([label for _, _, label in photos])
    train_rows, test_rows = train_test_split(
        np.arange(len(photos)),
        test_size=TEST_SIZE,
        random_state=comp.seed,
        stratify=labels,
    )

    def subset(rows: np.ndarray) -> ImageSet:
        rows = np.sort(rows)
        return ImageSet([photos[r][1] for r in rows], labels[rows], ".jpg")

    prepare_images(
        comp,
        public,
        private,
        train=subset(train_rows),
        test=subset(test_rows),
        label=lambda y: y,
        sample_value=0.5,
    )
    notes = [
        f"{len(photos):,} labelled photos: {len(train_rows):,} train, {len(test_rows):,} test"
    ]
    if bad:
        shown = ", ".join(bad[:10]) + (", …" if len(bad) > 10 else "")
        notes.append(f"skipped {len(bad)} unreadable or empty image(s): {shown}")
    return notes


COMPETITION = Competition(
    id="dogs-vs-cats",
    title="Dogs vs. Cats",
    task=Task.IMAGE_CLASSIFICATION,
    metric=LOG_LOSS,
    extra_metrics=(ACCURACY_AT_HALF,),
    id_column="id",
    target_columns=("label",),
    prepare=prepare,
    description=(HERE / "description.md").read_text(encoding="utf-8"),
    kaggle_slug="dogs-vs-cats",
    extract_raw=False,
    raw_hint=(
        "Kaggle's dogs-vs-cats.zip (holding train.zip), its train.zip (train/cat.0.jpg, …), "
        "or a folder of cat/ and dog/ photos"
    ),
    images=ImageSpec(size=128, ext=".jpg"),
)
