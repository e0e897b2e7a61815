"""A foreign bundle's own scoring code, run when the host scores: a Codabench v2 bundle whose
scoring program is its own (``metadata.yaml``'s command, ``input/ref`` and ``input/res``,
``output/scores.json``) and a Hugging Face bundle whose ``metric.py`` has only
``compute(params)``. The bundles are built here from Titanic's real rows, the programs written
as the platforms' examples write them; the scores are checked against scikit-learn on each half,
and whatever the code prints or raises stays with the host."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, roc_auc_score

import harness
from harness import sandbox
from tests.test_create import TITANIC, fails, nothing_left, ok

pytestmark = pytest.mark.skipif(
    not sandbox.available() and os.environ.get("HARNESS_REQUIRE_BWRAP") != "1",
    reason="bubblewrap (bwrap) is not installed",
)

HIDDEN = "Error: the metric failed (the host has the details)\n"

#: A Codabench scoring program as Codabench's examples write one: paths from argv, the
#: reference in input/ref, the submission in input/res, scores.json in output. Three values a
#: participant may send make it misbehave: crash with the answers in its message, print the
#: answers and exit non-zero, write NaN.
SCORE_PY = """\
import json
import os
import sys

import pandas as pd
from sklearn.metrics import roc_auc_score

try:
    open({marker!r}, "w").close()  # the host's folder: the sandbox hides it
except OSError:
    pass

input_dir, output_dir = sys.argv[1], sys.argv[2]
truth = pd.read_csv(os.path.join(input_dir, "ref", "solution.csv"))
prediction = pd.read_csv(os.path.join(input_dir, "res", "predictions.csv"))
if len(truth) != len(prediction) or (truth.PassengerId != prediction.PassengerId).any():
    sys.exit("the submission's rows are not the reference's")
pred = prediction["Survived"]
if (pred == 0.123).any():
    raise RuntimeError("SECRET " + ",".join(map(str, truth["Survived"].head(20))))
if (pred == 0.456).any():
    print("SECRET answers:", truth.to_csv(index=False))
    sys.exit(3)
score = float("nan") if (pred == 0.789).any() else roc_auc_score(truth["Survived"], pred)
{write}
"""
WRITE_JSON = """\
with open(os.path.join(output_dir, "scores.json"), "w") as f:
    json.dump({"auc": score, "duration": 0.1}, f)
"""
WRITE_TXT = """\
with open(os.path.join(output_dir, "scores.txt"), "w") as f:
    f.write(f"auc: {score}\\nduration: 0.1\\n")
"""


def titanic() -> tuple[pd.DataFrame, pd.DataFrame]:
    rows = pd.read_csv(TITANIC, dtype=str, keep_default_na=False)
    return rows.iloc[:600], rows.iloc[600:].reset_index(drop=True)


def codabench_bundle(
    root: Path, marker: Path, *, usage: str | None = None, txt: bool = False
) -> Path:
    """A Codabench v2 bundle as a host writes one: its own scoring program, the answers in
    reference_data/solution.csv (``usage``: with that split column), a leaderboard column
    ``auc`` sorted descending."""
    import yaml

    train, test = titanic()
    public = root / "public_data"
    public.mkdir(parents=True)
    train.to_csv(public / "train.csv", index=False)
    test.drop(columns=["Survived"]).to_csv(public / "test.csv", index=False)
    (root / "reference_data").mkdir()
    solution = test[["PassengerId", "Survived"]].copy()
    if usage is not None:
        public_rows = np.arange(len(solution)) % 3 == 0
        names = ("Public", "Private") if usage == "Usage" else ("public", "private")
        solution[usage] = np.where(public_rows, *names)
    solution.to_csv(root / "reference_data" / "solution.csv", index=False)
    (root / "reference_data" / "README.txt").write_text("the test rows' labels\n")
    program = root / "scoring_program"
    program.mkdir()
    (program / "metadata.yaml").write_text(
        "command: python3 $program/score.py $input $output\ndescription: AUC\n"
    )
    (program / "score.py").write_text(
        SCORE_PY.format(marker=str(marker), write=WRITE_TXT if txt else WRITE_JSON)
    )
    (root / "solution").mkdir()
    solution[["PassengerId"]].assign(Survived=0.5).to_csv(
        root / "solution" / "predictions.csv", index=False
    )
    (root / "pages").mkdir()
    (root / "pages" / "overview.md").write_text("# Who survives?\n\nRank the passengers.\n")
    config = {
        "version": 2,
        "title": "Foreign Titanic",
        "pages": [{"title": "Overview", "file": "pages/overview.md"}],
        "tasks": [
            {
                "index": 0,
                "name": "Survival",
                "reference_data": "reference_data/",
                "scoring_program": "scoring_program/",
            }
        ],
        "solutions": [{"index": 0, "tasks": [0], "path": "solution/"}],
        "phases": [{"index": 0, "name": "Test", "tasks": [0], "public_data": "public_data"}],
        "leaderboards": [
            {
                "title": "Results",
                "key": "main",
                "columns": [
                    {"title": "AUC", "key": "auc", "index": 0, "sorting": "desc"},
                    {"title": "Duration", "key": "duration", "index": 1, "sorting": "asc"},
                ],
            }
        ],
    }
    (root / "competition.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return root


def predictions(home: Path, competition: str, dest: Path) -> dict[str, Path]:
    """A perfect submission, a half-right one (every other row's probability turned round), a
    malformed one (a column missing) and the three that make the program misbehave."""
    test = pd.read_csv(home / "public" / competition / "test.csv")
    answers = pd.read_csv(home / "private" / competition / "answers.csv")
    truth = answers.set_index("PassengerId").loc[test["PassengerId"], "Survived"].to_numpy()
    rng = np.random.default_rng(0)
    guess = np.round(np.where(truth == 1, 0.7, 0.3) + rng.uniform(-0.25, 0.25, len(truth)), 6)
    half = np.where(np.arange(len(truth)) % 2 == 0, guess, 1 - guess)
    files = {}
    for name, values in (("perfect", truth.astype(float)), ("half", half)):
        files[name] = dest / f"{name}.csv"
        pd.DataFrame({"PassengerId": test["PassengerId"], "Survived": values}).to_csv(
            files[name], index=False
        )
    files["malformed"] = dest / "malformed.csv"
    test[["PassengerId"]].to_csv(files["malformed"], index=False)
    for name, value in (("crash", 0.123), ("prints", 0.456), ("nan", 0.789)):
        files[name] = dest / f"{name}.csv"
        pd.DataFrame({"PassengerId": test["PassengerId"], "Survived": half}).assign(
            Survived=lambda f, v=value: np.where(np.arange(len(f)) == 0, v, f["Survived"])
        ).to_csv(files[name], index=False)
    return files


def expected(home: Path, competition: str, path: Path, metric: object) -> tuple[float, float]:
    """scikit-learn's metric on the public and on the private rows of Harness's answers."""
    answers = pd.read_csv(home / "private" / competition / "answers.csv")
    preds = pd.read_csv(path).set_index("PassengerId").loc[answers["PassengerId"], "Survived"]
    got = []
    for usage in ("Public", "Private"):
        rows = (answers["Usage"] == usage).to_numpy()
        got.append(float(metric(answers["Survived"][rows], preds.to_numpy()[rows])))  # type: ignore[operator]
    return got[0], got[1]


def recorded(competition: str, participant: str) -> list[dict[str, object]]:
    return list(harness.api.board(competition).submissions(participant).rows)


def scored(competition: str, participant: str) -> list[object]:
    """The public scores ``participant`` got (a refused submission is listed without one)."""
    got = [r["public_score"] for r in recorded(competition, participant)]
    return [s for s in got if s is not None and s == s]


# ---------------------------------------------------------------------------------------------
# Codabench
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("usage", "txt"),
    [(None, False), ("Usage", False), ("split", False), (None, True)],
    ids=["harness-split", "usage", "split", "scores-txt"],
)
def test_a_codabench_scoring_program_scores_each_half_as_scikit_learn_does(
    home: Path, tmp_path: Path, usage: str | None, txt: bool
) -> None:
    marker = tmp_path / "program-ran-here"
    bundle = codabench_bundle(tmp_path / "bundle", marker, usage=usage, txt=txt)

    out = ok("import", str(bundle), "--id", "foreign", "--predictions", "probabilities")

    assert "foreign imported from" in out and "(codabench)" in out
    assert "auc: the answers score 1, the sample submission 0.5 (chance)" in out
    assert not marker.exists()  # the import-time check ran it, in the sandbox
    kept = home / "competitions" / "foreign"
    assert (kept / "scoring_program" / "score.py").is_file()
    assert (kept / "reference_data" / "README.txt").is_file()
    answers = pd.read_csv(home / "private" / "foreign" / "answers.csv")
    if usage is not None:  # the bundle's own split, else Harness's seeded one
        given = pd.read_csv(bundle / "reference_data" / "solution.csv")
        split = given.set_index("PassengerId").loc[answers["PassengerId"], usage]
        assert (split.str.capitalize().to_numpy() == answers["Usage"].to_numpy()).all()
    assert set(answers["Usage"]) == {"Public", "Private"}
    comp = harness.registry.get_competition("foreign")
    assert (comp.metric.name, comp.metric.greater_is_better) == ("auc", True)

    files = predictions(home, "foreign", tmp_path)
    for name in ("perfect", "half"):
        said = ok("submit", "foreign", str(files[name]), "--as", name)
        assert f"{name}'s submission scored" in said
        entry = recorded("foreign", name)[0]
        public, private = expected(home, "foreign", files[name], roc_auc_score)
        assert entry["public_score"] == pytest.approx(public, rel=1e-12)
        assert entry["private_score"] == pytest.approx(private, rel=1e-12)
    assert recorded("foreign", "perfect")[0]["public_score"] == 1.0
    assert 0.3 < float(recorded("foreign", "half")[0]["public_score"]) < 0.7  # type: ignore[arg-type]

    err = fails("submit", "foreign", str(files["malformed"]), "--as", "bad")
    assert "Survived" in err and "SECRET" not in err
    assert scored("foreign", "bad") == []
    assert not marker.exists()


def test_a_codabench_program_that_fails_shows_the_participant_only_that_it_failed(
    home: Path, tmp_path: Path
) -> None:
    bundle = codabench_bundle(tmp_path / "bundle", tmp_path / "marker", usage="Usage")
    ok("import", str(bundle), "--id", "foreign", "--predictions", "probabilities")
    files = predictions(home, "foreign", tmp_path)
    log = home / "competitions" / "foreign" / "metric.log"

    for name, detail in (
        ("crash", "RuntimeError: SECRET"),
        ("prints", "SECRET answers:"),
        ("nan", "the score is nan"),
    ):
        err = fails("submit", "foreign", str(files[name]), "--as", "eve")
        assert err == HIDDEN, err
        assert detail in log.read_text()

    assert scored("foreign", "eve") == []
    text = log.read_text()
    assert "exit code 3" in text and "PassengerId,Survived,Usage" in text  # what it printed
    listed = ok("submissions", "foreign", "--as", "eve", "--format", "csv")
    assert "the metric failed (the host has the details)" in listed and "SECRET" not in listed

    err = fails("export", "foreign", "--format", "kaggle", "--out", str(tmp_path / "out"))
    assert err == (
        "Error: foreign: scored by an imported Codabench scoring program, which has no metric "
        "in Kaggle's signature to write out\n"
    )


def test_a_codabench_bundle_without_one_answers_csv_or_a_python_command_is_refused(
    home: Path, tmp_path: Path
) -> None:
    bundle = codabench_bundle(tmp_path / "bundle", tmp_path / "marker")
    extra = pd.read_csv(bundle / "reference_data" / "solution.csv")
    extra.to_csv(bundle / "reference_data" / "copy.csv", index=False)

    err = fails("import", str(bundle), "--id", "two")
    assert err == (
        "Error: reference_data: needs exactly one CSV with the id column 'PassengerId' "
        "(test.csv's first column), found 2 among: README.txt, copy.csv, solution.csv\n"
    )
    nothing_left(home, "two")

    (bundle / "reference_data" / "copy.csv").unlink()
    meta = bundle / "scoring_program" / "metadata.yaml"
    meta.write_text("command: bash $program/score.sh $input $output\n")
    err = fails("import", str(bundle), "--id", "shell")
    assert err.startswith(
        "Error: scoring_program/metadata.yaml: the command must start with python or python3"
    ), err
    meta.write_text("command: python3 $program/score.py $input $output && rm -rf /\n")
    err = fails("import", str(bundle), "--id", "shell")
    assert "the command is a shell line" in err
    meta.write_text("command: python $program/score.py $input $secret\n")
    err = fails("import", str(bundle), "--id", "shell")
    assert "the command names $secret, which Codabench does not give" in err
    nothing_left(home, "shell")


def test_a_codabench_program_that_fails_on_the_answers_is_refused_at_import(
    home: Path, tmp_path: Path
) -> None:
    bundle = codabench_bundle(tmp_path / "bundle", tmp_path / "marker")
    score = bundle / "scoring_program" / "score.py"
    score.write_text(score.read_text().replace('"auc": score', '"accuracy": score'))

    err = fails("import", str(bundle), "--id", "nokey", "--predictions", "probabilities")

    assert err == (
        "Error: scoring_program: failed on the answers: scores.json has no key 'auc' (the "
        "leaderboard's column); it has accuracy, duration\n"
    )
    nothing_left(home, "nokey")


# ---------------------------------------------------------------------------------------------
# Hugging Face
# ---------------------------------------------------------------------------------------------

#: A custom metric as Hugging Face's competitions documentation writes one: compute(params)
#: fetches the solution and the submission from the competition's dataset repository.
HF_METRIC = """\
import pandas as pd
from huggingface_hub import hf_hub_download
from sklearn import metrics

try:
    open({marker!r}, "w").close()  # the host's folder: the sandbox hides it
except OSError:
    pass


def compute(params):
    solution_file = hf_hub_download(
        repo_id=params.competition_id,
        filename="solution.csv",
        token=params.token,
        repo_type="dataset",
    )
    solution_df = pd.read_csv(solution_file)
    submission_filename = f"submissions/{{params.team_id}}-{{params.submission_id}}.csv"
    submission_file = hf_hub_download(
        repo_id=params.competition_id,
        filename=submission_filename,
        token=params.token,
        repo_type="dataset",
    )
    submission_df = pd.read_csv(submission_file)
    if (submission_df["Survived"] == 1).all():
        raise ValueError("SECRET " + ",".join(map(str, solution_df["Survived"].head(20))))
    if (submission_df["Survived"] == 1).sum() == 1:
        hf_hub_download(repo_id=params.competition_id, filename="../../etc/passwd")

    public_ids = solution_df[solution_df.split == "public"][params.submission_id_col].values
    private_ids = solution_df[solution_df.split == "private"][params.submission_id_col].values

    public_solution_df = solution_df[solution_df[params.submission_id_col].isin(public_ids)]
    public_submission_df = submission_df[submission_df[params.submission_id_col].isin(public_ids)]
    private_solution_df = solution_df[solution_df[params.submission_id_col].isin(private_ids)]
    private_submission_df = submission_df[
        submission_df[params.submission_id_col].isin(private_ids)
    ]

    key = params.submission_id_col
    public_solution_df = public_solution_df.sort_values(key).reset_index(drop=True)
    public_submission_df = public_submission_df.sort_values(key).reset_index(drop=True)
    private_solution_df = private_solution_df.sort_values(key).reset_index(drop=True)
    private_submission_df = private_submission_df.sort_values(key).reset_index(drop=True)

    target_cols = [col for col in solution_df.columns if col != "split"]
    target_cols.remove(params.submission_id_col)
    public_score = metrics.accuracy_score(
        public_solution_df[target_cols], public_submission_df[target_cols]
    )
    private_score = metrics.accuracy_score(
        private_solution_df[target_cols], private_submission_df[target_cols]
    )
    return {{
        "public_score": {{"accuracy": public_score, "f1": 0.0}},
        "private_score": {{"accuracy": private_score, "f1": 0.0}},
    }}
"""


def hf_bundle(root: Path, marker: Path) -> Path:
    """A Hugging Face competitions repository: conf.json, solution.csv with ``split``, the
    public dataset, a custom metric.py with compute(params) only."""
    train, test = titanic()
    (root / "dataset").mkdir(parents=True)
    train.to_csv(root / "dataset" / "train.csv", index=False)
    test.drop(columns=["Survived"]).to_csv(root / "dataset" / "test.csv", index=False)
    solution = test[["PassengerId", "Survived"]].copy()
    solution["split"] = np.where(np.arange(len(solution)) % 2 == 0, "public", "private")
    solution.to_csv(root / "solution.csv", index=False)
    conf = {
        "COMPETITION_TYPE": "generic",
        "SUBMISSION_LIMIT": 5,
        "SELECTION_LIMIT": 2,
        "END_DATE": "2030-01-01",
        "EVAL_HIGHER_IS_BETTER": 1,
        "SUBMISSION_ID_COLUMN": "PassengerId",
        "SUBMISSION_COLUMNS": "PassengerId,Survived",
        "SUBMISSION_ROWS": len(solution),
        "EVAL_METRIC": "custom",
        "TIME_LIMIT": 0,
    }
    (root / "conf.json").write_text(json.dumps(conf))
    (root / "COMPETITION_DESC.md").write_text("# Who survives?\n")
    (root / "metric.py").write_text(HF_METRIC.format(marker=str(marker)))
    return root


def test_a_hugging_face_compute_only_metric_scores_each_split_as_scikit_learn_does(
    home: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "metric-ran-here"
    bundle = hf_bundle(tmp_path / "hf", marker)

    out = ok("import", str(bundle), "--id", "hf-custom")

    assert "hf-custom imported from" in out and "(hf)" in out
    assert "the answers score 1, the sample submission" in out
    assert not marker.exists()
    answers = pd.read_csv(home / "private" / "hf-custom" / "answers.csv")
    given = pd.read_csv(bundle / "solution.csv").set_index("PassengerId")
    split = given.loc[answers["PassengerId"], "split"].str.capitalize().to_numpy()
    assert (split == answers["Usage"].to_numpy()).all()

    test = pd.read_csv(home / "public" / "hf-custom" / "test.csv")
    truth = answers.set_index("PassengerId").loc[test["PassengerId"], "Survived"].to_numpy()
    rule = (test["Sex"] == "female").astype(int).to_numpy()
    files = {}
    for name, values in (("perfect", truth), ("rule", rule), ("all-one", np.ones_like(rule))):
        files[name] = tmp_path / f"{name}.csv"
        pd.DataFrame({"PassengerId": test["PassengerId"], "Survived": values}).to_csv(
            files[name], index=False
        )
    one = np.zeros_like(rule)
    one[0] = 1
    files["fetches"] = tmp_path / "fetches.csv"
    pd.DataFrame({"PassengerId": test["PassengerId"], "Survived": one}).to_csv(
        files["fetches"], index=False
    )
    (tmp_path / "malformed.csv").write_text("PassengerId,Survived\n1,1\n")

    from harness.data.scoring import score
    from harness.settings import Settings

    comp = harness.registry.get_competition("hf-custom")
    for name in ("perfect", "rule"):
        ok("submit", "hf-custom", str(files[name]), "--as", name)
        public, private = expected(home, "hf-custom", files[name], accuracy_score)
        # the end date is ahead: the board scores the public half only, the host both
        assert recorded("hf-custom", name)[0]["public_score"] == pytest.approx(public, rel=1e-12)
        both = score(comp, Settings.resolve(), harness.validate("hf-custom", files[name]))
        assert (both.public, both.private) == (pytest.approx(public), pytest.approx(private))
    assert recorded("hf-custom", "perfect")[0]["public_score"] == 1.0

    err = fails("submit", "hf-custom", str(tmp_path / "malformed.csv"), "--as", "bad")
    assert "SECRET" not in err and err != HIDDEN
    assert scored("hf-custom", "bad") == []

    log = home / "competitions" / "hf-custom" / "metric.log"
    assert fails("submit", "hf-custom", str(files["all-one"]), "--as", "eve") == HIDDEN
    assert "ValueError: SECRET" in log.read_text()
    assert fails("submit", "hf-custom", str(files["fetches"]), "--as", "eve") == HIDDEN
    assert "a metric may fetch only solution.csv and submissions/team-submission.csv, not " in (
        log.read_text()
    )
    assert not marker.exists()


def test_a_hugging_face_compute_only_metric_scores_the_baselines_folds(
    home: Path, tmp_path: Path
) -> None:
    """The baselines' cross-validation scores each fold through compute() too: a fold is one
    split, so the other split compute() reads is the same rows again."""
    from harness.registry import get_competition

    ok("import", str(hf_bundle(tmp_path / "hf", tmp_path / "marker")), "--id", "hf-custom")
    metric = get_competition("hf-custom").metric
    y_true = np.array([0, 1, 1, 0, 1, 0, 0, 1])
    y_pred = np.array([0, 1, 0, 0, 1, 1, 0, 1])

    assert metric.fn(y_true, y_pred) == accuracy_score(y_true, y_pred)
