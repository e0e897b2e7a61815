"""mle-bench competition folders (import only): ``config.yaml`` (id, name, the grader's metric
name, where the prepared answers and sample submission lie), ``description.md``,
``prepare.py``, ``grade.py`` and ``leaderboard.csv`` (Kaggle's real final board).

The folder holds no data: mle-bench's own ``prepare.py`` makes it from Kaggle's download, into
``<data-dir>/<id>/prepared/{public,private}``; that prepared folder is given with ``--data``.
Harness runs neither ``prepare.py`` nor ``grade.py``: the grader's metric name maps to one of
Harness's metrics, and the board is kept so that every submission also says where its score
would have ranked on Kaggle's final leaderboard.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from harness.authoring.bundles import LEADERBOARD, Incoming, declared_from
from harness.competitions.folder import shown
from harness.data.preparation import SAMPLE_SUBMISSION
from harness.errors import RawDataError

#: mle-bench grader names (lower case, "_" read as "-") → Harness's metrics.
GRADERS = {
    "accuracy": "accuracy",
    "auc": "roc_auc",
    "auc-roc": "roc_auc",
    "roc-auc": "roc_auc",
    "log-loss": "log_loss",
    "logloss": "log_loss",
    "rmse": "rmse",
    "mae": "mae",
    "r2": "r2",
}


def read(root: Path, work: Path, side: dict[str, Any], data: Path | None) -> Incoming:
    import pandas as pd
    import yaml

    from harness.data.writers import write_csv

    try:
        config = yaml.safe_load((root / "config.yaml").read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RawDataError(f"config.yaml: not YAML: {exc}") from None
    if not isinstance(config, dict) or "id" not in config:
        raise RawDataError("config.yaml: no competition id")
    comp_id = str(config["id"])
    if data is None:
        raise RawDataError(
            f"{root}: an mle-bench folder holds no data; prepare it with mle-bench "
            f"(`mlebench prepare -c {comp_id}`) and pass --data <data-dir>/{comp_id}/prepared "
            "(Harness does not run prepare.py)"
        )
    prepared = data / "prepared" if (data / "prepared").is_dir() else data
    dataset = config.get("dataset") or {}
    answers_name = Path(str(dataset.get("answers", "private/test.csv"))).name
    answers_path = prepared / "private" / answers_name
    public = prepared / "public"
    for path in (public / "train.csv", public / "test.csv", public / SAMPLE_SUBMISSION,
                 answers_path):  # fmt: skip
        if not path.is_file():
            raise RawDataError(f"{data}: no {path.relative_to(prepared)} (mle-bench's layout)")
    header = [str(c) for c in pd.read_csv(public / SAMPLE_SUBMISSION, nrows=0).columns]
    id_column, targets = header[0], header[1:]
    answers = pd.read_csv(answers_path, dtype=str, keep_default_na=False)
    missing = [c for c in header if c not in answers.columns]
    if missing:
        raise RawDataError(
            f"{answers_name}: missing the sample submission's column(s) "
            f"{', '.join(map(repr, missing))}"
        )
    source = work / "folder"
    source.mkdir()
    shutil.copyfile(public / "train.csv", source / "train.csv")
    shutil.copyfile(public / "test.csv", source / "test.csv")
    write_csv(answers[header], source / "solution.csv")
    if (root / "description.md").is_file():
        shutil.copyfile(root / "description.md", source / "description.md")
    grader = str((config.get("grader") or {}).get("name", "")).lower().replace("_", "-")
    metric = GRADERS.get(grader)
    notes = []
    if metric is None:
        notes.append(f"mle-bench's grader '{shown(grader)}' has no Harness metric: name one")
    extra = {}
    if (root / "leaderboard.csv").is_file():
        extra[LEADERBOARD] = root / "leaderboard.csv"
    side = {
        **side,
        "id": side.get("id") or comp_id,
        "title": side.get("title") or config.get("name"),
        "id_column": id_column,
        "target_columns": targets,
    }
    declared = declared_from(
        side, metric_text=None, target=None, metric_path=None, metric_name=metric
    )
    declared = declared.__class__(**{**declared.__dict__, "extra": {"id": comp_id}})
    return Incoming(source, declared, extra_files=extra, notes=notes)
