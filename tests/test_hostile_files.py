"""Hostile submission files: a huge header, a huge file, a huge line, control characters.

Each must be refused quickly, in bounded memory, with a message safe to print on a terminal.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

import harness
from harness.errors import InvalidSubmission

HEADER = "PassengerId,Survived"
HARNESS = str(Path(sys.executable).parent / "harness")


def _ids(public: Path) -> list[int]:
    return pd.read_csv(public / "sample_submission.csv")["PassengerId"].tolist()


def _invalid(path: Path) -> InvalidSubmission:
    with pytest.raises(InvalidSubmission) as info:
        harness.validate("titanic", path)
    return info.value


def _rows(ids: list[int]) -> str:
    return "".join(f"{i},0\n" for i in ids)


# ---------------------------------------------------------------------------------------------
# A wide header
# ---------------------------------------------------------------------------------------------


def test_a_header_of_100_000_columns_is_checked_in_linear_time(
    titanic: Path, tmp_path: Path
) -> None:
    extra = [f"c{i}" for i in range(100_000)]
    path = tmp_path / "wide.csv"
    path.write_text(",".join([HEADER, *extra, *extra[:5]]) + "\n" + _rows(_ids(titanic)))

    start = time.perf_counter()
    problems = _invalid(path).problems
    elapsed = time.perf_counter() - start

    assert problems == [
        "duplicate columns 'c0', 'c1', 'c2' and 2 more",
        "unexpected columns 'c0', 'c1', 'c2' and 99,997 more",
    ]
    assert elapsed < 5, f"{elapsed:.2f} s"


def test_four_unexpected_columns_name_three_and_count_the_rest(
    titanic: Path, tmp_path: Path
) -> None:
    path = tmp_path / "four.csv"
    path.write_text(f"{HEADER},a,b,c,d\n" + "".join(f"{i},0,1,2,3,4\n" for i in _ids(titanic)))

    assert _invalid(path).problems == ["unexpected columns 'a', 'b', 'c' and 1 more"]


# ---------------------------------------------------------------------------------------------
# A huge file, a huge line
# ---------------------------------------------------------------------------------------------


def _far_too_many_rows(path: Path, ids: list[int], size: int) -> None:
    block = _rows(ids).encode() * 200
    with open(path, "wb") as f:
        f.write(HEADER.encode() + b"\n")
        for _ in range(size // len(block) + 1):
            f.write(block)


def test_a_file_with_far_too_many_rows_is_refused_before_it_is_read(
    titanic: Path, tmp_path: Path
) -> None:
    path = tmp_path / "big.csv"
    _far_too_many_rows(path, _ids(titanic), 5_000_000)
    size = path.stat().st_size

    assert _invalid(path).problems == [
        "expected 179 rows, got more than 1,179: the file is far larger than the sample "
        f"submission ({size / 1e6:.1f} MB); nothing was read further"
    ]


def test_a_few_rows_too_many_are_still_counted_exactly(titanic: Path, tmp_path: Path) -> None:
    ids = _ids(titanic)
    path = tmp_path / "more.csv"
    path.write_text(HEADER + "\n" + _rows(ids) + _rows(ids[:11]))

    assert "expected 179 rows, got 190" in _invalid(path).problems


def _limited(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _validate_capped(
    path: Path, home: Path, limit: int = 1536 * 1024**2
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HARNESS_HOME": str(home), "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [HARNESS, "validate", "titanic", str(path)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=lambda: _limited(limit),
    )


def test_a_300_mb_file_is_refused_cleanly_under_a_1_5_gb_memory_cap(
    titanic: Path, tmp_path: Path, home: Path
) -> None:
    path = tmp_path / "big.csv"
    _far_too_many_rows(path, _ids(titanic), 300_000_000)

    done = _validate_capped(path, home)

    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(f"Error: {path}: expected 179 rows, got more than 1,179"), (
        done.stderr
    )
    assert "Traceback" not in done.stderr and "MemoryError" not in done.stderr


def test_a_200_mb_line_is_refused_cleanly_under_a_1_5_gb_memory_cap(
    titanic: Path, tmp_path: Path, home: Path
) -> None:
    path = tmp_path / "line.csv"
    with open(path, "wb") as f:
        f.write(b"PassengerId,")
        for _ in range(200):
            f.write(b"x" * 1_000_000)

    start = time.perf_counter()
    done = _validate_capped(path, home)
    elapsed = time.perf_counter() - start

    assert done.returncode == 1, done.stderr
    assert done.stderr == (
        f"Error: {path}: line 1 is longer than 16.0 MB: the file is far larger than the sample "
        "submission (200.0 MB); nothing was read further\n"
    )
    assert elapsed < 60


def test_a_long_cell_within_the_limits_is_quoted_shortened(titanic: Path, tmp_path: Path) -> None:
    ids = _ids(titanic)
    path = tmp_path / "cell.csv"
    rows = _rows(ids).splitlines(keepends=True)
    rows[0] = f"{ids[0]},{'7' * 500_000}\n"  # longer than the csv module's field limit
    path.write_text(HEADER + "\n" + "".join(rows))

    problems = _invalid(path).problems

    assert problems == [
        "'Survived' must be one of 0, 1; 1 line is not (first: line 2 '" + "7" * 59 + "…')"
    ]


# ---------------------------------------------------------------------------------------------
# Control characters
# ---------------------------------------------------------------------------------------------


def test_control_characters_in_the_header_and_cells_are_escaped(
    titanic: Path, tmp_path: Path
) -> None:
    ids = _ids(titanic)
    rows = _rows(ids).splitlines(keepends=True)
    rows[4] = '"\x1b]0;pwned\x07\x00",0\n'
    rows[5] = '"7\r\n8",0\n'
    path = tmp_path / "evil.csv"
    path.write_bytes((HEADER + ',"e\x1b[2Jvil\rx"\n' + "".join(rows)).encode())

    message = str(_invalid(path))

    assert "unexpected column 'e\\x1b[2Jvil\\rx'" in message
    assert "(first: \\x1b]0;pwned\\x07\\x00, 7\\r\\n8)" in message
    assert not any(ord(ch) < 32 or ord(ch) == 127 for ch in message), repr(message)
