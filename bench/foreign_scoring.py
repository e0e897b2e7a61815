"""Scoring one submission through a bundle's own code vs through a metric by name.

Builds a seeded 0/1 table (20,000 train rows, a 10,000-row test with its labels apart) and makes
four competitions of it, the same answers and split in each:

- ``named``: `harness create --metric roc_auc` (Harness's own function, in process);
- ``kaggle-file``: a metric file in Kaggle's signature (sklearn's AUC; one sandboxed run scores
  both halves);
- ``codabench``: a foreign Codabench v2 bundle imported with its own scoring program
  (``python3 $program/score.py $input $output``, sklearn's AUC, ``scores.json``; one sandboxed
  run per half, the two side by side);
- ``hf-compute``: a Hugging Face bundle whose metric.py has only ``compute(params)`` (one
  sandboxed run).

Then times ``harness.data.scoring.score`` (both halves, the submission validated once
beforehand) on one probability submission, median of 5 runs each, and checks every way gives
the same public and private AUC.

    .venv/bin/python bench/foreign_scoring.py [--rows 10000] [--runs 5] [--md FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from _common import Report, fmt_s, machine, repeat, revision, summary

SCORE_PY = """\
import json
import os
import sys

import pandas as pd
from sklearn.metrics import roc_auc_score

input_dir, output_dir = sys.argv[1], sys.argv[2]
truth = pd.read_csv(os.path.join(input_dir, "ref", "solution.csv"))
prediction = pd.read_csv(os.path.join(input_dir, "res", "predictions.csv"))
merged = truth.merge(prediction, on="id", suffixes=("", "_pred"))
score = roc_auc_score(merged["label"], merged["label_pred"])
with open(os.path.join(output_dir, "scores.json"), "w") as f:
    json.dump({"auc": score}, f)
"""

if TYPE_CHECKING:
    import pandas as pd

KAGGLE_METRIC = """\
import pandas as pd
from sklearn.metrics import roc_auc_score


def score(solution: pd.DataFrame, submission: pd.DataFrame, row_id_column_name: str) -> float:
    return float(roc_auc_score(solution["label"], submission["label"]))
"""

HF_METRIC = """\
import pandas as pd
from huggingface_hub import hf_hub_download
from sklearn.metrics import roc_auc_score


def compute(params):
    def fetch(name):
        return pd.read_csv(hf_hub_download(
            repo_id=params.competition_id, filename=name, token=params.token,
            repo_type="dataset",
        ))

    solution = fetch("solution.csv")
    submission = fetch(f"submissions/{params.team_id}-{params.submission_id}.csv")
    merged = solution.merge(submission, on=params.submission_id_col, suffixes=("", "_pred"))
    out = {}
    for split in ("public", "private"):
        rows = merged[merged["split"] == split]
        out[f"{split}_score"] = {"auc": roc_auc_score(rows["label"], rows["label_pred"])}
    return out
"""


def tables(rows: int) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    n = 2 * rows + rows
    x = rng.normal(size=(n, 6)).round(6)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(6)])
    frame.insert(0, "id", np.arange(1, n + 1))
    frame["label"] = (x[:, 0] - 0.5 * x[:, 1] + rng.normal(size=n) > 0).astype(int)
    train, test = frame.iloc[: 2 * rows], frame.iloc[2 * rows :].reset_index(drop=True)
    solution = test[["id", "label"]].copy()
    solution["Usage"] = np.where(rng.random(len(solution)) < 0.3, "Public", "Private")
    return train, test, solution


def folders(root: Path, rows: int) -> dict[str, Path]:
    import yaml

    train, test, solution = tables(rows)
    made = {}
    # a host's folder (named metric, Kaggle metric file)
    folder = root / "folder"
    folder.mkdir(parents=True)
    train.to_csv(folder / "train.csv", index=False)
    test.drop(columns=["label"]).to_csv(folder / "test.csv", index=False)
    solution.to_csv(folder / "solution.csv", index=False)
    (folder / "metric.py").write_text(KAGGLE_METRIC)
    made["folder"] = folder
    # a Codabench v2 bundle with its own scoring program
    cb = root / "codabench"
    (cb / "public_data").mkdir(parents=True)
    train.to_csv(cb / "public_data" / "train.csv", index=False)
    test.drop(columns=["label"]).to_csv(cb / "public_data" / "test.csv", index=False)
    (cb / "reference_data").mkdir()
    solution.to_csv(cb / "reference_data" / "solution.csv", index=False)
    (cb / "scoring_program").mkdir()
    (cb / "scoring_program" / "metadata.yaml").write_text(
        "command: python3 $program/score.py $input $output\n"
    )
    (cb / "scoring_program" / "score.py").write_text(SCORE_PY)
    (cb / "solution").mkdir()
    (cb / "solution" / "predictions.csv").write_text("id,label\n")
    config = {
        "version": 2,
        "title": "Bench",
        "tasks": [
            {"index": 0, "reference_data": "reference_data", "scoring_program": "scoring_program"}
        ],
        "solutions": [{"index": 0, "tasks": [0], "path": "solution/"}],
        "phases": [{"index": 0, "tasks": [0], "public_data": "public_data"}],
        "leaderboards": [{"columns": [{"key": "auc", "index": 0, "sorting": "desc"}]}],
    }
    (cb / "competition.yaml").write_text(yaml.safe_dump(config))
    made["codabench"] = cb
    # a Hugging Face bundle whose metric.py has compute(params) only
    hf = root / "hf"
    (hf / "dataset").mkdir(parents=True)
    train.to_csv(hf / "dataset" / "train.csv", index=False)
    test.drop(columns=["label"]).to_csv(hf / "dataset" / "test.csv", index=False)
    split = solution.assign(split=solution["Usage"].str.lower()).drop(columns=["Usage"])
    split.to_csv(hf / "solution.csv", index=False)
    conf = {"EVAL_METRIC": "custom", "EVAL_HIGHER_IS_BETTER": 1, "SUBMISSION_ID_COLUMN": "id"}
    (hf / "conf.json").write_text(json.dumps(conf))
    (hf / "metric.py").write_text(HF_METRIC)
    made["hf"] = hf
    return made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000, help="test rows")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--md", help="also write the tables as Markdown here")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="harness-bench-foreign-"))
    os.environ["HARNESS_HOME"] = str(root / "home")
    os.environ.pop("MLFLOW_TRACKING_URI", None)

    import numpy as np
    import pandas as pd

    import harness
    from harness.authoring.create import Declared, create
    from harness.authoring.transfer import import_bundle
    from harness.data.scoring import score
    from harness.registry import get_competition
    from harness.settings import Settings

    report = Report("Scoring one submission: a bundle's own code vs a metric by name")
    report.note(f"{machine()}; {revision()}")
    settings = Settings.resolve()
    made = folders(root, args.rows)
    folder = made["folder"]
    create("named", folder, settings, Declared(metric="roc_auc"))
    create(
        "kaggle-file",
        folder,
        settings,
        Declared(metric_file=folder / "metric.py", greater_is_better=True, needs="probabilities"),
    )
    import_bundle(made["codabench"], settings, competition="codabench",
                  declared={"needs": "probabilities"})  # fmt: skip
    import_bundle(made["hf"], settings, competition="hf-compute",
                  declared={"needs": "probabilities"})  # fmt: skip

    test = pd.read_csv(settings.public_dir("named") / "test.csv")
    rng = np.random.default_rng(1)
    guess = 1 / (1 + np.exp(-(test["x0"] - 0.5 * test["x1"] + rng.normal(0, 0.5, len(test)))))
    submission = root / "submission.csv"
    pd.DataFrame({"id": test["id"], "label": guess.round(6)}).to_csv(submission, index=False)

    rows, results = [], {}
    ways = {
        "named": "metric by name (roc_auc, in process)",
        "kaggle-file": "Kaggle metric file (sandbox, 1 run)",
        "codabench": "Codabench scoring program (sandbox, 1 run per half)",
        "hf-compute": "Hugging Face compute(params) (sandbox, 1 run)",
    }
    for comp_id, what in ways.items():
        comp = get_competition(comp_id)
        aligned = harness.validate(comp_id, submission)
        got = score(comp, settings, aligned)  # warm: caches, first imports
        results[comp_id] = (got.public, got.private)
        median, low, high = summary(
            repeat(lambda c=comp, a=aligned: score(c, settings, a), args.runs)
        )
        rows.append((what, f"{got.public:.6f}", f"{got.private:.6f}", fmt_s(median),
                     fmt_s(low), fmt_s(high)))  # fmt: skip
    report.table(
        f"score() on a {args.rows:,}-row test, both halves; seconds over {args.runs} runs",
        ["way", "public AUC", "private AUC", "median s", "min s", "max s"],
        rows,
        right=[False, True, True, True, True, True],
    )
    base = results["named"]
    agree = all(abs(p - base[0]) < 1e-9 and abs(q - base[1]) < 1e-9 for p, q in results.values())
    report.note(f"every way gives the same public and private AUC: {agree}")
    with open("/proc/loadavg") as f:
        report.note(f"load average at the end: {f.read().strip()}")
    report.save(args.md)
    import shutil

    shutil.rmtree(root, ignore_errors=True)
    if not agree:
        sys.exit(1)


if __name__ == "__main__":
    main()
