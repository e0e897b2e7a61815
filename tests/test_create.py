"""`harness create ID --from DIR`: a host's folder of CSVs (Titanic's real rows, or a small table
built here) becomes a competition that every command works on; a malformed folder or metric file
is refused with its file and line named, and nothing is left behind."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from harness.cli import cli

TITANIC = Path(__file__).parents[1] / "competitions" / "titanic" / "raw" / "train.csv"

KAGGLE_ACCURACY = """
import pandas as pd


class ParticipantVisibleError(Exception):
    pass


def score(solution: pd.DataFrame, submission: pd.DataFrame, row_id_column_name: str) -> float:
    del solution[row_id_column_name]
    del submission[row_id_column_name]
    return float((solution["Survived"].to_numpy() == submission["Survived"].to_numpy()).mean())
"""

#: A regression metric (mean absolute error) with a participant-visible rule and a hidden crash.
GUARDED_MAE = """
import pandas as pd


class ParticipantVisibleError(Exception):
    pass


def score(solution: pd.DataFrame, submission: pd.DataFrame, row_id_column_name: str) -> float:
    if (submission["y"] < 0).any():
        raise ParticipantVisibleError("predictions must not be negative")
    if (submission["y"] > 1e6).any():
        raise KeyError("SECRET " + ",".join(map(str, solution["y"].head(3))))
    return float((solution["y"] - submission["y"]).abs().mean())
"""


def run(*args: str) -> object:
    return CliRunner().invoke(cli, list(args))


def ok(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    return result.stdout  # type: ignore[attr-defined,no-any-return]


def fails(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 1, result.output  # type: ignore[attr-defined]
    assert "Traceback" not in result.stderr  # type: ignore[attr-defined]
    return result.stderr  # type: ignore[attr-defined,no-any-return]


def titanic_folder(folder: Path, *, split: bool = False, usage: bool = False) -> Path:
    """Kaggle's labelled Titanic rows as a host has them: train alone, or the last 291 rows as
    a test with their labels apart (``usage``: with Kaggle's Usage column)."""
    folder.mkdir(parents=True)
    rows = pd.read_csv(TITANIC, dtype=str, keep_default_na=False)
    (folder / "description.md").write_text("# Who survives?\n\nPredict it.\n")
    if not split:
        rows.to_csv(folder / "train.csv", index=False)
        return folder
    train, test = rows.iloc[:600], rows.iloc[600:]
    train.to_csv(folder / "train.csv", index=False)
    test.drop(columns=["Survived"]).to_csv(folder / "test.csv", index=False)
    solution = test[["PassengerId", "Survived"]].copy()
    if usage:
        solution["Usage"] = np.where(np.arange(len(solution)) % 3 == 0, "Public", "Private")
    solution.to_csv(folder / "solution.csv", index=False)
    return folder


def regression_folder(folder: Path, n: int = 300) -> Path:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 3))
    y = np.round(50 + x @ np.array([3.0, -2.0, 1.0]) + rng.normal(size=n), 3)
    frame = pd.DataFrame({"row": np.arange(1, n + 1), "a": x[:, 0], "b": x[:, 1], "c": x[:, 2]})
    folder.mkdir(parents=True)
    frame.iloc[:200].assign(y=y[:200]).to_csv(folder / "train.csv", index=False)
    frame.iloc[200:].to_csv(folder / "test.csv", index=False)
    pd.DataFrame({"row": frame["row"].iloc[200:], "y": y[200:]}).to_csv(
        folder / "solution.csv", index=False
    )
    (folder / "metric.py").write_text(GUARDED_MAE)
    return folder


def nothing_left(home: Path, competition: str) -> None:
    assert not (home / "competitions" / competition).exists()
    assert not (home / "public" / competition).exists()
    assert not (home / "private" / competition).exists()
    staged = home / "competitions" / ".staging"
    assert not staged.exists() or not any(staged.iterdir())


def test_a_labelled_train_alone_becomes_a_competition_that_every_command_works_on(
    home: Path, tmp_path: Path
) -> None:
    folder = titanic_folder(tmp_path / "class")

    out = ok(
        "create", "class-titanic", "--from", str(folder), "--metric", "accuracy",
        "--target", "Survived",
    )  # fmt: skip

    assert "class-titanic created from" in out and "712 train rows, 179 test rows" in out
    assert "accuracy: the answers score 1, the sample submission 0.6" in out
    public = home / "public" / "class-titanic"
    assert sorted(p.name for p in public.iterdir()) == [
        "description.md",
        "sample_submission.csv",
        "test.csv",
        "train.csv",
    ]
    assert "Survived" not in (public / "test.csv").read_text().splitlines()[0]
    answers = pd.read_csv(home / "private" / "class-titanic" / "answers.csv")
    assert list(answers.columns) == ["PassengerId", "Survived", "Usage"]
    assert (answers["Usage"] == "Public").sum() == 89  # half of the 179, stratified
    train = pd.read_csv(public / "train.csv")
    assert not set(train["PassengerId"]) & set(answers["PassengerId"])
    # the stratified cut keeps the survival rate
    assert abs(train["Survived"].mean() - answers["Survived"].mean()) < 0.01

    listed = ok("list")
    assert re.search(r"class-titanic\s+│ tabular-classification │ accuracy", listed)
    assert "Predict it." in ok("describe", "class-titanic")
    sample = public / "sample_submission.csv"
    assert "bob's submission scored 0.6" in ok(
        "submit", "class-titanic", str(sample), "--as", "bob"
    )
    trained = ok("baseline", "class-titanic", "--model", "linear")
    assert re.search(r"class-titanic: linear CV 0\.[78]\d{4}", trained), trained
    board = ok("leaderboard", "class-titanic")
    assert "bob" in board and "baseline/linear" in board
    assert "nothing differs" in ok("verify", "class-titanic")


def test_the_same_folder_makes_the_same_competition(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    folder = titanic_folder(tmp_path / "class")
    made = []
    for name in ("a", "b"):
        monkeypatch.setenv("HARNESS_HOME", str(tmp_path / name))
        ok(
            "create",
            "seeded",
            "--from",
            str(folder),
            "--metric",
            "accuracy",
            "--target",
            "Survived",
        )
        made.append((tmp_path / name / "private" / "seeded" / "answers.csv").read_bytes())
    assert made[0] == made[1]


def test_a_test_with_its_solution_keeps_the_hosts_usage(home: Path, tmp_path: Path) -> None:
    folder = titanic_folder(tmp_path / "class", split=True, usage=True)

    out = ok("create", "kept", "--from", str(folder), "--metric", "accuracy")

    assert "600 train rows, 291 test rows" in out
    answers = pd.read_csv(home / "private" / "kept" / "answers.csv")
    given = pd.read_csv(folder / "solution.csv")
    assert answers.equals(given)


def test_home_given_as_an_option_finds_the_competition_created_there(tmp_path: Path) -> None:
    folder = titanic_folder(tmp_path / "class")
    other = tmp_path / "elsewhere"
    ok("create", "far", "--from", str(folder), "--metric", "accuracy", "--target", "Survived",
       "--home", str(other))  # fmt: skip

    assert "far" in ok("describe", "far", "--home", str(other)).lower()


@pytest.mark.parametrize(
    ("spoil", "message"),
    [
        (
            lambda f: _edit(f / "solution.csv", lambda t: t.rename(columns={"Survived": "S"})),
            "train.csv: missing the target column(s) 'S'",
        ),
        (
            lambda f: _edit(f / "train.csv", lambda t: pd.concat([t.iloc[[2]], t])),
            "train.csv: 1 duplicate id(s) in 'PassengerId'; the first, '3', is on lines 2, 5",
        ),
        (
            lambda f: _edit(
                f / "solution.csv",
                lambda t: pd.concat(
                    [t, pd.DataFrame({"PassengerId": ["5000"], "Survived": ["1"]})]
                ),
            ),
            "solution.csv: 1 label(s) for an id not in test.csv; the first, '5000', on line 293",
        ),
        (
            lambda f: _edit(
                f / "solution.csv",
                lambda t: t.assign(Survived=t["Survived"].where(t.index != 4, "")),
            ),
            "solution.csv: 1 empty label(s) in 'Survived' (line 6)",
        ),
        (
            lambda f: _edit(f / "solution.csv", lambda t: t.iloc[1:]),
            "test.csv: 1 id(s) without a label in solution.csv; the first, '601', on line 2",
        ),
        (
            lambda f: _edit(
                f / "solution.csv",
                lambda t: t.assign(Survived=t["Survived"].where(t.index != 10, "7")),
            ),
            "solution.csv: label '7' in 'Survived' never occurs in train.csv (1 row(s), line 12",
        ),
        (
            lambda f: (f / "test.csv").unlink(),
            "solution.csv without test.csv (in ",
        ),
    ],
    ids=[
        "missing-column",
        "duplicate-id",
        "unknown-id",
        "empty-label",
        "unlabelled",
        "unseen-label",
        "no-test",
    ],
)
def test_a_malformed_folder_is_refused_naming_file_and_line_and_leaves_nothing(
    home: Path, tmp_path: Path, spoil: object, message: str
) -> None:
    folder = titanic_folder(tmp_path / "class", split=True)
    spoil(folder)  # type: ignore[operator]

    err = fails("create", "broken", "--from", str(folder), "--metric", "accuracy")

    assert err.startswith(f"Error: {message}"), err
    nothing_left(home, "broken")
    assert "broken" not in ok("list")


def _edit(path: Path, change: object) -> None:
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    change(frame).to_csv(path, index=False)  # type: ignore[operator]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            "    raise ValueError('boom')\n",
            "metric.py: failed on the answers (line 2): ValueError: boom",
        ),
        ("    return float('nan')\n", "metric.py: failed on the answers: score() returned nan"),
        ("    return 'high'\n", "metric.py: failed on the answers: score() returned str, not a"),
        ("    return 0.5\n", "metric (higher is better) scores the answers themselves 0.5 and "),
        ("    return None\n", "metric.py: failed on the answers: score() returned NoneType"),
    ],
    ids=["raises", "nan", "text", "constant", "none"],
)
def test_a_metric_file_that_fails_on_the_answers_is_refused(
    home: Path, tmp_path: Path, body: str, message: str
) -> None:
    folder = titanic_folder(tmp_path / "class", split=True)
    metric = tmp_path / "metric.py"
    metric.write_text(
        "def score(solution, submission, row_id_column_name):\n" + body, encoding="utf-8"
    )

    err = fails(
        "create", "m", "--from", str(folder), "--metric-file", str(metric), "--higher-is-better"
    )

    assert err.startswith(f"Error: {message}"), err
    nothing_left(home, "m")


def test_a_metric_file_with_the_wrong_direction_is_refused(home: Path, tmp_path: Path) -> None:
    folder = titanic_folder(tmp_path / "class", split=True)
    (tmp_path / "metric.py").write_text(KAGGLE_ACCURACY)

    err = fails(
        "create", "m", "--from", str(folder), "--metric-file", str(tmp_path / "metric.py"),
        "--lower-is-better",
    )  # fmt: skip

    assert "metric (lower is better) scores the answers themselves 1 and the constant" in err
    nothing_left(home, "m")


def test_a_kaggle_metric_file_scores_like_the_named_metric(home: Path, tmp_path: Path) -> None:
    folder = titanic_folder(tmp_path / "class", split=True)
    (tmp_path / "metric.py").write_text(KAGGLE_ACCURACY)
    ok("create", "named", "--from", str(folder), "--metric", "accuracy")
    ok("create", "filed", "--from", str(folder), "--metric-file", str(tmp_path / "metric.py"),
       "--higher-is-better")  # fmt: skip
    rows = pd.read_csv(home / "public" / "named" / "test.csv")
    preds = pd.DataFrame(
        {"PassengerId": rows["PassengerId"], "Survived": (rows["Sex"] == "female").astype(int)}
    )
    preds.to_csv(tmp_path / "preds.csv", index=False)

    import harness

    scores = [
        harness.submit(c, tmp_path / "preds.csv", participant="ann").entry
        for c in ("named", "filed")
    ]
    assert scores[0].public_score == scores[1].public_score
    assert scores[0].private_score == scores[1].private_score
    assert 0.7 < scores[0].public_score < 0.9


def test_a_metric_files_own_error_is_shown_and_any_other_stays_with_the_host(
    home: Path, tmp_path: Path
) -> None:
    folder = regression_folder(tmp_path / "reg")
    out = ok(
        "create", "reg", "--from", str(folder), "--metric-file", str(folder / "metric.py"),
        "--lower-is-better",
    )  # fmt: skip
    assert "the answers score 0, the sample submission" in out
    sample = pd.read_csv(home / "public" / "reg" / "sample_submission.csv")

    sample.assign(y=-1.0).to_csv(tmp_path / "negative.csv", index=False)
    err = fails("submit", "reg", str(tmp_path / "negative.csv"), "--as", "ann")
    assert err == "Error: predictions must not be negative\n"

    sample.assign(y=1e7).to_csv(tmp_path / "huge.csv", index=False)
    err = fails("submit", "reg", str(tmp_path / "huge.csv"), "--as", "ann")
    assert err == "Error: the metric failed (the host has the details)\n"
    assert "SECRET" not in err
    log = (home / "competitions" / "reg" / "metric.log").read_text()
    assert "KeyError" in log and "SECRET" in log and "Traceback" in log

    listed = ok("submissions", "reg", "--as", "ann", "--format", "csv")
    assert "predictions must not be negative" in listed
    assert "the metric failed (the host has the details)" in listed and "SECRET" not in listed

    # the tabular baseline's cross-validation scores its folds with the metric file too
    trained = ok("baseline", "reg", "--model", "linear")
    assert re.search(r"reg: linear CV \d\.\d{5}", trained), trained

    sample.assign(y=50.0).to_csv(tmp_path / "fine.csv", index=False)
    assert "ann's submission scored" in ok(
        "submit", "reg", str(tmp_path / "fine.csv"), "--as", "ann"
    )


def test_an_id_that_cannot_name_a_competition_or_repeats_one_is_refused(
    home: Path, tmp_path: Path
) -> None:
    folder = titanic_folder(tmp_path / "class")
    err = fails("create", "Bad Name", "--from", str(folder), "--metric", "accuracy")
    assert "'Bad Name' cannot name a competition" in err
    err = fails("create", "titanic", "--from", str(folder), "--metric", "accuracy")
    assert "a competition 'titanic' exists already" in err
    err = fails("create", "x", "--from", str(folder), "--metric", "auc")
    assert "unknown metric 'auc' (known: accuracy, f1_macro, roc_auc" in err


def test_a_created_competition_is_hosted_with_its_pages_and_its_metric_files_rule(
    home: Path, tmp_path: Path
) -> None:
    from fastapi.testclient import TestClient

    from harness.server.app import create_app
    from harness.server.participants import Participants
    from harness.settings import Settings

    folder = regression_folder(tmp_path / "reg")
    ok("create", "hosted-reg", "--from", str(folder), "--metric-file", str(folder / "metric.py"),
       "--lower-is-better", "--title", "Hosted regression")  # fmt: skip
    settings = Settings.resolve()
    token = Participants(settings).add("alice")
    client = TestClient(create_app(settings, max_upload=200_000))

    assert "Hosted regression" in client.get("/").text
    assert "Public leaderboard" in client.get("/c/hosted-reg").text
    sample = pd.read_csv(home / "public" / "hosted-reg" / "sample_submission.csv")
    auth = {"Authorization": f"Bearer {token}"}
    for values, status, said in (
        (50.0, 200, None),
        (-1.0, 422, "predictions must not be negative"),
        (1e7, 422, "the metric failed (the host has the details)"),
    ):
        body = sample.assign(y=values).to_csv(index=False).encode()
        got = client.post(
            "/api/competitions/hosted-reg/submissions",
            headers=auth,
            files={"file": ("preds.csv", body)},
        )
        assert got.status_code == status, got.text
        if said is not None:
            assert said in got.text and "SECRET" not in got.text


def test_a_hosts_values_in_messages_are_escaped(home: Path, tmp_path: Path) -> None:
    folder = titanic_folder(tmp_path / "class", split=True)
    _edit(
        folder / "solution.csv",
        lambda t: pd.concat([t, pd.DataFrame({"PassengerId": ["\x1b[2J9"], "Survived": ["1"]})]),
    )

    err = fails("create", "esc", "--from", str(folder), "--metric", "accuracy")

    assert "the first, '\\x1b[2J9', on line 293" in err and "\x1b" not in err
    nothing_left(home, "esc")
