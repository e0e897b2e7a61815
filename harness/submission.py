"""The one submission validator, used by `validate`, `submit` and the baselines; and scoring.

``validate`` reads a CSV with pandas' fast C parser (types inferred, only empty cells are
missing), checks it against the public ``sample_submission.csv`` and raises one
:class:`InvalidSubmission` that lists every problem. A valid file comes back as
:class:`Aligned`: one typed array per target column, in the sample submission's id order.
``score`` reads the private answers and scores the public and private rows.

Line numbers in messages are the file's own (the header is line 1), as an editor shows them;
for a DataFrame (``dataframe=True``) messages name rows by the frame's 0-based position.

A submission may be compressed, as Kaggle accepts it: the name's suffix (any case) decides,
``.gz``, ``.bz2``, ``.xz``, or ``.zip`` holding one CSV. Its CSV is validated exactly as a plain
one (same messages, same line numbers), and a damaged archive is an :class:`InvalidSubmission`.
"""

from __future__ import annotations

import contextlib
import functools
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, cast

import numpy as np

from harness.competition import Competition
from harness.errors import InvalidSubmission, did_you_mean
from harness.metrics import Needs
from harness.preparation import ANSWERS, PUBLIC, SAMPLE_SUBMISSION, USAGE, prepared_file
from harness.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

SHOW = 3  # how many offending ids or lines a message names
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


@dataclass(frozen=True)
class Aligned:
    """A valid submission: predictions per target column, in the expected id order."""

    source: str
    ids: np.ndarray
    predictions: dict[str, np.ndarray]


@dataclass(frozen=True)
class Scores:
    public: float
    private: float
    extra: dict[str, float] = field(default_factory=dict)  # "<metric>_public", "<metric>_private"


def validate(
    comp: Competition,
    settings: Settings,
    path: Path,
    *,
    name: str | None = None,
    dataframe: bool = False,
) -> Aligned:
    """Check ``path`` against the competition's submission format; raise on any problem.

    ``dataframe``: ``path`` is a DataFrame written with ``to_csv(index=False)``, so messages
    name its rows by 0-based position (``row 0`` is the first) instead of the file's lines.
    """
    source = name or Path(path).name
    expected_ids = _expected_ids(prepared_file(comp, settings, f"public/{SAMPLE_SUBMISSION}"))
    frame = _read(path, source)
    text = _Text(Path(path), source, dataframe=dataframe)
    problems: list[str] = []

    frame.columns = [str(c).strip() for c in frame.columns]
    header = text.header
    columns = list(comp.submission_columns)
    for column in columns:
        if column not in frame.columns:
            problems.append(f"missing column '{column}'{did_you_mean(column, header)}")
    for column in sorted({c for c in header if header.count(c) > 1}):
        problems.append(f"duplicate column '{column}'")
    extra = [c for c in dict.fromkeys(header) if c not in columns]
    if extra:
        problems.append(
            f"unexpected column{'s' if len(extra) > 1 else ''} "
            + ", ".join(f"'{c}'" for c in extra)
        )

    keys = None
    if comp.id_column in frame.columns:
        keys, id_problems = _check_ids(frame[comp.id_column], expected_ids, text)
        problems += id_problems
    if len(frame) != len(expected_ids):
        problems.append(f"expected {len(expected_ids):,} rows, got {len(frame):,}")

    values: dict[str, np.ndarray] = {}
    for column in comp.target_columns:
        if column in frame.columns:
            values[column], value_problems = _check_values(frame[column], column, comp, text)
            problems += value_problems
    if problems or keys is None:
        raise InvalidSubmission(source, problems)

    if not np.array_equal(keys, expected_ids):
        import pandas as pd

        order = pd.Index(keys).get_indexer(expected_ids)
        values = {c: v[order] for c, v in values.items()}
    return Aligned(source=source, ids=expected_ids, predictions=values)


def score(comp: Competition, settings: Settings, aligned: Aligned) -> Scores:
    """Score a validated submission on the public and private test rows."""
    truth, public = _answers(prepared_file(comp, settings, f"private/{ANSWERS}"), comp)
    pred = _stack(aligned.predictions, comp.target_columns)
    true = _stack(truth, comp.target_columns)
    private = ~public

    def both(metric_fn: Any) -> tuple[float, float]:
        return float(metric_fn(true[public], pred[public])), float(
            metric_fn(true[private], pred[private])
        )

    pub, priv = both(comp.metric.fn)
    extra: dict[str, float] = {}
    for metric in comp.extra_metrics:
        extra[f"{metric.name}_public"], extra[f"{metric.name}_private"] = both(metric.fn)
    return Scores(public=pub, private=priv, extra=extra)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


def _read(path: Path, source: str) -> pd.DataFrame:
    path = Path(path)
    if not path.exists():
        raise InvalidSubmission(source, ["file not found"])
    if not path.is_file():
        raise InvalidSubmission(source, ["not a file"])
    if path.stat().st_size == 0:
        raise InvalidSubmission(source, ["the file is empty"])
    if _compression(path, source) is None:  # the fast path: pandas' C parser reads the file
        return _parse(path, source)
    with _open_binary(path, source) as stream:
        if not stream.peek(1):
            raise InvalidSubmission(source, ["the file is empty"])
        return _parse(stream, source)


def _parse(data: Path | IO[bytes], source: str) -> pd.DataFrame:
    import pandas as pd

    try:
        # Only empty cells are missing: "NA" or "null" may be real labels.
        return pd.read_csv(
            data,
            encoding="utf-8-sig",
            keep_default_na=False,
            na_values=[""],
            skipinitialspace=True,
            compression=None,  # _open_binary decides, by the name
        )
    except UnicodeDecodeError as exc:
        raise InvalidSubmission(source, [f"not UTF-8 text (byte {exc.start})"]) from exc
    except pd.errors.EmptyDataError as exc:
        raise InvalidSubmission(source, ["no header row: the file holds no CSV data"]) from exc
    except pd.errors.ParserError as exc:
        raise InvalidSubmission(source, [f"not a valid CSV: {_parser_message(exc)}"]) from exc


def _parser_message(exc: Exception) -> str:
    import re

    text = str(exc).strip()
    found = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", text)
    if found:
        want, line, got = found.groups()
        return f"line {line} has {got} fields, expected {want}"
    found = re.search(r"EOF inside string starting at row (\d+)", text)
    if found:  # pandas counts rows from 0, the header included
        return f"the quoted field that starts on line {int(found.group(1)) + 1} is never closed"
    return text.split(". ", 1)[-1].removeprefix("C error: ")


def _compression(path: Path, source: str) -> str | None:
    """The compression suffix the name ends with (lowercase), or None for a plain CSV."""
    suffix = path.suffix.lower()
    if suffix in _NOT_ACCEPTED:
        raise InvalidSubmission(
            source,
            [f"a {suffix} archive is not accepted: submit a CSV, plain or {_ACCEPTED}"],
        )
    return suffix if suffix in _COMPRESSED else None


@contextlib.contextmanager
def _open_binary(path: Path, source: str) -> Iterator[io.BufferedReader]:
    """The submission's CSV bytes: the file itself, or its data decompressed as the name says.

    A fault in the compressed data, found here or while the caller reads, is raised as an
    :class:`InvalidSubmission`, and so is data beyond :data:`MAX_DECOMPRESSED`.
    """
    suffix = _compression(path, source)
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
        shown = ("" if len(names) <= SHOW else "first: ") + _show(names)
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
def _open_text(path: Path, source: str) -> Iterator[io.TextIOWrapper]:
    """The submission's CSV as text, as the ``csv`` module reads it."""
    with (
        _open_binary(path, source) as data,
        io.TextIOWrapper(data, encoding="utf-8-sig", newline="") as text,
    ):
        yield text


class _Text:
    """The submitted file as its own text, read again only when a message must quote it:
    the fast path parses numbers, but messages show what the user wrote, on the line an
    editor shows (blank lines and quoted line breaks counted). For a DataFrame (``dataframe``)
    a row is named by its 0-based position in the frame instead."""

    def __init__(self, path: Path, source: str, *, dataframe: bool = False) -> None:
        self.path = path
        self.source = source
        self.noun = "row" if dataframe else "line"

    @functools.cached_property
    def header(self) -> list[str]:
        import csv

        with _open_text(self.path, self.source) as f:
            return [c.strip() for c in next(csv.reader(f), [])]

    @functools.cached_property
    def _cells(self) -> pd.DataFrame:
        import pandas as pd

        with _open_binary(self.path, self.source) as data:
            frame = pd.read_csv(
                data,
                dtype=str,
                keep_default_na=False,
                encoding="utf-8-sig",
                skipinitialspace=True,
                compression=None,
            )
        frame.columns = [str(c).strip() for c in frame.columns]
        return frame

    @functools.cached_property
    def _lines(self) -> list[int]:
        import csv

        lines = []
        with _open_text(self.path, self.source) as f:
            reader = csv.reader(f)
            next(reader, None)
            start = reader.line_num + 1
            for record in reader:
                if any(field.strip() for field in record):  # pandas skips blank lines
                    lines.append(start)
                start = reader.line_num + 1
        return lines

    def line(self, row: int) -> int:
        """The file's line for a parsed row; for a DataFrame, the row itself."""
        if self.noun == "row":
            return row
        return self._lines[row] if row < len(self._lines) else row + 2

    def at(self, row: int) -> str:
        return f"{self.noun} {self.line(row)}"

    def cell(self, row: int, column: str) -> str:
        return str(self._cells[column].iloc[row]).strip()

    def lines(self, rows: np.ndarray) -> str:
        shown = ", ".join(str(self.line(int(r))) for r in rows[:SHOW])
        return (f"{self.noun} " if len(rows) == 1 else f"first: {self.noun}s ") + shown


@functools.lru_cache(maxsize=8)
def _cached_csv(path: str, mtime_ns: int, size: int) -> pd.DataFrame:
    import pandas as pd

    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def _csv(path: Path) -> pd.DataFrame:
    st = path.stat()
    return _cached_csv(str(path), st.st_mtime_ns, st.st_size)


def _expected_ids(sample: Path) -> np.ndarray:
    return _csv(sample).iloc[:, 0].to_numpy()


def _answers(path: Path, comp: Competition) -> tuple[dict[str, np.ndarray], np.ndarray]:
    frame = _csv(path)
    truth = {c: _check_values(frame[c], c, comp)[0] for c in comp.target_columns}
    return truth, (frame[USAGE] == PUBLIC).to_numpy()


def _stack(columns: dict[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    if len(names) == 1:
        return columns[names[0]]
    return np.column_stack([columns[n] for n in names])


# ---------------------------------------------------------------------------------------------
# Checks: each returns (clean values, problems)
# ---------------------------------------------------------------------------------------------


def _check_ids(
    column: pd.Series, expected: np.ndarray, text: _Text
) -> tuple[np.ndarray, list[str]]:
    import pandas as pd

    problems = []
    keys, empty = _as_like(column, expected)
    if empty.any():
        rows = np.flatnonzero(empty)
        problems.append(f"{_count(len(rows), 'empty id')} ({text.lines(rows)})")
    if np.array_equal(keys, expected):  # the common case: the sample's order, nothing wrong
        return keys, problems
    name = str(column.name)
    present = pd.Series(keys[~empty], index=np.flatnonzero(~empty))
    dup = present.duplicated(keep="first")
    if dup.any():
        first = present[dup].drop_duplicates()
        shown = _show(text.cell(r, name) for r in first.index)
        problems.append(f"{_count(len(first), 'duplicate id')} (first: {shown})")
    known = pd.Index(expected)
    missing = ~known.isin(present.to_numpy())
    if missing.any():
        problems.append(
            f"{_count(int(missing.sum()), 'id')} missing (first: {_show(expected[missing])})"
        )
    unknown = ~present.isin(known).to_numpy()
    if unknown.any():
        shown = _show(text.cell(r, name) for r in present.index.to_numpy()[unknown][:SHOW])
        problems.append(f"{_count(int(unknown.sum()), 'unknown id')} (first: {shown})")
    return keys, problems


def _as_like(column: pd.Series, expected: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Submitted ids in the expected ids' type, and which are empty."""
    import pandas as pd

    empty = column.isna().to_numpy()
    if column.dtype.kind in "iu" and expected.dtype.kind in "iu":
        return column.to_numpy(), empty
    text = column.astype(object).where(~empty, "").astype(str).str.strip().to_numpy(dtype=object)
    if expected.dtype.kind in "iu":
        numbers = pd.to_numeric(pd.Series(text), errors="coerce").to_numpy(dtype=np.float64)
        integral = np.isfinite(numbers) & (np.mod(numbers, 1) == 0)
        return np.where(integral, numbers, -1.5), empty  # -1.5 matches no integer id
    return text, empty


def _check_values(
    column: pd.Series, name: str, comp: Competition, text: _Text | None = None
) -> tuple[np.ndarray, list[str]]:
    """Typed values of one target column, and what is wrong with them.

    ``text`` is None for the answers, which the harness wrote itself.
    """
    import pandas as pd

    needs = comp.metric.needs
    empty = column.isna().to_numpy()
    problems = []
    if empty.any():
        rows = np.flatnonzero(empty)
        noun = "line" if text is None else text.noun
        problems.append(f"'{name}' is empty on {_count(len(rows), noun)} ({_where(text, rows)})")
    labels = comp.labels if needs is Needs.LABELS else None
    if labels is not None and not all(isinstance(v, int | float) for v in labels):
        values = column.astype(object).where(~empty, "").astype(str).str.strip().to_numpy()
        bad = ~empty & ~np.isin(values, np.asarray(labels, dtype=object))
        if bad.any():
            problems.append(_value_problem(name, _one_of(labels), bad, text))
        return values, problems

    if column.dtype == bool:  # pandas reads True/False as booleans: they are not numbers here
        numbers = np.full(len(column), np.nan)
    else:
        numbers = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
    if labels is not None:  # one rule covers everything: the value must be a listed label
        bad = ~empty & ~np.isin(numbers, np.asarray(labels, dtype=np.float64))
        if bad.any():
            problems.append(_value_problem(name, _one_of(labels), bad, text))
        elif not problems and all(isinstance(v, int) for v in labels):
            return numbers.astype(np.int64), problems
        return numbers, problems

    not_number = ~empty & np.isnan(numbers)
    infinite = np.isinf(numbers)
    checks = [("must be a number", not_number), ("must be finite", infinite)]
    finite = np.isfinite(numbers)
    if needs is Needs.PROBABILITIES:
        checks.append(
            ("must be a probability in [0, 1]", finite & ((numbers < 0) | (numbers > 1)))
        )
    elif needs is Needs.POSITIVE:
        rule = f"must be positive ({comp.metric.name} takes its logarithm)"
        checks.append((rule, finite & (numbers <= 0)))
    for rule, bad in checks:
        if bad.any():
            problems.append(_value_problem(name, rule, bad, text))
    return numbers, problems


def _one_of(labels: Sequence[Any]) -> str:
    return "must be one of " + ", ".join(map(str, labels))


def _value_problem(name: str, rule: str, bad: np.ndarray, text: _Text | None) -> str:
    rows = np.flatnonzero(bad)
    if text is None:
        shown = _where(None, rows)
    else:
        shown = ", ".join(f"{text.at(r)} '{text.cell(r, name)}'" for r in rows[:SHOW])
    verb = "is" if len(rows) == 1 else "are"
    noun = "line" if text is None else text.noun
    return f"'{name}' {rule}; {_count(len(rows), noun)} {verb} not (first: {shown})"


def _where(text: _Text | None, rows: np.ndarray) -> str:
    if text is not None:
        return text.lines(rows)
    return "first: rows " + ", ".join(str(r) for r in rows[:SHOW])


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _show(values: Any) -> str:
    return ", ".join(str(v) for v in list(values)[:SHOW])
