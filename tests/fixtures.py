"""Tiny raw archives in the publishers' real formats, built in the tests (never downloaded)."""

from __future__ import annotations

import gzip
import io
import pickle
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

CIFAR_CLASSES = "airplane automobile bird cat deer dog frog horse ship truck".split()  # noqa: SIM905


def _tar_gz(path: Path, members: dict[str, bytes]) -> Path:
    with (
        open(path, "wb") as raw,
        gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz,
        tarfile.open(fileobj=gz, mode="w") as tar,
    ):
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _zip(path: Path | io.BytesIO, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def cifar_archive(
    folder: Path, *, per_class: tuple[int, int] = (2, 2), seed: int = 0, learnable: bool = False
) -> Path:
    """``cifar-10-python.tar.gz``: ``per_class`` images per class in each data batch and in
    the test batch, pickled the way the publisher does (bytes keys). Random pixels, or with
    ``learnable`` a smooth per-class pattern under noise that a small network can learn."""
    rng = np.random.default_rng(seed)
    members = {}
    batches = [(f"data_batch_{i}", per_class[0]) for i in range(1, 6)]
    patterns = _patterns(rng, 10, 32)
    for name, n in [*batches, ("test_batch", per_class[1])]:
        labels = [c for c in range(10) for _ in range(n)]
        data = rng.integers(0, 256, (len(labels), 3072), dtype=np.uint8)
        if learnable:
            noise = rng.normal(0, 40, (len(labels), 3, 32, 32))
            pixels = patterns[labels].transpose(0, 3, 1, 2) + noise  # rows are R, G, B planes
            data = np.clip(pixels, 0, 255).astype(np.uint8).reshape(len(labels), 3072)
        batch = {
            b"batch_label": name.encode(),
            b"labels": labels,
            b"data": data,
            b"filenames": [f"img_{i}.png".encode() for i in range(len(labels))],
        }
        members[f"cifar-10-batches-py/{name}"] = pickle.dumps(batch, protocol=2)
    meta = {b"label_names": [c.encode() for c in CIFAR_CLASSES], b"num_cases_per_batch": 20}
    members["cifar-10-batches-py/batches.meta"] = pickle.dumps(meta, protocol=2)
    members["cifar-10-batches-py/readme.html"] = b"<html></html>"
    return _tar_gz(folder / "cifar-10-python.tar.gz", members)


def _patterns(rng: np.random.Generator, classes: int, size: int) -> np.ndarray:
    """One smooth colour pattern per class (classes × size × size × 3, 0–255)."""
    coarse = rng.uniform(0, 255, (classes, 4, 4, 3))
    return coarse.repeat(size // 4, axis=1).repeat(size // 4, axis=2)


def jpeg(seed: int, size: int = 24) -> bytes:
    from PIL import Image

    pixels = np.random.default_rng(seed).integers(0, 256, (size, size + 4, 3), dtype=np.uint8)
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=80)
    return out.getvalue()


def dogs_archive(folder: Path, *, per_class: int = 8, broken: bool = True) -> Path:
    """Kaggle's ``dogs-vs-cats.zip``: ``train.zip`` (train/cat.N.jpg, train/dog.N.jpg) and an
    unlabelled ``test1.zip``; with ``broken``, one empty and one truncated photo too."""
    photos = {
        f"train/{cls}.{i}.jpg": jpeg(100 * k + i)
        for k, cls in enumerate(("cat", "dog"))
        for i in range(per_class)
    }
    if broken:
        photos["train/cat.900.jpg"] = b""
        photos["train/dog.901.jpg"] = jpeg(7)[:40]
    train, test1 = io.BytesIO(), io.BytesIO()
    _zip(train, photos)
    _zip(test1, {f"test1/{i}.jpg": jpeg(1000 + i) for i in range(1, 4)})
    path = folder / "dogs-vs-cats.zip"
    _zip(
        path,
        {
            "train.zip": train.getvalue(),
            "test1.zip": test1.getvalue(),
            "sampleSubmission.csv": b"id,label\n1,0.5\n",
        },
    )
    return path


def imdb_archive(folder: Path, *, per_class: int = 6) -> Path:
    """``aclImdb_v1.tar.gz`` with labelled train/test reviews plus the parts the harness
    ignores (train/unsup, *.feat, imdb.vocab, urls_*.txt)."""
    rng = np.random.default_rng(0)
    good = ["great", "wonderful", "moving", "superb"]
    bad = ["awful", "boring", "dull", "terrible"]
    members = {"aclImdb/README": b"Large Movie Review Dataset v1.0", "aclImdb/imdb.vocab": b"the"}
    for split in ("train", "test"):
        for polarity, words, ratings in (("pos", good, (7, 10)), ("neg", bad, (1, 4))):
            for i in range(per_class):
                text = f'A "{rng.choice(words)}" film,<br /><br />{rng.choice(words)} acting.'
                rating = int(rng.integers(ratings[0], ratings[1] + 1))
                members[f"aclImdb/{split}/{polarity}/{i}_{rating}.txt"] = text.encode()
            members[f"aclImdb/{split}/urls_{polarity}.txt"] = b"http://www.imdb.com/title/x"
        members[f"aclImdb/{split}/labeledBow.feat"] = b"0 0:1"
    members["aclImdb/train/unsup/0_0.txt"] = b"unlabelled"
    return _tar_gz(folder / "aclImdb_v1.tar.gz", members)


def _idx(array: np.ndarray) -> bytes:
    """An IDX file: magic 0, 0, 0x08 (unsigned bytes), the number of dimensions; big-endian
    4-byte sizes; the values."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def digit_images(labels: list[int], seed: int, side: int = 28) -> np.ndarray:
    """Grey ``side``×``side`` images, one coarse per-digit pattern under noise (learnable)."""
    rng = np.random.default_rng(seed)
    patterns = _patterns(np.random.default_rng(99), 10, side)[..., 0]  # fixed across splits
    noise = rng.normal(0, 30, (len(labels), side, side))
    return np.clip(patterns[labels] + noise, 0, 255).astype(np.uint8)


def mnist_idx(folder: Path, *, per_class: tuple[int, int] = (3, 2), gz: bool = True) -> Path:
    """MNIST's four IDX files (``train-images-idx3-ubyte.gz`` …, gzip'd as published, or plain
    with ``gz=False``) in ``folder``: ``per_class`` images per digit in train and test."""
    folder.mkdir(parents=True, exist_ok=True)
    for split, n, seed in (("train", per_class[0], 1), ("t10k", per_class[1], 2)):
        labels = [d for _ in range(n) for d in range(10)]
        for part, array in (
            ("images-idx3", digit_images(labels, seed)),
            ("labels-idx1", np.array(labels, dtype=np.uint8)),
        ):
            data = _idx(array)
            name = f"{split}-{part}-ubyte"
            if gz:
                (folder / f"{name}.gz").write_bytes(gzip.compress(data, mtime=0))
            else:
                (folder / name).write_bytes(data)
    return folder


def digit_recognizer_zip(folder: Path, *, per_class: int = 3, test_rows: int = 7) -> Path:
    """Kaggle's ``digit-recognizer.zip``: ``train.csv`` (label, pixel0…pixel783),
    ``test.csv`` (pixels) and ``sample_submission.csv`` (ImageId,Label)."""
    import pandas as pd

    def table(images: np.ndarray) -> pd.DataFrame:
        return pd.DataFrame(images.reshape(len(images), -1)).add_prefix("pixel")

    labels = [d for _ in range(per_class) for d in range(10)]
    train = table(digit_images(labels, 3))
    train.insert(0, "label", labels)
    test = table(digit_images([0] * test_rows, 4))
    sample = pd.DataFrame({"ImageId": range(1, test_rows + 1), "Label": 0})
    path = folder / "digit-recognizer.zip"
    _zip(
        path,
        {
            name: frame.to_csv(index=False).encode()
            for name, frame in (
                ("train.csv", train),
                ("test.csv", test),
                ("sample_submission.csv", sample),
            )
        },
    )
    return path


#: A tiny raw archive per competition without embedded data.
RAW: dict[str, Callable[[Path], Path]] = {
    "cifar10": cifar_archive,
    "digit-recognizer": mnist_idx,
    "dogs-vs-cats": dogs_archive,
    "sentiment": imdb_archive,
}
