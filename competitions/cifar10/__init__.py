"""CIFAR-10: classify 32×32 photos into ten classes (Kaggle ``cifar-10``)."""

from __future__ import annotations

import pickle
import re
from pathlib import Path

import numpy as np

from harness.competition import Competition, Download, ImageSpec, Task
from harness.data.kit import ImageSet, RawDataError, decode, prepare_images, walk_raw
from harness.metrics import ACCURACY

HERE = Path(__file__).parent
CLASSES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
BATCH = re.compile(r"(^|/)(data_batch_[1-5]|test_batch|batches\.meta)$")
IMAGE = re.compile(r"(^|/)(train|test)/([a-z]+)/[^/]+\.(png|jpe?g)$", re.IGNORECASE)


def prepare(comp: Competition, raw: Path, public: Path, private: Path) -> None:
    train, test = _read(raw, comp)
    prepare_images(
        comp,
        public,
        private,
        train=train,
        test=test,
        label=lambda y: np.asarray(CLASSES)[y],
        sample_value=CLASSES[0],
    )


def _read(raw: Path, comp: Competition) -> tuple[ImageSet, ImageSet]:
    """The publisher's pickled batches, or ``train/<class>/*`` and ``test/<class>/*`` images."""
    batches = dict(walk_raw(raw, lambda name: bool(BATCH.search(name))))
    if batches:
        return _from_batches(batches)
    images: dict[str, list[tuple[np.ndarray, int]]] = {"train": [], "test": []}
    for name, data in walk_raw(raw, lambda name: bool(IMAGE.search(name))):
        found = IMAGE.search(name)
        assert found is not None
        split, cls = found.group(2).lower(), found.group(3).lower()
        if cls not in CLASSES:
            raise RawDataError(f"cifar10: unknown class folder '{cls}' in {name}")
        images[split].append((decode(data), CLASSES.index(cls)))
    if not images["train"] or not images["test"]:
        raise RawDataError(f"cifar10: no CIFAR-10 data in {raw}; expected {comp.raw_hint}")
    return tuple(  # type: ignore[return-value]
        ImageSet(np.stack([p for p, _ in rows]), np.array([y for _, y in rows]), ".png")
        for rows in (images["train"], images["test"])
    )


def _from_batches(batches: dict[str, bytes]) -> tuple[ImageSet, ImageSet]:
    by_name = {name.rsplit("/", 1)[-1]: data for name, data in batches.items()}
    missing = [
        n for n in (*(f"data_batch_{i}" for i in range(1, 6)), "test_batch") if n not in by_name
    ]
    if missing:
        raise RawDataError(f"cifar10: the archive lacks {', '.join(missing)}")
    if "batches.meta" in by_name:
        meta = pickle.loads(by_name["batches.meta"], encoding="bytes")
        names = tuple(n.decode() for n in meta[b"label_names"])
        if names != CLASSES:
            raise RawDataError(f"cifar10: batches.meta names {names}, expected {CLASSES}")

    def load(*names: str) -> ImageSet:
        pixels, labels = [], []
        for name in names:
            # The publisher's own pickles (trusted: only read after the user points at them).
            batch = pickle.loads(by_name[name], encoding="bytes")
            rows = np.asarray(batch[b"data"], dtype=np.uint8)  # 1024 R, 1024 G, 1024 B per row
            pixels.append(rows.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
            labels.append(np.asarray(batch[b"labels"], dtype=np.int64))
        return ImageSet(np.concatenate(pixels), np.concatenate(labels), ".png")

    return load(*(f"data_batch_{i}" for i in range(1, 6))), load("test_batch")


COMPETITION = Competition(
    id="cifar10",
    title="CIFAR-10 - Object Recognition in Images",
    task=Task.IMAGE_CLASSIFICATION,
    metric=ACCURACY,
    id_column="id",
    target_columns=("label",),
    labels=CLASSES,
    prepare=prepare,
    description=(HERE / "description.md").read_text(encoding="utf-8"),
    download=Download(
        url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        filename="cifar-10-python.tar.gz",
        sha256="6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce",
        size=170_498_071,
    ),
    extract_raw=False,
    raw_hint=(
        "the Toronto cifar-10-python.tar.gz (cifar-10-batches-py/data_batch_1..5, test_batch, "
        "batches.meta), or a folder of train/<class>/ and test/<class>/ images"
    ),
    images=ImageSpec(size=32, ext=".png"),
)
