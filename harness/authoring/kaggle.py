"""Kaggle community competitions: what a host uploads to Kaggle.

Export layout (a folder)::

    data/train.csv, data/test.csv, data/sample_submission.csv   the Data tab
    solution.csv      the id, the targets and ``Usage`` (Public/Private), Kaggle's solution file
    metric.py         score(solution, submission, row_id_column_name) -> float
    description.md    the Overview
    harness.json      the rules (Kaggle keeps them in its host settings, not in a file)

Import reads the same, the tables either under ``data/`` or beside ``solution.csv`` (Kaggle's
own download is flat). Without ``harness.json`` a metric file's direction must be declared.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from harness.authoring.bundles import (
    METRIC,
    Incoming,
    Source,
    declared_from,
    first_target,
    public_tables,
)
from harness.errors import RawDataError


def export(source: Source, out: Path) -> None:
    public_tables(source, out / "data")
    shutil.copyfile(source.answers, out / "solution.csv")
    (out / METRIC).write_text(source.metric_text, encoding="utf-8")
    (out / "description.md").write_text(source.description.strip() + "\n", encoding="utf-8")


def read(root: Path, work: Path, side: dict[str, Any], data: Path | None) -> Incoming:
    tables = root / "data" if (root / "data" / "train.csv").is_file() else root
    for name in ("train.csv", "test.csv"):
        if not (tables / name).is_file():
            raise RawDataError(f"{root}: no {name} (looked in data/ and beside solution.csv)")
    source = work / "folder"
    source.mkdir()
    shutil.copyfile(tables / "train.csv", source / "train.csv")
    shutil.copyfile(tables / "test.csv", source / "test.csv")
    shutil.copyfile(root / "solution.csv", source / "solution.csv")
    description = root / "description.md"
    if description.is_file():
        shutil.copyfile(description, source / "description.md")
    metric = root / METRIC
    text = metric.read_text(encoding="utf-8") if metric.is_file() else None
    target = first_target(source / "solution.csv", side)
    declared = declared_from(
        side, metric_text=text, target=target, metric_path=metric if metric.is_file() else None
    )
    rules = dict(side.get("rules") or {})
    return Incoming(source, declared, rules=rules)
