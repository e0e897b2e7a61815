"""The one submission validator, used by `validate`, `submit` and the baselines.

``validate`` reads a CSV with pandas' fast C parser (types inferred, only empty cells are
missing), checks it against the public ``sample_submission.csv`` and raises one
:class:`InvalidSubmission` that lists every problem. A valid file comes back as
:class:`Aligned`: one typed array per target column, in the sample submission's id order.
Scoring is :mod:`harness.data.scoring`; opening a (compressed) file is
:mod:`harness.data.submission_file`.

Line numbers in messages are the file's own (the header is line 1), as an editor shows them;
for a DataFrame (``dataframe=True``) messages name rows by the frame's 0-based position.

A submission may be compressed, as Kaggle accepts it (``.gz``, ``.bz2``, ``.xz``, ``.zip``
holding one CSV): it is validated exactly as a plain one (same messages, same line numbers).
"""

from __future__ import annotations

import contextlib
import functools
import io
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import numpy as np

from harness.competition import Competition
from harness.data.preparation import SAMPLE_SUBMISSION, prepared_file
from harness.data.submission_file import as_file, compression, open_binary, open_text
from harness.errors import InvalidSubmission, did_you_mean, printable
from harness.metrics import Needs
from harness.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

SHOW = 3  # how many offending ids, lines or columns a message names
SHORTEN = 60  # characters of a cell or column name a message quotes, then "…"
MARGIN = 1_000  # rows beyond the expected count read before a file is refused as far too large
MIN_BYTES = 64_000_000  # a submission may take this many bytes, or FACTOR × the sample's size
FACTOR = 16
MAX_LINE = 16_000_000  # bytes a line may take
WIDE = 1_000  # a header with more columns is parsed for the needed columns only
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Aligned:
    """A valid submission: predictions per target column, in the expected id order."""

    source: str
    ids: np.ndarray
    predictions: dict[str, np.ndarray]


def validate_predictions(comp: Competition, settings: Settings, predictions: Any) -> Aligned:
    """Check a submission given as a CSV path or a DataFrame (see :func:`validate`)."""
    with as_file(predictions, settings) as (path, name, frame):
        return validate(comp, settings, path, name=name, dataframe=frame)


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
    source = printable(name or Path(path).name)
    sample = prepared_file(comp, settings, f"public/{SAMPLE_SUBMISSION}")
    expected_ids = _expected_ids(sample)
    columns = list(comp.submission_columns)
    limits = _Limits(len(expected_ids), max(MIN_BYTES, FACTOR * sample.stat().st_size))
    frame = _read(path, source, limits, columns)
    text = _Text(Path(path), source, dataframe=dataframe, rows=limits.rows + 1)
    text.columns = columns
    problems: list[str] = []

    frame.columns = [str(c).strip() for c in frame.columns]
    header = text.header
    present = set(frame.columns)
    for column in columns:
        if column not in present:
            hint = printable(did_you_mean(column, _close_candidates(column, header)))
            problems.append(f"missing column '{column}'{hint}")
    counts = Counter(header)
    duplicated = sorted(c for c, n in counts.items() if n > 1)
    if len(duplicated) <= SHOW:
        problems += [f"duplicate column '{shown(c)}'" for c in duplicated]
    else:
        problems.append(f"duplicate columns {_names(duplicated)}")
    wanted = set(columns)
    extra = [c for c in counts if c not in wanted]  # a Counter keeps the file's order
    if extra:
        problems.append(f"unexpected column{'s' if len(extra) > 1 else ''} {_names(extra)}")

    keys = None
    if comp.id_column in frame.columns:
        keys, id_problems = _check_ids(frame[comp.id_column], expected_ids, text)
        problems += id_problems
    if len(frame) != len(expected_ids):
        problems.append(f"expected {len(expected_ids):,} rows, got {len(frame):,}")

    values: dict[str, np.ndarray] = {}
    for column in comp.target_columns:
        if column in frame.columns:
            values[column], value_problems = check_values(frame[column], column, comp, text)
            problems += value_problems
    if problems or keys is None:
        raise InvalidSubmission(source, problems)

    if not np.array_equal(keys, expected_ids):
        import pandas as pd

        order = pd.Index(keys).get_indexer(expected_ids)
        values = {c: v[order] for c, v in values.items()}
    return Aligned(source=source, ids=expected_ids, predictions=values)


# ---------------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Limits:
    """How large a submission may be: ``expected`` rows (the sample's), read up to ``rows``,
    and ``bytes`` of CSV data."""

    expected: int
    bytes: int

    @property
    def rows(self) -> int:
        return self.expected + max(MARGIN, self.expected // 10)


class _FarTooLarge(Exception):
    """Parsing ran past the bytes a submission may take."""


def _read(path: Path, source: str, limits: _Limits, columns: Sequence[str]) -> pd.DataFrame:
    """The parsed submission, refused unread where it is far larger than the sample: a
    first pass counts lines and bytes in constant memory, then pandas parses at most
    ``limits.rows + 1`` rows and ``limits.bytes`` bytes."""
    path = Path(path)
    if not path.exists():
        raise InvalidSubmission(source, ["file not found"])
    if not path.is_file():
        raise InvalidSubmission(source, ["not a file"])
    size = path.stat().st_size
    if size == 0:
        raise InvalidSubmission(source, ["the file is empty"])
    packed = compression(path, source) is not None
    on_disk = _bytes(size) + (" compressed" if packed else "")
    fields = _scan(path, source, limits, on_disk)
    wanted = set(columns)
    with open_binary(path, source) as stream:
        if packed and not stream.peek(1):
            raise InvalidSubmission(source, ["the file is empty"])
        bounded = io.BufferedReader(_Bounded(stream, limits.bytes), buffer_size=_CHUNK)
        try:
            frame = _parse(
                bounded,
                source,
                nrows=limits.rows + 1,
                usecols=_positions(path, source, wanted) if fields > WIDE else None,
            )
        except _FarTooLarge as exc:
            raise InvalidSubmission(source, [_too_large(limits, on_disk)]) from exc
    if len(frame) > limits.rows:
        raise InvalidSubmission(
            source,
            [
                f"expected {limits.expected:,} rows, got more than {limits.rows:,}: "
                f"the file is far larger than the sample submission ({on_disk}); "
                "nothing was read further"
            ],
        )
    return frame


def _positions(path: Path, source: str, wanted: set[str]) -> Any:
    """Where the wanted columns first appear in a wide header (pandas calls a callable
    ``usecols`` once per column and chunk)."""
    import csv

    try:
        with _long_fields(), open_text(path, source) as f:
            header = [c.strip() for c in next(csv.reader(f), [])]
    except UnicodeDecodeError:
        return lambda c: str(c).strip() in wanted
    first = {c: i for i, c in reversed(list(enumerate(header))) if c in wanted}
    return sorted(first.values())


def _scan(path: Path, source: str, limits: _Limits, on_disk: str) -> int:
    """Read the CSV data once in chunks, to refuse a far too long line or file before
    pandas holds it; stop early past ``limits.rows`` lines. Returns an upper bound of the
    header's number of fields."""
    newlines = total = run = 0
    commas = 0
    with open_binary(path, source) as stream:
        while newlines <= limits.rows + 1:
            chunk = stream.read(_CHUNK)
            if not chunk:
                break
            total += len(chunk)
            first = chunk.find(b"\n")
            if newlines == 0:
                commas += chunk.count(b",", 0, len(chunk) if first < 0 else first)
            if first < 0:
                run += len(chunk)
            else:
                run += first
            if run > MAX_LINE:
                raise InvalidSubmission(
                    source,
                    [
                        f"line {newlines + 1:,} is longer than {_bytes(MAX_LINE)}: "
                        f"the file is far larger than the sample submission ({on_disk}); "
                        "nothing was read further"
                    ],
                )
            if first >= 0:
                newlines += chunk.count(b"\n")
                run = len(chunk) - chunk.rfind(b"\n") - 1
            if total > limits.bytes:
                raise InvalidSubmission(source, [_too_large(limits, on_disk)])
    return commas + 1


def _too_large(limits: _Limits, on_disk: str) -> str:
    return (
        f"the file is far larger than the sample submission ({on_disk}; "
        f"{limits.expected:,} rows should take at most {_bytes(limits.bytes)}); "
        "nothing was read further"
    )


class _Bounded(io.RawIOBase):
    """``raw``, raising :class:`_FarTooLarge` past ``limit`` bytes."""

    def __init__(self, raw: IO[bytes], limit: int) -> None:
        self.raw, self.limit, self.total = raw, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self.raw.read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self.total += n
        if self.total > self.limit:
            raise _FarTooLarge
        return n


def _bytes(n: int) -> str:
    for unit, scale in (("GB", 10**9), ("MB", 10**6), ("kB", 10**3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{n:,} bytes"


def _parse(
    data: Path | IO[bytes], source: str, *, nrows: int | None = None, usecols: Any = None
) -> pd.DataFrame:
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
            nrows=nrows,
            usecols=usecols,
        )
    except UnicodeDecodeError as exc:
        raise InvalidSubmission(source, [f"not UTF-8 text (byte {exc.start})"]) from exc
    except pd.errors.EmptyDataError as exc:
        raise InvalidSubmission(source, ["no header row: the file holds no CSV data"]) from exc
    except pd.errors.ParserError as exc:
        problem = f"not a valid CSV: {printable(_parser_message(exc))}"
        raise InvalidSubmission(source, [problem]) from exc


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


class _Text:
    """The submitted file as its own text, read again only when a message must quote it:
    the fast path parses numbers, but messages show what the user wrote, on the line an
    editor shows (blank lines and quoted line breaks counted). For a DataFrame (``dataframe``)
    a row is named by its 0-based position in the frame instead."""

    def __init__(
        self, path: Path, source: str, *, dataframe: bool = False, rows: int | None = None
    ) -> None:
        self.path = path
        self.source = source
        self.noun = "row" if dataframe else "line"
        self.rows = rows
        self.columns: Sequence[str] = ()

    @functools.cached_property
    def header(self) -> list[str]:
        import csv

        with _long_fields(), open_text(self.path, self.source) as f:
            return [c.strip() for c in next(csv.reader(f), [])]

    @functools.cached_property
    def _cells(self) -> pd.DataFrame:
        import pandas as pd

        wanted = set(self.columns)
        wide = len(self.header) > WIDE  # as _read parses it: the needed columns only
        with open_binary(self.path, self.source) as data:
            frame = pd.read_csv(
                data,
                usecols=_positions(self.path, self.source, wanted) if wide else None,
                dtype=str,
                keep_default_na=False,
                encoding="utf-8-sig",
                skipinitialspace=True,
                compression=None,
                nrows=self.rows,
            )
        frame.columns = [str(c).strip() for c in frame.columns]
        return frame

    @functools.cached_property
    def _lines(self) -> list[int]:
        import csv

        lines = []
        with _long_fields(), open_text(self.path, self.source) as f:
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


@contextlib.contextmanager
def _long_fields() -> Iterator[None]:
    """Let the ``csv`` module read a field as long as a line may be (its limit is 128 KiB)."""
    import csv

    old = csv.field_size_limit(max(csv.field_size_limit(), MAX_LINE))
    try:
        yield
    finally:
        csv.field_size_limit(old)


@functools.lru_cache(maxsize=8)
def _cached_csv(path: str, mtime_ns: int, size: int) -> pd.DataFrame:
    import pandas as pd

    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def cached_csv(path: Path) -> pd.DataFrame:
    st = path.stat()
    return _cached_csv(str(path), st.st_mtime_ns, st.st_size)


def _expected_ids(sample: Path) -> np.ndarray:
    return cached_csv(sample).iloc[:, 0].to_numpy()


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
        quoted = _show(text.cell(r, name) for r in first.index[:SHOW])
        problems.append(f"{_count(len(first), 'duplicate id')} (first: {quoted})")
    known = pd.Index(expected)
    missing = ~known.isin(present.to_numpy())
    if missing.any():
        problems.append(
            f"{_count(int(missing.sum()), 'id')} missing (first: {_show(expected[missing])})"
        )
    unknown = ~present.isin(known).to_numpy()
    if unknown.any():
        quoted = _show(text.cell(r, name) for r in present.index.to_numpy()[unknown][:SHOW])
        problems.append(f"{_count(int(unknown.sum()), 'unknown id')} (first: {quoted})")
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


def check_values(
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
        quoted = _where(None, rows)
    else:
        quoted = ", ".join(f"{text.at(r)} '{shown(text.cell(r, name))}'" for r in rows[:SHOW])
    verb = "is" if len(rows) == 1 else "are"
    noun = "line" if text is None else text.noun
    return f"'{name}' {rule}; {_count(len(rows), noun)} {verb} not (first: {quoted})"


def _where(text: _Text | None, rows: np.ndarray) -> str:
    if text is not None:
        return text.lines(rows)
    return "first: rows " + ", ".join(str(r) for r in rows[:SHOW])


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}{'' if n == 1 else 's'}"


def _show(values: Any) -> str:
    return ", ".join(shown(v) for v in list(values)[:SHOW])


def _names(names: Sequence[str]) -> str:
    """The first :data:`SHOW` column names, quoted, and how many more there are."""
    listed = ", ".join(f"'{shown(c)}'" for c in names[:SHOW])
    more = len(names) - SHOW
    return listed + (f" and {more:,} more" if more > 0 else "")


def _close_candidates(name: str, header: Iterable[str], most: int = 1_000) -> list[str]:
    """The header's names that :func:`did_you_mean` may suggest for ``name``: of about its
    length (difflib's ratio needs it), the case-insensitive match first, at most ``most``."""
    low, high = len(name) * 0.3, len(name) * 3.4
    same = [c for c in dict.fromkeys(header) if low <= len(c) <= high]
    exact = [c for c in same if c.lower() == name.lower()]
    return exact + same[:most]


def shown(value: object) -> str:
    """``value`` as a message quotes it: escaped and shortened (:func:`printable`)."""
    return printable(value, limit=SHORTEN)
