"""Compressed submissions (``.gz``, ``.bz2``, ``.xz``, a ``.zip`` of one CSV), as Kaggle takes
them, and the DataFrame wording (rows, not lines).

Every file is written in its real format with the standard library. A compressed CSV must be
validated exactly as the plain one (same messages, same line numbers); a broken archive is one
clear problem. Messages are pinned word for word.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import random
import zipfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import harness
from harness.cli import cli
from harness.data import submission_file, validation
from harness.errors import InvalidSubmission
from harness.registry import get_competition
from harness.settings import Settings

HEADER = "PassengerId,Survived"


def _sample_ids(public: Path) -> list[int]:
    return pd.read_csv(public / "sample_submission.csv")["PassengerId"].tolist()


def _text(rows: list[str], header: str = HEADER) -> bytes:
    return "".join(f"{line}\n" for line in [header, *rows]).encode("utf-8")


def _zeros(ids: list[int], changes: dict[int, str] | None = None) -> list[str]:
    """One ``id,0`` row per id; ``changes`` replaces the value on some rows (by row index)."""
    changes = changes or {}
    return [f"{i},{changes.get(k, '0')}" for k, i in enumerate(ids)]


def _zip(members: list[tuple[str, bytes]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    return buffer.getvalue()


# The name's ending, and how a CSV's bytes become a file with that ending.
COMPRESS: dict[str, Callable[[bytes], bytes]] = {
    ".csv.gz": gzip.compress,
    ".csv.bz2": bz2.compress,
    ".csv.xz": lzma.compress,
    ".zip": lambda data: _zip([("preds.csv", data)]),
}
FORMATS = pytest.mark.parametrize("ending", list(COMPRESS))


def _write(path: Path, data: bytes) -> str:
    path.write_bytes(data)
    return str(path)


def _compressed(tmp_path: Path, ending: str, data: bytes, stem: str = "preds") -> str:
    return _write(tmp_path / f"{stem}{ending}", COMPRESS[ending](data))


def _invalid(competition: str, predictions: object) -> InvalidSubmission:
    with pytest.raises(InvalidSubmission) as info:
        harness.validate(competition, predictions)
    return info.value


def _cli_error(path: str) -> str:
    result = CliRunner().invoke(cli, ["validate", "titanic", path])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ")
    assert "Traceback" not in result.output
    assert result.stdout == ""
    return result.stderr


# ---------------------------------------------------------------------------------------------
# A compressed CSV is the plain CSV
# ---------------------------------------------------------------------------------------------


@FORMATS
def test_a_valid_compressed_file_validates_and_scores_as_the_plain_csv(
    titanic: Path, tmp_path: Path, ending: str
) -> None:
    ids = _sample_ids(titanic)
    rng = random.Random(7)
    shuffled = ids[:]
    rng.shuffle(shuffled)
    data = _text([f"{i},{rng.randint(0, 1)}" for i in shuffled])
    plain = _write(tmp_path / "preds.csv", data)
    packed = _compressed(tmp_path, ending, data)

    aligned, expected = harness.validate("titanic", packed), harness.validate("titanic", plain)
    result, reference = harness.submit("titanic", packed), harness.submit("titanic", plain)

    assert aligned.source == packed
    assert aligned.ids.tolist() == ids
    assert aligned.predictions["Survived"].tolist() == expected.predictions["Survived"].tolist()
    assert result.entry.public_score == reference.entry.public_score
    assert result.entry.private_score == reference.entry.private_score


@pytest.mark.parametrize(
    "name", ["PREDS.CSV.GZ", "preds.csv.Bz2", "preds.csv.XZ", "Preds.ZIP"], ids=str.lower
)
def test_the_suffix_is_not_case_sensitive(titanic: Path, tmp_path: Path, name: str) -> None:
    ending = next(e for e in COMPRESS if name.lower().endswith(e.removeprefix(".csv")))
    path = _write(tmp_path / name, COMPRESS[ending](_text(_zeros(_sample_ids(titanic)))))

    assert harness.validate("titanic", path).ids.size == 179


@FORMATS
def test_an_invalid_compressed_file_reports_the_plain_files_problems_on_the_same_lines(
    titanic: Path, tmp_path: Path, ending: str
) -> None:
    ids = _sample_ids(titanic)
    rows = _zeros(ids, {3: "", 5: "2", 8: "0.5"})
    rows[1] = f'{ids[1]},"0"'
    rows.insert(2, "")  # a blank line: the file's own lines count it
    data = _text(rows)
    plain = _write(tmp_path / "preds.csv", data)
    packed = _compressed(tmp_path, ending, data)

    problems = _invalid("titanic", packed).problems

    assert problems == _invalid("titanic", plain).problems
    assert problems == [
        "'Survived' is empty on 1 line (line 6)",
        "'Survived' must be one of 0, 1; 2 lines are not (first: line 8 '2', line 11 '0.5')",
    ]


@FORMATS
@pytest.mark.parametrize(
    ("data", "problem"),
    [
        pytest.param(
            b"PassengerId,Survived\n1,0\n9,0,1\n",
            "not a valid CSV: line 3 has 3 fields, expected 2",
            id="ragged",
        ),
        pytest.param(
            "PassengerId,Survived\n1,0\n9,caf\xe9\n".encode("latin-1"),
            "not UTF-8 text (byte 30)",
            id="latin1",
        ),
        pytest.param(b"\n\n\n", "no header row: the file holds no CSV data", id="blank-lines"),
        pytest.param(
            b"PassengerId,Survived,Survived\n1,0,1\n", "duplicate column 'Survived'", id="dup"
        ),
    ],
)
def test_an_unreadable_csv_inside_reports_what_the_plain_file_reports(
    titanic: Path, tmp_path: Path, ending: str, data: bytes, problem: str
) -> None:
    plain = _invalid("titanic", _write(tmp_path / "preds.csv", data)).problems

    problems = _invalid("titanic", _compressed(tmp_path, ending, data)).problems

    assert problems == plain
    assert problems[0] == problem  # the ids and row count follow for "dup"


@FORMATS
def test_an_unclosed_quote_names_the_same_line_as_the_plain_file(
    titanic: Path, tmp_path: Path, ending: str
) -> None:
    data = b'PassengerId,Survived\n1,"0\n9,0\n'
    plain = _invalid("titanic", _write(tmp_path / "preds.csv", data))

    assert _invalid("titanic", _compressed(tmp_path, ending, data)).problems == plain.problems


@FORMATS
def test_a_compressed_empty_csv_is_an_empty_file(
    titanic: Path, tmp_path: Path, ending: str
) -> None:
    path = _compressed(tmp_path, ending, b"")

    assert str(_invalid("titanic", path)) == f"{path}: the file is empty"


@pytest.mark.parametrize("name", ["preds.csv.gz", "preds.csv.bz2", "preds.csv.xz", "preds.zip"])
def test_a_zero_byte_compressed_file_is_an_empty_file(
    titanic: Path, tmp_path: Path, name: str
) -> None:
    path = _write(tmp_path / name, b"")

    assert str(_invalid("titanic", path)) == f"{path}: the file is empty"


# ---------------------------------------------------------------------------------------------
# What a zip must hold
# ---------------------------------------------------------------------------------------------


def test_a_zip_of_two_files_names_them(titanic: Path, tmp_path: Path) -> None:
    data = _text(_zeros(_sample_ids(titanic)))
    path = _write(tmp_path / "preds.zip", _zip([("a.csv", data), ("b.csv", data)]))

    assert str(_invalid("titanic", path)) == (
        f"{path}: the zip holds 2 files (a.csv, b.csv); expected one CSV"
    )


def test_a_zip_of_many_files_names_the_first_three(titanic: Path, tmp_path: Path) -> None:
    path = _write(tmp_path / "preds.zip", _zip([(f"{c}.csv", b"x\n") for c in "abcde"]))

    assert _invalid("titanic", path).problems == [
        "the zip holds 5 files (first: a.csv, b.csv, c.csv); expected one CSV"
    ]


@pytest.mark.parametrize(
    "members",
    [
        pytest.param([], id="no-members"),
        pytest.param([("results/", b"")], id="a-directory"),
        pytest.param([("__MACOSX/._preds.csv", b"\x00\x05"), (".DS_Store", b"\x00")], id="junk"),
    ],
)
def test_a_zip_without_a_file_says_so(
    titanic: Path, tmp_path: Path, members: list[tuple[str, bytes]]
) -> None:
    path = _write(tmp_path / "preds.zip", _zip(members))

    assert str(_invalid("titanic", path)) == f"{path}: the zip holds no file"


def test_macos_junk_and_directories_in_a_zip_are_ignored(titanic: Path, tmp_path: Path) -> None:
    data = _text(_zeros(_sample_ids(titanic)))
    members = [
        ("results/", b""),
        ("results/preds.csv", data),
        ("results/.DS_Store", b"\x00\x00\x00\x01Bud1"),
        ("__MACOSX/results/._preds.csv", b"\x00\x05\x16\x07"),
    ]
    path = _write(tmp_path / "preds.zip", _zip(members))

    assert harness.validate("titanic", path).ids.tolist() == _sample_ids(titanic)


def test_a_zip_holding_a_compressed_file_is_refused(titanic: Path, tmp_path: Path) -> None:
    inner = gzip.compress(_text(_zeros(_sample_ids(titanic))))
    path = _write(tmp_path / "preds.zip", _zip([("preds.csv.gz", inner)]))

    assert _invalid("titanic", path).problems == [
        "the zip holds a compressed file (preds.csv.gz); expected one CSV"
    ]


def test_an_encrypted_zip_member_is_refused(titanic: Path, tmp_path: Path) -> None:
    data = bytearray(_zip([("preds.csv", _text(_zeros(_sample_ids(titanic))))]))
    for signature, flags in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):  # local, central header
        at = data.index(signature) + flags
        data[at] |= 0x01  # the "encrypted" flag bit
    path = _write(tmp_path / "preds.zip", bytes(data))

    assert _invalid("titanic", path).problems == ["the zip's file preds.csv is encrypted"]


# ---------------------------------------------------------------------------------------------
# Broken archives
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("preds.csv.gz", "not a gzip file (named .gz)"),
        ("preds.csv.bz2", "not a bzip2 file (named .bz2)"),
        ("preds.csv.xz", "not an xz file (named .xz)"),
        ("preds.zip", "not a zip file (named .zip)"),
        ("preds.csv.GZ", "not a gzip file (named .GZ)"),
    ],
)
def test_a_plain_csv_with_a_compression_suffix_is_not_that_format(
    titanic: Path, tmp_path: Path, name: str, problem: str
) -> None:
    path = _write(tmp_path / name, _text(_zeros(_sample_ids(titanic))))

    assert str(_invalid("titanic", path)) == f"{path}: {problem}"


def test_a_zip_named_gz_says_what_it_is(titanic: Path, tmp_path: Path) -> None:
    path = _write(tmp_path / "preds.csv.gz", _zip([("preds.csv", b"PassengerId,Survived\n")]))

    assert _invalid("titanic", path).problems == [
        "not a gzip file (named .gz, but it is a zip file)"
    ]


ENDED = "compressed file ended before the end-of-stream marker was reached"


@pytest.mark.parametrize(
    ("ending", "problem"),
    [
        (".csv.gz", f"the gzip data is corrupt or truncated ({ENDED})"),
        (".csv.bz2", f"the bzip2 data is corrupt or truncated ({ENDED})"),
        (".csv.xz", f"the xz data is corrupt or truncated ({ENDED})"),
        (".zip", "the zip data is corrupt or truncated (its list of files is unreadable)"),
    ],
)
def test_a_truncated_file_is_reported_as_corrupt_or_truncated(
    titanic: Path, tmp_path: Path, ending: str, problem: str
) -> None:
    whole = COMPRESS[ending](_text(_zeros(_sample_ids(titanic))))
    path = _write(tmp_path / f"preds{ending}", whole[: len(whole) // 2])

    assert str(_invalid("titanic", path)) == f"{path}: {problem}"


def test_corrupt_gzip_data_names_zlibs_complaint(titanic: Path, tmp_path: Path) -> None:
    whole = bytearray(gzip.compress(_text(_zeros(_sample_ids(titanic)))))
    whole[20:60] = b"\xff" * 40
    path = _write(tmp_path / "preds.csv.gz", bytes(whole))

    (problem,) = _invalid("titanic", path).problems

    assert problem.startswith("the gzip data is corrupt or truncated (")
    assert "Traceback" not in problem


def test_a_gzip_with_a_wrong_checksum_is_corrupt(titanic: Path, tmp_path: Path) -> None:
    whole = bytearray(gzip.compress(_text(_zeros(_sample_ids(titanic)))))
    whole[-8] ^= 0xFF  # the CRC-32 of the data, in the trailer
    path = _write(tmp_path / "preds.csv.gz", bytes(whole))

    (problem,) = _invalid("titanic", path).problems

    assert problem.startswith("the gzip data is corrupt or truncated (CRC check failed ")


def test_a_zip_member_with_a_wrong_checksum_is_corrupt(titanic: Path, tmp_path: Path) -> None:
    data = _text(_zeros(_sample_ids(titanic)))
    archive = bytearray(_zip([("preds.csv", data)]))
    for signature, crc in ((b"PK\x03\x04", 14), (b"PK\x01\x02", 16)):
        archive[archive.index(signature) + crc] ^= 0xFF
    path = _write(tmp_path / "preds.zip", bytes(archive))

    assert _invalid("titanic", path).problems == [
        "the zip data is corrupt or truncated (bad CRC-32 for file 'preds.csv')"
    ]


@FORMATS
def test_more_decompressed_data_than_the_limit_is_refused(
    titanic: Path, tmp_path: Path, ending: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(submission_file, "MAX_DECOMPRESSED", 1024)
    path = _compressed(tmp_path, ending, _text(_zeros(_sample_ids(titanic))))  # 1.3 kB

    assert str(_invalid("titanic", path)) == (
        f"{path}: the file decompresses to more than 1 KiB, the limit for a submission"
    )


def test_the_decompression_limit_is_two_gib() -> None:
    assert submission_file.MAX_DECOMPRESSED == 2 * 1024**3
    assert submission_file._size(submission_file.MAX_DECOMPRESSED) == "2 GiB"


@pytest.mark.parametrize("name", ["preds.7z", "preds.rar", "preds.tar", "preds.zst"])
def test_archives_kaggle_formats_are_not_accepted_by_name(
    titanic: Path, tmp_path: Path, name: str
) -> None:
    path = _write(tmp_path / name, _text(_zeros(_sample_ids(titanic))))
    suffix = name.rsplit(".", 1)[-1]

    assert _invalid("titanic", path).problems == [
        f"a .{suffix} archive is not accepted: submit a CSV, plain or as .zip, .gz, .bz2 or .xz"
    ]


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------


@FORMATS
def test_cli_validate_accepts_a_compressed_file(
    titanic: Path, tmp_path: Path, ending: str
) -> None:
    path = _compressed(tmp_path, ending, _text(_zeros(_sample_ids(titanic))))

    result = CliRunner().invoke(cli, ["validate", "titanic", path])

    assert result.exit_code == 0, result.output
    assert result.stdout == f"{path}: valid submission for titanic (179 rows).\n"


def _two_files(ids: list[int]) -> bytes:
    return _zip([("a.csv", _text(_zeros(ids))), ("b.csv", _text(_zeros(ids)))])


def _truncated(ids: list[int]) -> bytes:
    return gzip.compress(_text(_zeros(ids)))[:-20]


@pytest.mark.parametrize(
    ("name", "make", "problem"),
    [
        ("preds.zip", _two_files, "the zip holds 2 files (a.csv, b.csv); expected one CSV"),
        ("preds.zip", lambda ids: _zip([]), "the zip holds no file"),
        ("preds.zip", lambda ids: _text(_zeros(ids)), "not a zip file (named .zip)"),
        ("preds.csv.gz", lambda ids: _text(_zeros(ids)), "not a gzip file (named .gz)"),
        ("preds.csv.bz2", lambda ids: _text(_zeros(ids)), "not a bzip2 file (named .bz2)"),
        ("preds.csv.xz", lambda ids: _text(_zeros(ids)), "not an xz file (named .xz)"),
        ("preds.csv.gz", _truncated, f"the gzip data is corrupt or truncated ({ENDED})"),
        ("preds.csv.gz", lambda ids: gzip.compress(b""), "the file is empty"),
        (
            "preds.csv.gz",
            lambda ids: gzip.compress(_text(_zeros(ids, {2: ""}))),
            "'Survived' is empty on 1 line (line 4)",
        ),
    ],
    ids=[
        "two-files",
        "empty-zip",
        "plain-zip",
        "plain-gz",
        "plain-bz2",
        "plain-xz",
        "truncated-gz",
        "empty-gz",
        "bad-value-gz",
    ],
)
def test_cli_validate_reports_a_broken_compressed_file_and_exits_1(
    titanic: Path, tmp_path: Path, name: str, make: Callable[[list[int]], bytes], problem: str
) -> None:
    path = _write(tmp_path / name, make(_sample_ids(titanic)))

    assert _cli_error(path) == f"Error: {path}: {problem}\n"


# ---------------------------------------------------------------------------------------------
# A DataFrame's rows, not a file's lines
# ---------------------------------------------------------------------------------------------


def _frame_problems(frame: pd.DataFrame, tmp_path: Path, settings: Settings) -> list[str]:
    """What ``validate`` reports for ``frame`` written as ``harness.validate`` writes it."""
    path = tmp_path / "submission.csv"
    frame.to_csv(path, index=False)
    with pytest.raises(InvalidSubmission) as info:
        validation.validate(
            get_competition("titanic"), settings, path, name="DataFrame", dataframe=True
        )
    assert info.value.source == "DataFrame"
    return info.value.problems


def test_a_dataframe_names_its_rows_by_position(
    titanic: Path, tmp_path: Path, settings: Settings
) -> None:
    ids = _sample_ids(titanic)
    frame = pd.DataFrame({"PassengerId": ids, "Survived": [0] * len(ids)}, dtype=object)
    frame.loc[1, "Survived"] = None
    frame.loc[[4, 6], "Survived"] = "2"
    frame.loc[9, "Survived"] = "yes"
    frame.loc[3, "PassengerId"] = None
    frame.index = frame.index + 100  # a label index: rows are still named by position

    assert _frame_problems(frame, tmp_path, settings) == [
        "1 empty id (row 3)",
        f"1 id missing (first: {ids[3]})",
        "'Survived' is empty on 1 row (row 1)",
        "'Survived' must be one of 0, 1; 3 rows are not "
        "(first: row 4 '2', row 6 '2', row 9 'yes')",
    ]


def test_several_empty_values_in_a_dataframe_are_counted_in_rows(
    titanic: Path, tmp_path: Path, settings: Settings
) -> None:
    ids = _sample_ids(titanic)
    values: list[float | None] = [0.0] * len(ids)
    for row in (0, 5, 9, 20):
        values[row] = None
    frame = pd.DataFrame({"PassengerId": ids, "Survived": values})

    assert _frame_problems(frame, tmp_path, settings) == [
        "'Survived' is empty on 4 rows (first: rows 0, 5, 9)"
    ]


def test_a_value_with_a_line_break_does_not_shift_dataframe_rows(
    titanic: Path, tmp_path: Path, settings: Settings
) -> None:
    ids = _sample_ids(titanic)
    frame = pd.DataFrame({"PassengerId": ids, "Survived": ["0"] * len(ids)})
    frame.loc[2, "Survived"] = "0\n1"  # quoted over two lines of the file
    frame.loc[7, "Survived"] = "3"

    assert _frame_problems(frame, tmp_path, settings) == [
        "'Survived' must be one of 0, 1; 2 rows are not (first: row 2 '0\\n1', row 7 '3')"
    ]


def test_the_same_file_without_dataframe_names_lines(
    titanic: Path, tmp_path: Path, settings: Settings
) -> None:
    ids = _sample_ids(titanic)
    path = tmp_path / "submission.csv"
    pd.DataFrame({"PassengerId": ids, "Survived": [0, None, *[0] * (len(ids) - 2)]}).to_csv(
        path, index=False
    )

    with pytest.raises(InvalidSubmission) as info:
        validation.validate(get_competition("titanic"), settings, path)

    assert info.value.problems == ["'Survived' is empty on 1 line (line 3)"]


def test_harness_validate_of_a_dataframe_names_rows(titanic: Path) -> None:
    ids = _sample_ids(titanic)
    frame = pd.DataFrame({"PassengerId": ids, "Survived": [0, None, *[0] * (len(ids) - 2)]})

    assert str(_invalid("titanic", frame)) == "DataFrame: 'Survived' is empty on 1 row (row 1)"
