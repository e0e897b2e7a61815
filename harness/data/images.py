"""The public layout every image competition shares, and its tensor cache::

    public/<id>/train/<id>.<ext>         one file per labelled image, named by its id
    public/<id>/test/<id>.<ext>          one file per test image
    public/<id>/train.csv                id,label
    public/<id>/sample_submission.csv    id,<target>
    public/<id>/tensors/<split>_<N>px.npy  uint8 (count, N, N, 3) in id order, memory-mappable

Ids are 1..n in a seeded random order, so an id says nothing about the label or the
publisher's file name. The tensors for the competition's native size are written when it is
prepared; other sizes (``harness.load("dogs-vs-cats", size=128)``) once, on first use.

Kaggle's pixel tables (``digit-recognizer``: MNIST as CSV) are the other layout,
:func:`prepare_pixel_tables`: ``train.csv`` (``label,pixel0,…``), ``test.csv`` (the pixels, one
row per id, in id order: Kaggle's ``ImageId`` is the row number from 1), the same tensors, no
image files. Grey images (``(n, h, w)``) are kept as RGB tensors with three equal channels, so
every image baseline takes them as they are. :func:`read_idx` reads the IDX files MNIST and
its relatives (Fashion-MNIST, KMNIST) are published in.
"""

from __future__ import annotations

import io
import os
import struct
import zlib
from collections.abc import Callable, Iterator, Sequence
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
    ``(n, h, w, 3)``, or grey ``(n, h, w)``; written as PNG), and their label indices."""

    images: Sequence[bytes] | np.ndarray
    labels: np.ndarray
    ext: str  # ".png", ".jpg"

    def subset(self, rows: np.ndarray) -> ImageSet:
        """The images at ``rows``, in that order."""
        rows = np.asarray(rows)
        if isinstance(self.images, np.ndarray):
            return ImageSet(self.images[rows], self.labels[rows], self.ext)
        return ImageSet([self.images[r] for r in rows], self.labels[rows], self.ext)


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

    for split, images, ids, order in _shuffled(comp, train, test):
        labels = images.labels[order]
        _write_files(public / split, ids, images, order)
        frame = pd.DataFrame({comp.id_column: ids, comp.target_columns[0]: label(labels)})
        if split == "train":
            write_csv(frame, public / "train.csv")
        _write_common(comp, public, private, split, images, ids, order, frame, sample_value)


def prepare_pixel_tables(
    comp: Competition,
    public: Path,
    private: Path,
    *,
    train: ImageSet,
    test: ImageSet,
    sample_value: Any,
    label_column: str = "label",
    prefix: str = "pixel",
) -> None:
    """Kaggle's pixel-table layout of grey images: ``train.csv`` holds ``label_column`` then
    ``<prefix>0…`` (row-major pixels), ``test.csv`` the pixels alone, row k being id k (from 1);
    the tensors as for :func:`prepare_images`, and no image files."""
    import pandas as pd

    for split, images, ids, order in _shuffled(comp, train, test):
        pixels = np.asarray(images.images)
        if pixels.ndim != 3:
            raise ValueError(f"pixel tables hold grey (n, h, w) images, got {pixels.shape}")
        labels = images.labels[order]
        first = (label_column,) if split == "train" else ()
        _write_pixel_csv(public / f"{split}.csv", pixels[order], prefix, first, labels)
        frame = pd.DataFrame({comp.id_column: ids, comp.target_columns[0]: labels})
        _write_common(comp, public, private, split, images, ids, order, frame, sample_value)


def read_idx(data: bytes, name: str = "IDX file") -> np.ndarray:
    """The array in an IDX file (gzip'd or not): big-endian magic ``0 0 <type> <dims>``, then
    each dimension as a 4-byte count, then the values (MNIST: uint8 images and labels)."""
    import gzip

    from harness.errors import RawDataError

    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as exc:
            raise RawDataError(f"{name}: not a readable gzip file ({exc})") from exc
    types = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] not in types or not 1 <= data[3] <= 4:
        raise RawDataError(f"{name}: not an IDX file (magic {data[:4].hex() or 'missing'})")
    dims = data[3]
    shape = struct.unpack(f">{dims}I", data[4 : 4 + 4 * dims])
    dtype = np.dtype(types[data[2]])
    body = data[4 + 4 * dims :]
    if len(body) != int(np.prod(shape)) * dtype.itemsize:
        raise RawDataError(
            f"{name}: the header says {' x '.join(map(str, shape))} values, but the file holds "
            f"{len(body) // dtype.itemsize:,}"
        )
    return np.frombuffer(body, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _shuffled(
    comp: Competition, train: ImageSet, test: ImageSet
) -> Iterator[tuple[str, ImageSet, np.ndarray, np.ndarray]]:
    """``(split, images, ids, order)``: id k + 1 is image ``order[k]``, a seeded shuffle."""
    rng = np.random.default_rng(comp.seed)
    for split, images in (("train", train), ("test", test)):
        order = rng.permutation(len(images.labels))
        yield split, images, np.arange(1, len(order) + 1), order


def _write_common(
    comp: Competition,
    public: Path,
    private: Path,
    split: str,
    images: ImageSet,
    ids: np.ndarray,
    order: np.ndarray,
    frame: Any,
    sample_value: Any,
) -> None:
    """What both layouts write: the train labels and tensors, the answers and the sample."""
    labels = images.labels[order]
    (public / TENSORS).mkdir(parents=True, exist_ok=True)
    if split == "train":
        np.save(public / TENSORS / "train_labels.npy", labels.astype(np.int64))
    else:
        write_answers(private, frame, comp, stratify=labels)
        write_sample_submission(public, ids, comp, sample_value)
    if isinstance(images.images, np.ndarray):
        size = images.images.shape[1]
        _save_npy(public / TENSORS / f"{split}_{size}px.npy", rgb(images.images[order]))


def rgb(pixels: np.ndarray) -> np.ndarray:
    """uint8 ``(n, h, w, 3)``: grey ``(n, h, w)`` images with the grey in all three channels."""
    pixels = np.asarray(pixels, dtype=np.uint8)
    return np.repeat(pixels[..., None], 3, axis=-1) if pixels.ndim == 3 else pixels


def _write_pixel_csv(
    path: Path, pixels: np.ndarray, prefix: str, first: tuple[str, ...], values: np.ndarray
) -> None:
    """``first`` (a column of small non-negative ints) then one column per pixel, written in C
    speed: every value becomes a right-aligned 4-byte field, whose padding is then deleted."""
    n = len(pixels)
    flat = pixels.reshape(n, -1)
    if first:
        column = np.asarray(values).reshape(n, 1)
        if column.size and (column.min() < 0 or column.max() > 999):
            raise ValueError("a pixel table's first column holds values 0-999")
        flat = np.concatenate([column.astype(np.uint16), flat.astype(np.uint16)], axis=1)
    table = np.frombuffer(b"".join(f"{v:>3},".encode() for v in range(1000)), np.uint8)
    cells = table.reshape(1000, 4)[flat]  # n × columns × 4 bytes
    cells[:, -1, 3] = ord("\n")
    header = ",".join([*first, *(f"{prefix}{i}" for i in range(pixels[0].size if n else 0))])
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        f.write(header.encode() + b"\n")
        f.write(cells.tobytes().translate(None, b" "))
    tmp.replace(path)


def tensors(public: Path, split: str, size: int, ext: str) -> np.ndarray:
    """The ``split`` images at ``size`` px, memory-mapped; built on first use from the files,
    or (pixel tables have none) from the tensors prepared at the native size."""
    path = public / TENSORS / f"{split}_{size}px.npy"
    if not path.is_file():  # written through a memory map: any size, in bounded memory
        tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        path.parent.mkdir(parents=True, exist_ok=True)
        if (public / split).is_dir():
            files = sorted((public / split).glob(f"*{ext}"), key=lambda p: int(p.stem))
            out = _open(tmp, len(files), size)
            _decode_all(files, size, out)
        else:
            (native,) = sorted((public / TENSORS).glob(f"{split}_*px.npy"))
            pixels = np.load(native, mmap_mode="r")
            out = _open(tmp, len(pixels), size)
            _resize_all(pixels, size, out)
        out.flush()
        del out
        tmp.replace(path)
    return np.load(path, mmap_mode="r")


def _open(path: Path, count: int, size: int) -> np.memmap[Any, Any]:
    return np.lib.format.open_memmap(path, mode="w+", dtype=np.uint8, shape=(count, size, size, 3))


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
    pixels = rgb(images.images)
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


def _resize_all(pixels: np.ndarray, size: int, out: np.ndarray) -> np.ndarray:
    from PIL import Image

    for n, img in enumerate(pixels):
        resized = Image.fromarray(np.asarray(img)).resize((size, size), Image.Resampling.BILINEAR)
        out[n] = np.asarray(resized, dtype=np.uint8)
    return out


def _decode_all(files: list[Path], size: int, out: np.ndarray) -> np.ndarray:
    for n, path in enumerate(files):
        out[n] = decode(path.read_bytes(), size)
    return out


def _save_npy(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    with open(tmp, "wb") as f:
        np.save(f, np.ascontiguousarray(array))
    tmp.replace(path)


def natural_size(public: Path, ext: str) -> int | None:
    """The larger side of the first training image as published (None without image files,
    as pixel tables have): what a resize up to some size would only interpolate."""
    from PIL import Image

    folder = public / "train"
    first = next(iter(sorted(folder.glob(f"*{ext}"), key=lambda p: int(p.stem))), None)
    if first is None:
        return None
    with Image.open(first) as img:
        return max(img.size)
