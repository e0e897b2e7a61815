"""Handwritten digits: 8×8 grey digits from scikit-learn's bundled copy of the UCI "Optical
Recognition of Handwritten Digits" set: an image competition that needs no download and trains
in seconds on any laptop's CPU."""

from __future__ import annotations

import gzip
import importlib.util
import io
from pathlib import Path

import numpy as np

from harness.competition import Competition, ImageSpec, Task
from harness.data.kit import (
    ImageSet,
    RawDataError,
    default_prediction,
    find_file,
    prepare_images,
    split_labelled,
)
from harness.metrics import ACCURACY

HERE = Path(__file__).parent
RAW_FILE = "digits.csv.gz"  # 1,797 rows: 64 pixels (0-16, row-major 8×8), then the digit
SIDE = 8
LEVELS = 16  # the publisher's grey levels: counts of set pixels in 4×4 blocks of a 32×32 bitmap

# A quarter of the 1,797 digits become the local test (450: 225 public, 225 private): one
# error moves a half's accuracy by 0.44%, so what separates the usual models (SVC ~99%, a
# small CNN ~99%, logistic regression ~97%) still shows, and 1,347 remain to learn from.
TEST_SIZE = 0.25


def _bundled() -> Path | None:
    """scikit-learn's data folder, found without importing scikit-learn (``harness list``
    stays fast): ``sklearn.datasets.load_digits`` reads the same file."""
    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "datasets" / "data"


def prepare(comp: Competition, raw: Path, public: Path, private: Path) -> list[str]:
    digits = _read(find_file(raw, RAW_FILE, comp))
    train_rows, test_rows = split_labelled(comp, digits.labels, test_size=TEST_SIZE)
    prepare_images(
        comp,
        public,
        private,
        train=digits.subset(train_rows),
        test=digits.subset(test_rows),
        label=lambda y: y,
        sample_value=default_prediction(digits.labels[train_rows], comp),
    )
    return [f"{len(digits.labels):,} digits: {len(train_rows):,} train, {len(test_rows):,} test"]


def _read(path: Path) -> ImageSet:
    try:
        with gzip.open(path, "rt", encoding="ascii") as f:
            table = np.loadtxt(io.StringIO(f.read()), delimiter=",", dtype=np.int64, ndmin=2)
    except (OSError, EOFError, UnicodeDecodeError, ValueError) as exc:
        raise RawDataError(f"{path.name}: not scikit-learn's digits table ({exc})") from exc
    if table.shape[1] != SIDE * SIDE + 1 or not len(table):
        raise RawDataError(
            f"{path.name}: expected rows of {SIDE * SIDE} pixels and a digit, got "
            f"{table.shape[1]} columns"
        )
    pixels, labels = table[:, :-1], table[:, -1]
    if pixels.min() < 0 or pixels.max() > LEVELS or not set(labels) <= set(range(10)):
        raise RawDataError(f"{path.name}: pixels must be 0-{LEVELS} and digits 0-9")
    grey = np.rint(pixels * (255 / LEVELS)).astype(np.uint8).reshape(-1, SIDE, SIDE)
    return ImageSet(grey, labels, ".png")


COMPETITION = Competition(
    id="digits",
    title="Handwritten digits (8×8, scikit-learn's UCI copy)",
    task=Task.IMAGE_CLASSIFICATION,
    metric=ACCURACY,
    id_column="id",
    target_columns=("label",),
    labels=tuple(range(10)),
    prepare=prepare,
    description=(HERE / "description.md").read_text(encoding="utf-8"),
    embedded_raw=_bundled(),
    raw_hint="a folder holding scikit-learn's digits.csv.gz (sklearn/datasets/data/)",
    images=ImageSpec(size=SIDE, ext=".png"),
)
