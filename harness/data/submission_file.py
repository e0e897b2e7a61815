"""Opening a submission: a DataFrame (written to a temporary CSV, :class:`as_file`), a plain
CSV, or one compressed as Kaggle accepts it.

The name's suffix (any case) decides: ``.gz``, ``.bz2``, ``.xz``, or ``.zip`` holding one CSV
(macOS' ``__MACOSX/`` and ``.DS_Store`` do not count). :func:`open_binary` gives the CSV's bytes
for pandas and :func:`open_text` its text for the ``csv`` module, so the validator reads a
compressed CSV exactly as a plain one; a damaged or wrongly named archive, or data that unpacks
beyond :data:`MAX_DECOMPRESSED`, is an :class:`~harness.errors.InvalidSubmission`.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from harness.errors import InvalidSubmission
from harness.settings import Settings

SHOW = 3  # how many member names a message lists
MAX_DECOMPRESSED = 2 * 1024**3  # bytes a compressed submission may unpack to (a bomb guard)

# What a suffix says the file is: the format's name and how its data starts.
_COMPRESSED = {
    ".gz": ("gzip", (b"\x1f\x8b",)),
    ".bz2": ("bzip2", (b"BZh",)),
    ".xz": ("xz", (b"\xfd7zXZ\x00",)),
    ".zip": ("zip", (b"PK\x03\x04", b"PK\x05\x06")),
}
_ACCEPTED = "as .zip, .gz, .bz2 or .xz"
_NOT_ACCEPTED = (".7z", ".rar", ".tar", ".tgz", ".zst")  # archives Kaggle or pandas may know


def compression(path: Path, source: str) -> str | None:
    """The compression suffix the name ends with (lowercase), or None for a plain CSV."""
    suffix = path.suffix.lower()
    if suffix in _NOT_ACCEPTED:
        raise InvalidSubmission(
            source,
            [f"a {suffix} archive is not accepted: submit a CSV, plain or {_ACCEPTED}"],
        )
    return suffix if suffix in _COMPRESSED else None


@contextlib.contextmanager
def open_binary(path: Path, source: str) -> Iterator[io.BufferedReader]:
    """The submission's CSV bytes: the file itself, or its data decompressed as the name says.

    A fault in the compressed data, found here or while the caller reads, is raised as an
    :class:`InvalidSubmission`, and so is data beyond :data:`MAX_DECOMPRESSED`.
    """
    suffix = compression(path, source)
    if suffix is None:
        with open(path, "rb") as plain:
            yield plain
        return
    import lzma
    import zipfile
    import zlib

    kind = _COMPRESSED[suffix][0]
    limit = MAX_DECOMPRESSED
    with open(path, "rb") as f:
        head = f.read(8)
    try:
        with contextlib.ExitStack() as stack:
            raw = _decompressing(path, suffix, head, source, stack)
            yield io.BufferedReader(_Capped(raw, limit), buffer_size=1 << 20)
    except _TooLarge as exc:
        raise InvalidSubmission(
            source,
            [f"the file decompresses to more than {_size(limit)}, the limit for a submission"],
        ) from exc
    except (EOFError, OSError, zlib.error, lzma.LZMAError, zipfile.BadZipFile) as exc:
        raise InvalidSubmission(source, [_corrupt(kind, str(exc))]) from exc


def _decompressing(
    path: Path, suffix: str, head: bytes, source: str, stack: contextlib.ExitStack
) -> io.BufferedIOBase:
    """A stream of the decompressed data (``head``: the file's first bytes), closed with
    ``stack``."""
    kind, magic = _COMPRESSED[suffix]
    if suffix == ".zip":
        return _zip_member(path, head, source, stack)
    if not head.startswith(magic):
        raise InvalidSubmission(source, [_not_a(kind, path.suffix, head)])
    if suffix == ".gz":
        import gzip

        return stack.enter_context(gzip.open(path, "rb"))
    if suffix == ".bz2":
        import bz2

        return stack.enter_context(bz2.open(path, "rb"))
    import lzma

    return stack.enter_context(lzma.open(path, "rb"))


def _zip_member(
    path: Path, head: bytes, source: str, stack: contextlib.ExitStack
) -> io.BufferedIOBase:
    """The one file a zip holds (macOS' ``__MACOSX/`` and ``.DS_Store`` do not count)."""
    import zipfile

    try:
        archive = stack.enter_context(zipfile.ZipFile(path))
    except zipfile.BadZipFile as exc:
        if not head.startswith(b"PK"):
            raise InvalidSubmission(source, [_not_a("zip", path.suffix, head)]) from exc
        raise InvalidSubmission(
            source, [_corrupt("zip", "its list of files is unreadable")]
        ) from exc
    files = [
        info
        for info in archive.infolist()
        if not info.is_dir()
        and not info.filename.startswith("__MACOSX/")
        and info.filename.rsplit("/", 1)[-1] != ".DS_Store"
    ]
    if not files:
        raise InvalidSubmission(source, ["the zip holds no file"])
    names = [info.filename for info in files]
    if len(files) > 1:
        shown = ("" if len(names) <= SHOW else "first: ") + ", ".join(names[:SHOW])
        raise InvalidSubmission(
            source, [f"the zip holds {len(files):,} files ({shown}); expected one CSV"]
        )
    member = files[0]
    if Path(member.filename).suffix.lower() in (*_COMPRESSED, *_NOT_ACCEPTED):
        raise InvalidSubmission(
            source, [f"the zip holds a compressed file ({member.filename}); expected one CSV"]
        )
    if member.file_size > MAX_DECOMPRESSED:
        raise _TooLarge
    try:
        return cast(io.BufferedIOBase, stack.enter_context(archive.open(member)))
    except RuntimeError as exc:  # zipfile's word for a password-protected member
        raise InvalidSubmission(
            source, [f"the zip's file {member.filename} is encrypted"]
        ) from exc
    except NotImplementedError as exc:
        raise InvalidSubmission(
            source, [f"the zip's file {member.filename} uses a compression Python cannot read"]
        ) from exc


class _TooLarge(Exception):
    """The decompressed data runs past :data:`MAX_DECOMPRESSED`."""


class _Capped(io.RawIOBase):
    """``raw``, refusing to read past ``limit`` bytes."""

    def __init__(self, raw: io.BufferedIOBase, limit: int) -> None:
        self.raw, self.limit, self.total = raw, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self.raw.readinto(buffer)
        self.total += n
        if self.total > self.limit:
            raise _TooLarge
        return n


def _not_a(kind: str, suffix: str, head: bytes) -> str:
    problem = f"not {_a(kind)} {kind} file (named {suffix}"
    actual = [k for k, magic in _COMPRESSED.values() if head.startswith(magic)]
    return problem + (f", but it is {_a(actual[0])} {actual[0]} file)" if actual else ")")


def _corrupt(kind: str, detail: str) -> str:
    if detail[1:2].islower():  # "Compressed file ended …" reads on as "compressed file …"
        detail = detail[0].lower() + detail[1:]
    return f"the {kind} data is corrupt or truncated ({detail})"


def _a(word: str) -> str:
    return "an" if word[0] in "aeiox" else "a"


def _size(n: int) -> str:
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= scale and n % scale == 0:
            return f"{n // scale:,} {unit}"
    return f"{n:,} bytes"


@contextlib.contextmanager
def open_text(path: Path, source: str) -> Iterator[io.TextIOWrapper]:
    """The submission's CSV as text, as the ``csv`` module reads it."""
    with (
        open_binary(path, source) as data,
        io.TextIOWrapper(data, encoding="utf-8-sig", newline="") as text,
    ):
        yield text


class as_file:
    """A CSV path as is, or a DataFrame written to a temporary ``submission.csv`` in the
    staging folder: yields ``(path, name for messages, whether it is a DataFrame)``."""

    def __init__(self, predictions: Any, settings: Settings) -> None:
        self.predictions = predictions
        self.settings = settings
        self.tmp: tempfile.TemporaryDirectory[str] | None = None

    def __enter__(self) -> tuple[Path, str, bool]:
        if isinstance(self.predictions, str | os.PathLike):
            path = Path(self.predictions)
            return path, str(self.predictions), False
        if not hasattr(self.predictions, "to_csv"):
            raise TypeError(
                "predictions must be a CSV path or a pandas DataFrame, "
                f"got {type(self.predictions).__name__}"
            )
        staging = self.settings.staging_dir
        staging.mkdir(parents=True, exist_ok=True)
        self.tmp = tempfile.TemporaryDirectory(dir=staging)
        path = Path(self.tmp.name) / "submission.csv"
        self.predictions.to_csv(path, index=False)
        return path, "DataFrame", True

    def __exit__(self, *exc: object) -> None:
        if self.tmp is not None:
            self.tmp.cleanup()
