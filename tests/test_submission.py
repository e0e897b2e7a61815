"""The submission validator (``harness.validate`` and ``harness validate``) and scoring.

Every message a user can see is pinned word for word. Files are written as bytes, so line
endings and encodings are exactly what each test says.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import harness
from harness.cli import cli
from harness.data.scoring import score
from harness.errors import InvalidSubmission
from harness.registry import competitions, get_competition
from harness.settings import Settings

HEADER = "PassengerId,Survived"


def _sample_ids(public: Path) -> list[int]:
    return pd.read_csv(public / "sample_submission.csv")["PassengerId"].tolist()


def _answers(home: Path, competition: str) -> pd.DataFrame:
    return pd.read_csv(home / "private" / competition / "answers.csv")


def _write(path: Path, text: str | bytes) -> str:
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return str(path)


def _csv(path: Path, header: str, rows: list[str]) -> str:
    return _write(path, "".join(f"{line}\n" for line in [header, *rows]))


def _invalid(competition: str, predictions: object) -> InvalidSubmission:
    with pytest.raises(InvalidSubmission) as info:
        harness.validate(competition, predictions)
    return info.value


def _zeros(ids: Sequence[object], changes: dict[int, str] | None = None) -> list[str]:
    """One ``id,0`` row per id; ``changes`` replaces the value on some rows (by row index)."""
    changes = changes or {}
    return [f"{i},{changes.get(k, '0')}" for k, i in enumerate(ids)]


# ---------------------------------------------------------------------------------------------
# Files that cannot be read
# ---------------------------------------------------------------------------------------------


def test_a_missing_file_is_reported_as_not_found(titanic: Path, tmp_path: Path) -> None:
    path = str(tmp_path / "preds.csv")

    error = _invalid("titanic", path)

    assert str(error) == f"{path}: file not found"
    assert error.source == path
    assert error.problems == ["file not found"]


def test_a_directory_is_reported_as_not_a_file(titanic: Path, tmp_path: Path) -> None:
    assert str(_invalid("titanic", str(tmp_path))) == f"{tmp_path}: not a file"


def test_an_empty_file_is_reported_as_empty(titanic: Path, tmp_path: Path) -> None:
    path = _write(tmp_path / "preds.csv", b"")

    assert str(_invalid("titanic", path)) == f"{path}: the file is empty"


def test_a_file_of_blank_lines_has_no_header_row(titanic: Path, tmp_path: Path) -> None:
    path = _write(tmp_path / "preds.csv", "\n\n\n")

    assert str(_invalid("titanic", path)) == f"{path}: no header row: the file holds no CSV data"


def test_a_binary_file_is_reported_as_not_utf8_text(titanic: Path, tmp_path: Path) -> None:
    path = _write(tmp_path / "preds.png", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")

    assert str(_invalid("titanic", path)) == f"{path}: not UTF-8 text (byte 0)"


def test_a_latin1_file_names_the_offset_of_the_first_bad_byte(
    titanic: Path, tmp_path: Path
) -> None:
    path = _write(
        tmp_path / "preds.csv", "PassengerId,Survived\n1,0\n9,caf\xe9\n".encode("latin-1")
    )

    # "PassengerId,Survived\n" is 21 bytes, "1,0\n" 4, "9,caf" 5: the é is byte 30.
    assert str(_invalid("titanic", path)) == f"{path}: not UTF-8 text (byte 30)"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param(
            "PassengerId,Survived\n1,0\n9,0,1\n",
            "not a valid CSV: line 3 has 3 fields, expected 2",
            id="lf",
        ),
        pytest.param(
            "PassengerId,Survived\r\n1,0\r\n9,0\r\n19,0,1,1\r\n",
            "not a valid CSV: line 4 has 4 fields, expected 2",
            id="crlf",
        ),
        pytest.param(
            "\ufeffPassengerId,Survived\n1,0\n9,0,1\n",
            "not a valid CSV: line 3 has 3 fields, expected 2",
            id="bom",
        ),
    ],
)
def test_ragged_rows_name_the_line_and_the_field_counts(
    titanic: Path, tmp_path: Path, text: str, message: str
) -> None:
    path = _write(tmp_path / "preds.csv", text)

    error = _invalid("titanic", path)

    assert str(error) == f"{path}: {message}"
    assert error.problems == [message]


def test_an_unclosed_quote_names_the_files_own_line(titanic: Path, tmp_path: Path) -> None:
    path = _write(tmp_path / "preds.csv", 'PassengerId,Survived\n1,"0\n9,0\n')

    error = _invalid("titanic", path)

    assert error.problems[0].startswith("not a valid CSV: ")
    assert "C error" not in str(error)
    assert "line 2" in str(error)


# ---------------------------------------------------------------------------------------------
# Columns
# ---------------------------------------------------------------------------------------------


def test_a_misspelt_column_is_missing_with_a_did_you_mean_suggestion(
    titanic: Path, tmp_path: Path
) -> None:
    path = _csv(tmp_path / "preds.csv", "PassengerId,survived", _zeros(_sample_ids(titanic)))

    error = _invalid("titanic", path)

    assert error.problems == [
        "missing column 'Survived' (did you mean 'survived'?)",
        "unexpected column 'survived'",
    ]
    assert str(error) == (
        f"{path}: missing column 'Survived' (did you mean 'survived'?); "
        "unexpected column 'survived'"
    )


def test_a_missing_id_column_is_reported_with_the_close_spelling(
    titanic: Path, tmp_path: Path
) -> None:
    path = _csv(tmp_path / "preds.csv", "Passenger_Id,Survived", _zeros(_sample_ids(titanic)))

    assert str(_invalid("titanic", path)) == (
        f"{path}: missing column 'PassengerId' (did you mean 'Passenger_Id'?); "
        "unexpected column 'Passenger_Id'"
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        pytest.param(["Name"], "unexpected column 'Name'", id="one"),
        pytest.param(["Name", "Age"], "unexpected columns 'Name', 'Age'", id="two"),
    ],
)
def test_unexpected_columns_are_listed_in_file_order(
    titanic: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    header = ",".join([HEADER, *extra])
    rows = [row + ",x" * len(extra) for row in _zeros(_sample_ids(titanic))]
    path = _csv(tmp_path / "preds.csv", header, rows)

    assert str(_invalid("titanic", path)) == f"{path}: {message}"


# ---------------------------------------------------------------------------------------------
# Ids and row counts
# ---------------------------------------------------------------------------------------------


def test_a_short_file_reports_missing_ids_in_sample_order_and_the_row_count(
    titanic: Path, tmp_path: Path
) -> None:
    ids = _sample_ids(titanic)
    dropped = ids[170:] + ids[5:8]  # 9 + 3 = 12 ids; the first in sample order are ids[5:8]
    kept = [i for i in ids if i not in dropped]
    random.Random(0).shuffle(kept)
    path = _csv(tmp_path / "preds.csv", HEADER, _zeros(kept))

    error = _invalid("titanic", path)

    assert error.problems == [
        f"12 ids missing (first: {ids[5]}, {ids[6]}, {ids[7]})",
        "expected 179 rows, got 167",
    ]


def test_one_missing_id_is_singular(titanic: Path, tmp_path: Path) -> None:
    ids = _sample_ids(titanic)
    path = _csv(tmp_path / "preds.csv", HEADER, _zeros(ids[1:]))

    assert str(_invalid("titanic", path)) == (
        f"{path}: 1 id missing (first: {ids[0]}); expected 179 rows, got 178"
    )


def test_a_header_without_rows_misses_every_id(titanic: Path, tmp_path: Path) -> None:
    ids = _sample_ids(titanic)
    path = _csv(tmp_path / "preds.csv", HEADER, [])

    assert str(_invalid("titanic", path)) == (
        f"{path}: 179 ids missing (first: {ids[0]}, {ids[1]}, {ids[2]}); expected 179 rows, got 0"
    )


def test_submission_with_duplicate_ids_names_the_first_duplicate(
    titanic: Path, tmp_path: Path
) -> None:
    ids = _sample_ids(titanic)
    # ids[1] is repeated first (line 4), then ids[0] twice more: two ids are duplicated.
    order = [ids[1], ids[0], ids[1], ids[0], ids[0], *ids[2:-3]]
    path = _csv(tmp_path / "preds.csv", HEADER, _zeros(order))

    assert str(_invalid("titanic", path)) == (
        f"{path}: 2 duplicate ids (first: {ids[1]}, {ids[0]}); "
        f"3 ids missing (first: {ids[-3]}, {ids[-2]}, {ids[-1]})"
    )


def test_one_duplicated_id_is_singular_and_the_row_count_can_still_be_right(
    titanic: Path, tmp_path: Path
) -> None:
    ids = _sample_ids(titanic)
    path = _csv(tmp_path / "preds.csv", HEADER, _zeros([*ids[:-1], ids[10]]))

    assert str(_invalid("titanic", path)) == (
        f"{path}: 1 duplicate id (first: {ids[10]}); 1 id missing (first: {ids[-1]})"
    )


def test_unknown_ids_are_named_as_written(titanic: Path, tmp_path: Path) -> None:
    ids = _sample_ids(titanic)
    path = _csv(tmp_path / "preds.csv", HEADER, _zeros([*ids[:-3], 5000, 2, 1000]))
    assert 2 not in ids

    assert str(_invalid("titanic", path)) == (
        f"{path}: 3 ids missing (first: {ids[-3]}, {ids[-2]}, {ids[-1]}); "
        "3 unknown ids (first: 5000, 2, 1000)"
    )


def test_text_ids_are_unknown_ids(titanic: Path, tmp_path: Path) -> None:
    ids = _sample_ids(titanic)
    path = _csv(tmp_path / "preds.csv", HEADER, _zeros([*ids[:-1], "abc"]))

    assert str(_invalid("titanic", path)) == (
        f"{path}: 1 id missing (first: {ids[-1]}); 1 unknown id (first: abc)"
    )


@pytest.mark.parametrize(
    ("blank_rows", "where"),
    [
        pytest.param([4], "line 6", id="one"),
        pytest.param([0, 3, 4, 9], "first: lines 2, 5, 6", id="several"),
    ],
)
def test_empty_ids_name_their_lines(
    titanic: Path, tmp_path: Path, blank_rows: list[int], where: str
) -> None:
    ids = _sample_ids(titanic)
    written: list[object] = ["" if k in blank_rows else i for k, i in enumerate(ids)]
    path = _csv(tmp_path / "preds.csv", HEADER, _zeros(written))
    missing = [i for k, i in enumerate(ids) if k in blank_rows]
    n = len(blank_rows)

    assert _invalid("titanic", path).problems == [
        f"{n} empty id{'s' if n > 1 else ''} ({where})",
        f"{n} id{'s' if n > 1 else ''} missing (first: {', '.join(map(str, missing[:3]))})",
    ]


@pytest.mark.parametrize(
    ("odd", "problem"),
    [
        pytest.param("", "1 empty id (line 180)", id="empty-id"),
        pytest.param("77.5", "", id="fractional-id"),
    ],
)
def test_unknown_ids_are_named_as_written_even_when_pandas_reads_floats(
    titanic: Path, tmp_path: Path, odd: str, problem: str
) -> None:
    ids = _sample_ids(titanic)
    path = _csv(tmp_path / "preds.csv", HEADER, _zeros([*ids[:-2], 5000, odd]))
    unknown = "1 unknown id (first: 5000)" if problem else "2 unknown ids (first: 5000, 77.5)"

    assert _invalid("titanic", path).problems == [
        *([problem] if problem else []),
        f"2 ids missing (first: {ids[-2]}, {ids[-1]})",
        unknown,
    ]


# ---------------------------------------------------------------------------------------------
# Values
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("blank_rows", "where"),
    [
        pytest.param([3], "on 1 line (line 5)", id="one"),
        pytest.param([1, 3], "on 2 lines (first: lines 3, 5)", id="two"),
        pytest.param([1, 3, 7, 100], "on 4 lines (first: lines 3, 5, 9)", id="four"),
    ],
)
def test_empty_values_name_their_lines(
    titanic: Path, tmp_path: Path, blank_rows: list[int], where: str
) -> None:
    rows = _zeros(_sample_ids(titanic), dict.fromkeys(blank_rows, ""))
    path = _csv(tmp_path / "preds.csv", HEADER, rows)

    assert str(_invalid("titanic", path)) == f"{path}: 'Survived' is empty {where}"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {0: "2", 3: "3"},
            "'Survived' must be one of 0, 1; 2 lines are not (first: line 2 '2', line 5 '3')",
            id="integers",
        ),
        pytest.param(
            {7: "0.5"},
            "'Survived' must be one of 0, 1; 1 line is not (first: line 9 '0.5')",
            id="probability",
        ),
        pytest.param(
            {0: "-1", 1: "2", 2: "3", 3: "4"},
            "'Survived' must be one of 0, 1; 4 lines are not "
            "(first: line 2 '-1', line 3 '2', line 4 '3')",
            id="more-than-three",
        ),
    ],
)
def test_labels_outside_zero_and_one_name_the_first_offending_lines(
    titanic: Path, tmp_path: Path, changes: dict[int, str], message: str
) -> None:
    path = _csv(tmp_path / "preds.csv", HEADER, _zeros(_sample_ids(titanic), changes))

    assert str(_invalid("titanic", path)) == f"{path}: {message}"


def test_a_word_among_integer_labels_is_reported_as_not_one_of_the_labels(
    titanic: Path, tmp_path: Path
) -> None:
    path = _csv(tmp_path / "preds.csv", HEADER, _zeros(_sample_ids(titanic), {0: "2", 3: "yes"}))

    assert str(_invalid("titanic", path)) == (
        f"{path}: 'Survived' must be one of 0, 1; 2 lines are not "
        "(first: line 2 '2', line 5 'yes')"
    )


def test_bad_labels_are_quoted_as_written_even_next_to_an_empty_value(
    titanic: Path, tmp_path: Path
) -> None:
    path = _csv(tmp_path / "preds.csv", HEADER, _zeros(_sample_ids(titanic), {0: "2", 3: ""}))

    assert str(_invalid("titanic", path)) == (
        f"{path}: 'Survived' is empty on 1 line (line 5); "
        "'Survived' must be one of 0, 1; 1 line is not (first: line 2 '2')"
    )


def test_line_numbers_are_the_files_own_after_a_blank_line(titanic: Path, tmp_path: Path) -> None:
    rows = _zeros(_sample_ids(titanic), {2: "2"})
    path = _write(tmp_path / "preds.csv", "\n".join([HEADER, rows[0], "", *rows[1:]]) + "\n")

    # The header is line 1, the first row line 2, the blank line 3: the '2' is on line 5.
    assert str(_invalid("titanic", path)) == (
        f"{path}: 'Survived' must be one of 0, 1; 1 line is not (first: line 5 '2')"
    )


def _prices(house_prices: Path, changes: dict[int, str]) -> list[str]:
    ids = pd.read_csv(house_prices / "sample_submission.csv")["Id"].tolist()
    return [f"{i},{changes.get(k, '180000')}" for k, i in enumerate(ids)]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        pytest.param(
            {0: "abc", 9: "NA", 10: "$200,000"},
            "'SalePrice' must be a number; 3 lines are not "
            "(first: line 2 'abc', line 11 'NA', line 12 '$200,000')",
            id="not-a-number",
        ),
        pytest.param(
            {4: "inf"},
            "'SalePrice' must be finite; 1 line is not (first: line 6 'inf')",
            id="infinite",
        ),
        pytest.param(
            {5: "0", 6: "-120000"},
            "'SalePrice' must be positive (rmse_log takes its logarithm); 2 lines are not "
            "(first: line 7 '0', line 8 '-120000')",
            id="not-positive",
        ),
    ],
)
def test_sale_prices_must_be_positive_finite_numbers(
    house_prices: Path, tmp_path: Path, changes: dict[int, str], message: str
) -> None:
    rows = _prices(house_prices, changes)
    if "$200,000" in changes.values():
        rows = [r.replace("$200,000", '"$200,000"') for r in rows]
    path = _csv(tmp_path / "preds.csv", "Id,SalePrice", rows)

    error = _invalid("house-prices", path)

    assert str(error) == f"{path}: {message}"
    assert error.problems == [message]


def test_every_kind_of_bad_sale_price_is_reported_at_once_in_rule_order(
    house_prices: Path, tmp_path: Path
) -> None:
    rows = _prices(house_prices, {0: "abc", 2: "inf", 4: "-5", 5: "0", 6: ""})
    path = _csv(tmp_path / "preds.csv", "Id,SalePrice", rows)

    assert _invalid("house-prices", path).problems == [
        "'SalePrice' is empty on 1 line (line 8)",
        "'SalePrice' must be a number; 1 line is not (first: line 2 'abc')",
        "'SalePrice' must be finite; 1 line is not (first: line 4 'inf')",
        "'SalePrice' must be positive (rmse_log takes its logarithm); 2 lines are not "
        "(first: line 6 '-5', line 7 '0')",
    ]


def test_negative_infinity_is_reported_once_as_not_finite(
    house_prices: Path, tmp_path: Path
) -> None:
    path = _csv(tmp_path / "preds.csv", "Id,SalePrice", _prices(house_prices, {3: "-inf"}))

    assert _invalid("house-prices", path).problems == [
        "'SalePrice' must be finite; 1 line is not (first: line 5 '-inf')",
    ]


# ---------------------------------------------------------------------------------------------
# Every problem at once
# ---------------------------------------------------------------------------------------------


def test_the_issue_example_lists_missing_column_missing_ids_and_row_count_in_one_message(
    titanic: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ids = _sample_ids(titanic)
    dropped = ids[3::14][:12]
    kept = [i for i in ids if i not in dropped]
    monkeypatch.chdir(tmp_path)
    _csv(tmp_path / "preds.csv", "PassengerId", [str(i) for i in kept])

    error = _invalid("titanic", "preds.csv")

    assert str(error) == (
        "preds.csv: missing column 'Survived'; "
        f"12 ids missing (first: {dropped[0]}, {dropped[1]}, {dropped[2]}); "
        "expected 179 rows, got 167"
    )
    assert error.source == "preds.csv"
    assert len(error.problems) == 3


def test_every_problem_in_a_bad_file_is_reported_at_once_in_order(
    titanic: Path, tmp_path: Path
) -> None:
    ids = _sample_ids(titanic)
    written = [*ids[:-4], ids[0], 9999, 12345, ids[1], ids[1]]  # 180 rows
    values = ["0", "", "0.5", *["1"] * (len(written) - 3)]
    rows = [f"{i},{v},x" for i, v in zip(written, values, strict=True)]
    path = _csv(tmp_path / "preds.csv", "PassengerId,Survived,Notes", rows)

    error = _invalid("titanic", path)

    assert error.problems == [
        "unexpected column 'Notes'",
        f"2 duplicate ids (first: {ids[0]}, {ids[1]})",
        f"4 ids missing (first: {ids[-4]}, {ids[-3]}, {ids[-2]})",
        "2 unknown ids (first: 9999, 12345)",
        "expected 179 rows, got 180",
        "'Survived' is empty on 1 line (line 3)",
        "'Survived' must be one of 0, 1; 1 line is not (first: line 4 '0.5')",
    ]
    assert str(error) == f"{path}: " + "; ".join(error.problems)


# ---------------------------------------------------------------------------------------------
# What is tolerated
# ---------------------------------------------------------------------------------------------


def _plain(rows: list[tuple[int, int]]) -> str:
    return "".join(f"{line}\n" for line in [HEADER, *(f"{i},{v}" for i, v in rows)])


TOLERATED: dict[str, Callable[[list[tuple[int, int]]], str | bytes]] = {
    "plain": _plain,
    "utf-8 BOM": lambda rows: b"\xef\xbb\xbf" + _plain(rows).encode(),
    "CRLF line endings": lambda rows: _plain(rows).replace("\n", "\r\n"),
    "BOM and CRLF": lambda rows: b"\xef\xbb\xbf" + _plain(rows).replace("\n", "\r\n").encode(),
    "quoted numbers": lambda rows: (
        '"PassengerId","Survived"\n' + "".join(f'"{i}","{v}"\n' for i, v in rows)
    ),
    "columns in another order": lambda rows: (
        "Survived,PassengerId\n" + "".join(f"{v},{i}\n" for i, v in rows)
    ),
    "no trailing newline": lambda rows: _plain(rows).rstrip("\n"),
    "blank lines at the end": lambda rows: _plain(rows) + "\n\n",
    "spaces around header names": lambda rows: (
        " PassengerId , Survived \n" + "".join(f"{i},{v}\n" for i, v in rows)
    ),
    "spaces around values": lambda rows: HEADER + "\n" + "".join(f"{i}, {v} \n" for i, v in rows),
    "float labels": lambda rows: HEADER + "\n" + "".join(f"{i},{v}.0\n" for i, v in rows),
    "ids written as floats": lambda rows: HEADER + "\n" + "".join(f"{i}.0,{v}\n" for i, v in rows),
}


@pytest.mark.parametrize("shuffled", [False, True], ids=["sample-order", "shuffled"])
@pytest.mark.parametrize("variant", list(TOLERATED))
def test_a_tolerated_variation_validates_and_aligns_to_sample_order(
    titanic: Path, tmp_path: Path, variant: str, shuffled: bool
) -> None:
    ids = _sample_ids(titanic)
    rng = random.Random(variant)
    predicted = {i: rng.randint(0, 1) for i in ids}
    rows = list(predicted.items())
    if shuffled:
        rng.shuffle(rows)
    path = _write(tmp_path / "preds.csv", TOLERATED[variant](rows))

    aligned = harness.validate("titanic", path)

    assert aligned.source == path
    assert aligned.ids.tolist() == ids
    assert list(aligned.predictions) == ["Survived"]
    survived = aligned.predictions["Survived"]
    assert survived.dtype.kind == "i"
    assert survived.tolist() == [predicted[i] for i in ids]


def test_shuffled_sale_prices_come_back_in_sample_order(
    house_prices: Path, tmp_path: Path
) -> None:
    ids = pd.read_csv(house_prices / "sample_submission.csv")["Id"].tolist()
    rng = random.Random(1)
    predicted = {i: round(rng.uniform(5e4, 5e5), 2) for i in ids}
    rows = list(predicted.items())
    rng.shuffle(rows)
    path = _csv(tmp_path / "preds.csv", "SalePrice,Id", [f"{v},{i}" for i, v in rows])

    aligned = harness.validate("house-prices", path)

    assert aligned.ids.tolist() == ids
    assert aligned.predictions["SalePrice"].dtype == np.float64
    assert aligned.predictions["SalePrice"].tolist() == [predicted[i] for i in ids]


def test_a_dataframe_validates_as_well_as_a_path(titanic: Path) -> None:
    ids = _sample_ids(titanic)
    rng = random.Random(2)
    predicted = {i: rng.randint(0, 1) for i in ids}
    shuffled = list(predicted)
    rng.shuffle(shuffled)
    frame = pd.DataFrame({"Survived": [predicted[i] for i in shuffled], "PassengerId": shuffled})

    aligned = harness.validate("titanic", frame)

    assert aligned.source == "DataFrame"
    assert aligned.ids.tolist() == ids
    assert aligned.predictions["Survived"].tolist() == [predicted[i] for i in ids]


def test_an_invalid_dataframe_is_reported_as_dataframe(titanic: Path) -> None:
    ids = _sample_ids(titanic)
    frame = pd.DataFrame({"PassengerId": ids[1:], "Survived": 0})

    assert str(_invalid("titanic", frame)) == (
        f"DataFrame: 1 id missing (first: {ids[0]}); expected 179 rows, got 178"
    )


def test_something_other_than_a_path_or_a_dataframe_is_a_type_error(titanic: Path) -> None:
    with pytest.raises(TypeError) as info:
        harness.validate("titanic", [1, 0, 1])

    assert str(info.value) == "predictions must be a CSV path or a pandas DataFrame, got list"


# ---------------------------------------------------------------------------------------------
# The command line
# ---------------------------------------------------------------------------------------------


def test_cli_validate_prints_the_error_on_stderr_and_exits_1(
    titanic: Path, tmp_path: Path
) -> None:
    ids = _sample_ids(titanic)
    path = _csv(tmp_path / "bad.csv", HEADER, _zeros(ids[:-1]))

    result = CliRunner().invoke(cli, ["validate", "titanic", path])

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: {path}: 1 id missing (first: {ids[-1]}); expected 179 rows, got 178\n"
    )


def test_cli_validate_accepts_a_valid_file_and_exits_0(titanic: Path, tmp_path: Path) -> None:
    path = _csv(tmp_path / "good.csv", HEADER, _zeros(_sample_ids(titanic)))

    result = CliRunner().invoke(cli, ["validate", "titanic", path])

    assert result.exit_code == 0, result.output
    assert result.stdout == f"{path}: valid submission for titanic (179 rows).\n"
    assert result.stderr == ""


def test_cli_validate_an_unknown_competition_exits_2_and_suggests_the_closest(
    titanic: Path, tmp_path: Path
) -> None:
    path = _csv(tmp_path / "good.csv", HEADER, _zeros(_sample_ids(titanic)))

    result = CliRunner().invoke(cli, ["validate", "titanik", path])

    assert result.exit_code == 2
    assert result.stdout == ""
    known = ", ".join(competitions())
    assert result.stderr.splitlines()[-1] == (
        "Error: Invalid value for 'COMPETITION': unknown competition 'titanik' "
        f"(did you mean 'titanic'?) — known: {known}"
    )


# ---------------------------------------------------------------------------------------------
# Scoring
# ---------------------------------------------------------------------------------------------


def test_the_answers_themselves_score_perfect_accuracy_on_both_leaderboards(
    home: Path, titanic: Path, settings: Settings, tmp_path: Path
) -> None:
    answers = _answers(home, "titanic").drop(columns="Usage").sample(frac=1.0, random_state=0)
    path = tmp_path / "perfect.csv"
    answers.to_csv(path, index=False)
    comp = get_competition("titanic")

    scores = score(comp, settings, harness.validate("titanic", str(path)))

    assert (scores.public, scores.private) == (1.0, 1.0)
    assert type(scores.public) is float
    assert scores.extra == {}


def test_the_sample_submission_scores_the_accuracy_of_predicting_zero_everywhere(
    home: Path, titanic: Path, settings: Settings
) -> None:
    answers = _answers(home, "titanic")
    public = answers["Usage"] == "Public"
    comp = get_competition("titanic")

    scores = score(comp, settings, harness.validate("titanic", titanic / "sample_submission.csv"))

    assert scores.public == pytest.approx((answers["Survived"][public] == 0).mean(), rel=1e-12)
    assert scores.private == pytest.approx((answers["Survived"][~public] == 0).mean(), rel=1e-12)


def test_the_answers_themselves_score_zero_rmse_log_on_both_leaderboards(
    home: Path, house_prices: Path, settings: Settings, tmp_path: Path
) -> None:
    answers = _answers(home, "house-prices").drop(columns="Usage").sample(frac=1.0, random_state=0)
    path = tmp_path / "perfect.csv"
    answers.to_csv(path, index=False)
    comp = get_competition("house-prices")

    scores = score(comp, settings, harness.validate("house-prices", str(path)))

    assert (scores.public, scores.private) == (0.0, 0.0)


def test_doubling_every_sale_price_scores_log_two(
    home: Path, house_prices: Path, settings: Settings, tmp_path: Path
) -> None:
    answers = _answers(home, "house-prices").drop(columns="Usage")
    answers["SalePrice"] = answers["SalePrice"] * 2
    path = tmp_path / "double.csv"
    answers.to_csv(path, index=False)
    comp = get_competition("house-prices")

    scores = score(comp, settings, harness.validate("house-prices", str(path)))

    assert scores.public == pytest.approx(np.log(2), rel=1e-12)
    assert scores.private == pytest.approx(np.log(2), rel=1e-12)


def test_true_and_false_are_not_the_labels_zero_and_one(titanic: Path, tmp_path: Path) -> None:
    ids = pd.read_csv(titanic / "sample_submission.csv")["PassengerId"].tolist()
    path = tmp_path / "bools.csv"
    path.write_text("PassengerId,Survived\n" + "".join(f"{i},True\n" for i in ids))
    with pytest.raises(InvalidSubmission) as info:
        harness.validate("titanic", path)
    assert info.value.problems == [
        f"'Survived' must be one of 0, 1; {len(ids)} lines are not "
        "(first: line 2 'True', line 3 'True', line 4 'True')"
    ]


def test_a_repeated_column_is_named_as_written(titanic: Path, tmp_path: Path) -> None:
    ids = pd.read_csv(titanic / "sample_submission.csv")["PassengerId"].tolist()
    path = tmp_path / "twice.csv"
    path.write_text("PassengerId,Survived,Survived\n" + "".join(f"{i},0,1\n" for i in ids))
    with pytest.raises(InvalidSubmission) as info:
        harness.validate("titanic", path)
    assert info.value.problems == ["duplicate column 'Survived'"]


def test_competition_names_are_not_case_sensitive(titanic: Path) -> None:
    assert harness.validate("Titanic", titanic / "sample_submission.csv").ids.size == 179
