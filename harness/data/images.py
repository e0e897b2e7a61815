"""The public layout every image competition shares, and its tensor cache::

    public/<id>/train/<id>.<ext>         one file per labelled image, named by its id
    public/<id>/test/<id>.<ext>          one file per test image
    public/<id>/train.csv                id,label
    public/<id>/sample_submission.csv    id,<target>
    public/<id>/tensors/<split>_<N>px.npy  uint8 (count, N, N, 3) in id order, memory-mappable

Ids are 1..n in a seeded random order, so an id says nothing about the label or the
publisher's file name. The tensors for the competition's native size are written when it is
prepared; other sizes (``harness.load("dogs-vs-cats", size=128)``) once, on first use.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.competition import Competition
from harness.data.writers import write_answers, write_csv, write_sample_submission

TENSORS = "tensors"


@dataclass(frozen=True)
class ImageSet:
    """Images of one split: encoded files (``bytes``, kept as they are) or pixels (uint8
    ``(n, h, w, 3)``, written as PNG), and their label indices."""

    images: Sequence[bytes] | np.ndarray
    labels: np.ndarray
    ext: str  # ".png", ".jpg"


def prepare_images(
    comp: Competition,
    public: Path,
    private: Path,
    *,
    train: ImageSet,
    test: ImageSet,
    label: Callable[[np.ndarray], Any],
    sample_value: Any,
) -> None:
    """Write both splits in the shared layout; ``label`` maps label indices to the values
    ``train.csv`` and the answers hold (class names, or 0/1)."""
    import pandas as pd

    rng = np.random.default_rng(comp.seed)
    for split, images in (("train", train), ("test", test)):
        order = rng.permutation(len(images.labels))  # id k + 1 is image order[k]
        ids = np.arange(1, len(order) + 1)
        labels = images.labels[order]
        _write_files(public / split, ids, images, order)
        frame = pd.DataFrame({comp.id_column: ids, comp.target_columns[0]: label(labels)})
        if split == "train":
            write_csv(frame, public / "train.csv")
            np.save(public / TENSORS / "train_labels.npy", labels.astype(np.int64))
        else:
            write_answers(private, frame, comp, stratify=labels)
            write_sample_submission(public, ids, comp, sample_value)
        if isinstance(images.images, np.ndarray):
            size = images.images.shape[1]
            _save_npy(public / TENSORS / f"{split}_{size}px.npy", images.images[order])


def tensors(public: Path, split: str, size: int, ext: str) -> np.ndarray:
    """The ``split`` images at ``size`` px, memory-mapped; built from the files on first use."""
    path = public / TENSORS / f"{split}_{size}px.npy"
    if not path.is_file():
        files = sorted((public / split).glob(f"*{ext}"), key=lambda p: int(p.stem))
        _save_npy(path, _decode_all(files, size))
    return np.load(path, mmap_mode="r")


def decode(data: bytes, size: int | None = None) -> np.ndarray:
    """RGB pixels of an encoded image, resized to ``size``×``size`` if given."""
    from PIL import Image

    with Image.open(io.BytesIO(data)) as file:
        if size is None:
            return np.asarray(file.convert("RGB"), dtype=np.uint8)
        file.draft("RGB", (size, size))  # JPEG: decode at a reduced scale when it can
        img = file.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
        return np.asarray(img, dtype=np.uint8)


def readable(data: bytes) -> bool:
    """Whether ``data`` decodes as an image (zero-byte and truncated files do not)."""
    from PIL import Image, UnidentifiedImageError

    if not data:
        return False
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.draft("RGB", (img.width // 8 or 1, img.height // 8 or 1))
            img.load()
        return True
    except (UnidentifiedImageError, OSError, ValueError):
        return False


# ---------------------------------------------------------------------------------------------


def _write_files(folder: Path, ids: np.ndarray, images: ImageSet, order: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder.parent / TENSORS).mkdir(exist_ok=True)
    if not isinstance(images.images, np.ndarray):
        for i, k in zip(ids, order, strict=True):
            (folder / f"{i}{images.ext}").write_bytes(images.images[k])
        return
    pixels = images.images
    chunks = np.array_split(np.arange(len(ids)), max(1, min(os.cpu_count() or 1, 8)))
    jobs = [(folder, ids[c], pixels[order[c]]) for c in chunks if len(c)]
    if len(jobs) == 1:
        _write_pngs(*jobs[0])
        return
    from harness.files import process_pool

    with process_pool(len(jobs)) as pool:
        list(pool.map(_write_pngs, *zip(*jobs, strict=True)))


def _write_pngs(folder: Path, ids: np.ndarray, pixels: np.ndarray) -> None:
    for i, img in zip(ids, pixels, strict=True):
        (folder / f"{i}.png").write_bytes(encode_png(img))


def encode_png(pixels: np.ndarray, level: int = 1) -> bytes:
    """A minimal RGB PNG (8-bit, no filter, zlib ``level``). Three times faster than PIL's
    ``save`` for 32×32 images, whose cost is all per-call overhead: 60,000 of them are CIFAR-10."""
    height, width, _ = pixels.shape
    rows = np.zeros((height, width * 3 + 1), dtype=np.uint8)  # each row: filter byte 0, RGB…
    rows[:, 1:] = pixels.reshape(height, width * 3)

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit truecolour
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows.tobytes(), level))
        + chunk(b"IEND", b"")
    )


def _decode_all(files: list[Path], size: int) -> np.ndarray:
    out = np.empty((len(files), size, size, 3), dtype=np.uint8)
    for n, path in enumerate(files):
        out[n] = decode(path.read_bytes(), size)
    return out


def _save_npy(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.save(f, np.ascontiguousarray(array))
    tmp.replace(path)
