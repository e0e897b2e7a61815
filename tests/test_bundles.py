"""Competitions to and from Kaggle, Hugging Face and Codabench, and from mle-bench: every round
trip (create → export → import) gives byte-equal answers, the same public/private split, the
same rules and the same scores for a fixed set of submissions; the Codabench export's scoring
program, run as Codabench runs it, writes those scores; bundles that would write outside their
folder, or lack what they need, are refused with nothing created; nothing of a bundle runs on
import."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import harness
from tests.test_create import GUARDED_MAE, fails, ok, regression_folder, titanic_folder

FORMATS = ["kaggle", "hf", "codabench"]
#: the two competitions every format carries: a metric by name with the host's own Usage and
#: rules, and a host's metric file (regression, mean absolute error)
ORIGINALS = {"titanic-class": "accuracy", "guarded-mae": "metric file"}


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A home holding the two original competitions, with rules on the first."""
    root = tmp_path_factory.mktemp("bundles")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HARNESS_HOME", str(root / "home"))
        mp.delenv("MLFLOW_TRACKING_URI", raising=False)
        folder = titanic_folder(root / "titanic", split=True, usage=True)
        ok("create", "titanic-class", "--from", str(folder), "--metric", "accuracy",
           "--title", "Class Titanic")  # fmt: skip
        ok("rules", "titanic-class", "--daily-limit", "3", "--deadline", "2027-01-31T23:59Z",
           "--selections", "1")  # fmt: skip
        reg = regression_folder(root / "reg")
        ok("create", "guarded-mae", "--from", str(reg), "--metric-file", str(reg / "metric.py"),
           "--lower-is-better")  # fmt: skip
        yield root


def submissions(home: Path, competition: str, dest: Path) -> list[Path]:
    """Three fixed submissions: the sample, a rule of thumb and random values."""
    public = home / "public" / competition
    sample = pd.read_csv(public / "sample_submission.csv")
    test = pd.read_csv(public / "test.csv")
    rng = np.random.default_rng(1)
    target = sample.columns[1]
    if competition == "titanic-class":
        rule = (test["Sex"] == "female").astype(int).to_numpy()
        noise = rng.integers(0, 2, len(sample))
    else:
        rule = np.round(50 + 3 * test["a"] - 2 * test["b"], 4).to_numpy()
        noise = np.round(rng.normal(50, 5, len(sample)), 6)
    out = []
    for name, values in (("sample", sample[target]), ("rule", rule), ("noise", noise)):
        path = dest / f"{competition}-{name}.csv"
        sample.assign(**{target: values}).to_csv(path, index=False)
        out.append(path)
    return out


def scores(competition: str, files: list[Path]) -> list[tuple[float, float | None]]:
    """Public and private scores, whatever the rules hide (the host's view), nothing recorded."""
    from harness.data.scoring import score
    from harness.settings import Settings

    comp, settings = harness.registry.get_competition(competition), Settings.resolve()
    got = []
    for path in files:
        scored = score(comp, settings, harness.validate(competition, path))
        got.append((scored.public, scored.private))
    return got


def rules(competition: str) -> dict[str, object]:
    facts = harness.api.board(competition).rules().facts
    return {k: facts[k] for k in ("daily_limit", "deadline", "selections")}


@pytest.mark.parametrize("original", list(ORIGINALS))
@pytest.mark.parametrize("fmt", FORMATS)
def test_create_export_import_gives_the_same_answers_split_rules_and_scores(
    made: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str, original: str
) -> None:
    home = made / "home"
    monkeypatch.setenv("HARNESS_HOME", str(home))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    bundle = tmp_path / (f"{original}.zip" if fmt == "codabench" else original)
    ok("export", original, "--format", fmt, "--out", str(bundle))
    copy = f"{original}-{fmt}"

    out = ok("import", str(bundle), "--id", copy)

    assert f"{copy} imported from" in out and f"({fmt})" in out
    answers = (home / "private" / original / "answers.csv").read_bytes()
    assert (home / "private" / copy / "answers.csv").read_bytes() == answers
    for name in ("train.csv", "test.csv", "sample_submission.csv"):
        assert (home / "public" / copy / name).read_bytes() == (
            home / "public" / original / name
        ).read_bytes()
    assert rules(copy) == rules(original)
    comp = harness.registry.get_competition(copy)
    metric = harness.registry.get_competition(original).metric
    assert (comp.metric.name, comp.metric.greater_is_better) == (
        metric.name,
        metric.greater_is_better,
    )
    assert (comp.metric.table is None) == (ORIGINALS[original] != "metric file")
    files = submissions(home, original, tmp_path)
    assert scores(copy, files) == scores(original, files)


def test_the_rules_and_split_travel_in_each_formats_own_fields(
    made: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_HOME", str(made / "home"))
    for fmt in FORMATS:
        ok("export", "titanic-class", "--format", fmt, "--out", str(tmp_path / fmt))
    kaggle = pd.read_csv(tmp_path / "kaggle" / "solution.csv")
    assert list(kaggle.columns) == ["PassengerId", "Survived", "Usage"]
    assert set(kaggle["Usage"]) == {"Public", "Private"}
    assert (
        "def score(solution: pd.DataFrame, submission: pd.DataFrame, row_id_column_name"
        in (tmp_path / "kaggle" / "metric.py").read_text()
    )
    conf = json.loads((tmp_path / "hf" / "conf.json").read_text())
    assert conf["SUBMISSION_LIMIT"] == 3 and conf["SELECTION_LIMIT"] == 1
    assert conf["END_DATE"] == "2027-01-31" and conf["EVAL_METRIC"] == "accuracy_score"
    assert conf["EVAL_HIGHER_IS_BETTER"] == 1 and conf["SUBMISSION_ID_COLUMN"] == "PassengerId"
    hf = pd.read_csv(tmp_path / "hf" / "solution.csv")
    assert (hf["split"].str.capitalize() == kaggle["Usage"]).all()
    import yaml

    config = yaml.safe_load((tmp_path / "codabench" / "competition.yaml").read_text())
    assert config["version"] == 2 and config["title"] == "Class Titanic"
    phase = config["phases"][0]
    assert phase["max_submissions_per_day"] == 3 and str(phase["end"]).startswith("2027-01-31")
    columns = config["leaderboards"][0]["columns"]
    assert [(c["key"], c["sorting"]) for c in columns] == [("public", "desc"), ("private", "desc")]
    metadata = (tmp_path / "codabench" / "scoring_program" / "metadata.yaml").read_text()
    assert "command: python3 $program/scoring.py $input $output" in metadata


@pytest.mark.parametrize("original", list(ORIGINALS))
def test_the_codabench_scoring_program_run_standalone_writes_the_same_scores(
    made: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, original: str
) -> None:
    home = made / "home"
    monkeypatch.setenv("HARNESS_HOME", str(home))
    ok("export", original, "--format", "codabench", "--out", str(tmp_path / "b.zip"))
    bundle = tmp_path / "bundle"
    with zipfile.ZipFile(tmp_path / "b.zip") as zf:
        zf.extractall(bundle)
    files = submissions(home, original, tmp_path)
    expected = scores(original, files)
    for path, (public, private) in zip(files, expected, strict=True):
        run = tmp_path / path.stem
        (run / "input" / "res").mkdir(parents=True)
        (run / "input" / "ref").mkdir()
        (run / "input" / "ref" / "solution.csv").write_bytes(
            (bundle / "reference_data" / "solution.csv").read_bytes()
        )
        (run / "input" / "res" / "predictions.csv").write_bytes(path.read_bytes())
        done = subprocess.run(
            [sys.executable, str(bundle / "scoring_program" / "scoring.py"),
             str(run / "input"), str(run / "output")],
            capture_output=True, text=True, timeout=120, cwd=run,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        written = json.loads((run / "output" / "scores.json").read_text())
        assert written == {"public": public, "private": private}


def test_a_zip_with_a_member_outside_its_folder_is_refused_and_nothing_is_created(
    made: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HARNESS_HOME", str(home))
    monkeypatch.setenv("HARNESS_HOME", str(made / "home"))
    ok("export", "titanic-class", "--format", "codabench", "--out", str(tmp_path / "good.zip"))
    monkeypatch.setenv("HARNESS_HOME", str(home))
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(tmp_path / "good.zip") as good, zipfile.ZipFile(evil, "w") as bad:
        for info in good.infolist():
            bad.writestr(info, good.read(info))
        bad.writestr("../escaped.csv", "a,b\n1,2\n")

    err = fails("import", str(evil), "--id", "evil")

    assert "refusing member '../escaped.csv', which would be written outside" in err
    assert not (tmp_path / "escaped.csv").exists()
    assert not (home / "competitions" / "evil").exists()
    assert not (home / "public" / "evil").exists()


def test_a_folder_that_is_no_bundle_is_refused_naming_what_it_expected(
    home: Path, tmp_path: Path
) -> None:
    (tmp_path / "stuff").mkdir()
    (tmp_path / "stuff" / "notes.txt").write_text("hello")

    err = fails("import", str(tmp_path / "stuff"))

    assert "not a bundle Harness reads (found: notes.txt); expected Kaggle's solution.csv" in err


def test_a_foreign_kaggle_metric_file_needs_its_direction_and_runs_only_when_scoring(
    home: Path, tmp_path: Path
) -> None:
    folder = regression_folder(tmp_path / "reg")
    bundle = tmp_path / "kaggle"
    (bundle / "data").mkdir(parents=True)
    for name in ("train.csv", "test.csv"):
        (bundle / "data" / name).write_bytes((folder / name).read_bytes())
    (bundle / "solution.csv").write_bytes((folder / "solution.csv").read_bytes())
    marker = tmp_path / "imported-ran-me"
    (bundle / "metric.py").write_text(
        f"try:\n    open({str(marker)!r}, 'w').close()\nexcept OSError:\n    pass\n" + GUARDED_MAE,
        encoding="utf-8",
    )

    err = fails("import", str(bundle), "--id", "foreign")
    assert "declare the metric's direction (--higher-is-better or --lower-is-better)" in err
    assert not (home / "competitions" / "foreign").exists()

    ok("import", str(bundle), "--id", "foreign", "--lower-is-better")
    # it ran, checked on the answers, but in the sandbox: the host's folder stayed untouched
    assert not marker.exists()


# ---------------------------------------------------------------------------------------------
# mle-bench
# ---------------------------------------------------------------------------------------------

RAN = "ran.txt"


def mlebench(tmp_path: Path) -> tuple[Path, Path]:
    """An mle-bench competition folder (its files as mle-bench has them, made from Titanic's
    rows) and its prepared data folder."""
    comp = tmp_path / "mlebench" / "competitions" / "class-titanic"
    comp.mkdir(parents=True)
    (comp / "config.yaml").write_text(
        "id: class-titanic\nname: Class Titanic\ncompetition_type: simple\n"
        "awards_medals: false\nprizes: null\n"
        "description: mlebench/competitions/class-titanic/description.md\n\ndataset:\n"
        "  answers: class-titanic/prepared/private/test.csv\n"
        "  sample_submission: class-titanic/prepared/public/sample_submission.csv\n\n"
        "grader:\n  name: accuracy\n  grade_fn: mlebench.competitions.class-titanic.grade:grade\n"
        "\npreparer: mlebench.competitions.class-titanic.prepare:prepare\n"
    )
    (comp / "description.md").write_text("# Class Titanic\n\nWho survives?\n")
    for code in ("grade.py", "prepare.py"):  # never run by an import
        (comp / code).write_text(f"open({str(tmp_path / RAN)!r}, 'w').close()\n")
    board = pd.DataFrame(
        {
            "scoreNullable": np.linspace(0.9, 0.5, 41),
            "teamId": np.arange(1000, 1041),
            "hasTeamName": True,
            "submissionDate": "2020-01-01 00:00:00",
            "score": np.linspace(0.9, 0.5, 41),
            "hasScore": True,
        }
    )
    board.to_csv(comp / "leaderboard.csv", index=False)
    rows = pd.read_csv(Path(__file__).parents[1] / "competitions/titanic/raw/train.csv")
    train, test = rows.iloc[:700], rows.iloc[700:]
    prepared = tmp_path / "data" / "class-titanic" / "prepared"
    (prepared / "public").mkdir(parents=True)
    (prepared / "private").mkdir()
    train.to_csv(prepared / "public" / "train.csv", index=False)
    test.drop(columns=["Survived"]).to_csv(prepared / "public" / "test.csv", index=False)
    test.to_csv(prepared / "private" / "test.csv", index=False)
    test[["PassengerId"]].assign(Survived=0).to_csv(
        prepared / "public" / "sample_submission.csv", index=False
    )
    return comp, prepared


def test_an_mle_bench_folder_imports_with_kaggles_board_beside_the_local_rank(
    home: Path, tmp_path: Path
) -> None:
    comp, prepared = mlebench(tmp_path)

    err = fails("import", str(comp))
    assert "mlebench prepare -c class-titanic" in err and "--data" in err

    out = ok("import", str(comp), "--data", str(prepared))
    assert "class-titanic imported from" in out and "(mlebench)" in out
    assert "700 train rows, 191 test rows" in out
    assert not (tmp_path / RAN).exists()  # neither prepare.py nor grade.py ran

    test = pd.read_csv(home / "public" / "class-titanic" / "test.csv")
    preds = test[["PassengerId"]].assign(Survived=(test["Sex"] == "female").astype(int))
    preds.to_csv(tmp_path / "preds.csv", index=False)
    said = ok("submit", "class-titanic", str(tmp_path / "preds.csv"), "--as", "ann")
    entry = harness.api.board("class-titanic").submissions("ann").rows[0]
    private = entry["private_score"]
    board = np.linspace(0.9, 0.5, 41)
    rank = int((board > private).sum()) + 1
    assert "Rank 1 of 1" in said
    assert (
        f"It would have been rank {rank} of 42 on Kaggle's final leaderboard (by this private "
        "score)." in said
    )


def test_a_hugging_face_custom_metric_scores_each_split_as_harness_does(
    made: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The exported metric.py's compute(params), called as Hugging Face calls it (the hub's
    download replaced by the bundle's own files), gives Harness's public and private scores."""
    import importlib.util
    import types

    home = made / "home"
    monkeypatch.setenv("HARNESS_HOME", str(home))
    bundle = tmp_path / "hf"
    ok("export", "guarded-mae", "--format", "hf", "--out", str(bundle))
    conf = json.loads((bundle / "conf.json").read_text())
    assert conf["EVAL_METRIC"] == "custom" and conf["EVAL_HIGHER_IS_BETTER"] == 0
    files = submissions(home, "guarded-mae", tmp_path)
    expected = scores("guarded-mae", files)
    (bundle / "submissions").mkdir()
    hub = types.ModuleType("huggingface_hub")
    hub.hf_hub_download = lambda repo_id, filename, token, repo_type: str(bundle / filename)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "huggingface_hub", hub)
    spec = importlib.util.spec_from_file_location("hf_metric", bundle / "metric.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for i, (path, (public, private)) in enumerate(zip(files, expected, strict=True)):
        (bundle / "submissions" / f"team-{i}.csv").write_bytes(path.read_bytes())
        params = types.SimpleNamespace(
            competition_id="host/guarded-mae", token="", team_id="team", submission_id=i,
            submission_id_col="row",
        )  # fmt: skip
        got = module.compute(params)
        assert got == {"public_score": {"metric": public}, "private_score": {"metric": private}}


def test_a_bundle_with_bad_rules_or_a_bad_split_is_refused_before_anything_is_created(
    made: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_HOME", str(made / "home"))
    ok("export", "titanic-class", "--format", "kaggle", "--out", str(tmp_path / "k"))
    ok("export", "titanic-class", "--format", "hf", "--out", str(tmp_path / "h"))
    side = json.loads((tmp_path / "k" / "harness.json").read_text())
    side["rules"]["deadline"] = "next tuesday"
    (tmp_path / "k" / "harness.json").write_text(json.dumps(side))
    solution = pd.read_csv(tmp_path / "h" / "solution.csv", dtype=str)
    solution.loc[3, "split"] = "secret"
    solution.to_csv(tmp_path / "h" / "solution.csv", index=False)
    home = tmp_path / "home"
    monkeypatch.setenv("HARNESS_HOME", str(home))

    err = fails("import", str(tmp_path / "k"), "--id", "bad-rules")
    assert err.startswith("Error: k: its rules do not read: "), err
    err = fails("import", str(tmp_path / "h"), "--id", "bad-split")
    assert err == "Error: solution.csv: 'split' must be public or private, got 'secret' (line 5)\n"
    for name in ("bad-rules", "bad-split"):
        assert not (home / "competitions" / name).exists()
        assert not (home / "public" / name).exists()


def test_the_submit_page_says_where_the_score_would_have_ranked_on_kaggle(
    home: Path, tmp_path: Path
) -> None:
    import re

    from fastapi.testclient import TestClient

    from harness.server.app import create_app
    from harness.server.participants import Participants
    from harness.settings import Settings

    comp, prepared = mlebench(tmp_path)
    ok("import", str(comp), "--data", str(prepared))
    settings = Settings.resolve()
    token = Participants(settings).add("alice")
    client = TestClient(create_app(settings, max_upload=200_000))
    assert client.post("/signin", data={"token": token}, follow_redirects=False).status_code == 303
    page = client.get("/c/class-titanic/submit").text
    csrf = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert csrf is not None
    sample = (home / "public" / "class-titanic" / "sample_submission.csv").read_bytes()

    got = client.post(
        "/c/class-titanic/submit",
        data={"csrf": csrf.group(1), "message": "all die"},
        files={"file": ("preds.csv", sample)},
    )

    assert got.status_code == 200, got.text
    assert re.search(
        r'<p id="reference-rank">It would have been rank \d+ of 42 on Kaggle&#39;s final '
        r"leaderboard \(by this private score\)\.</p>",
        got.text,
    ), got.text
