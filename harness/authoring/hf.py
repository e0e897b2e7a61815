"""Hugging Face ``competitions``: the competition's private dataset repository and its public
data.

Export layout (a folder)::

    conf.json            SUBMISSION_LIMIT (per day), SELECTION_LIMIT, END_DATE, EVAL_METRIC
                         (a scikit-learn metric's name, or "custom" with metric.py),
                         EVAL_HIGHER_IS_BETTER, SUBMISSION_ID_COLUMN, SUBMISSION_COLUMNS,
                         SUBMISSION_ROWS, COMPETITION_TYPE, TIME_LIMIT
    solution.csv         the id, the targets and ``split`` (public/private)
    COMPETITION_DESC.md, DATASET_DESC.md, SUBMISSION_DESC.md
    metric.py            for EVAL_METRIC "custom": the metric in Kaggle's signature and the
                         compute(params) that Hugging Face calls
    dataset/             the public dataset: train.csv, test.csv, sample_submission.csv

``END_DATE`` is a date: a deadline travels as the day it falls on (its time of day is kept in
``harness.json`` beside it).

On import, a ``metric.py`` that is Harness's own (a Kaggle-signature ``score`` and the
``compute`` appended above) is scored through its ``score``; any other that defines
``compute(params)`` (a foreign bundle's, as Hugging Face's documentation writes them) is called
as Hugging Face calls it, in the sandbox when the host scores: ``params`` carries Hugging Face's
``EvalParams`` fields and a stand-in ``huggingface_hub.hf_hub_download`` hands it the answers
(``solution.csv`` with ``split``) and the submission (:mod:`harness.data.metric_runner`).
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.authoring.bundles import (
    METRIC,
    Incoming,
    Source,
    declared_from,
    first_target,
    public_tables,
    usage_of,
)
from harness.competitions.folder import shown
from harness.data.preparation import USAGE
from harness.errors import RawDataError
from harness.metrics import NAMED

#: Harness's metrics by the scikit-learn function names EVAL_METRIC takes; the rest are "custom".
SKLEARN = {
    "accuracy": "accuracy_score",
    "roc_auc": "roc_auc_score",
    "log_loss": "log_loss",
    "mae": "mean_absolute_error",
    "r2": "r2_score",
    "rmse": "root_mean_squared_error",
}
CUSTOM = "custom"

#: Appended to the Kaggle-signature metric for EVAL_METRIC "custom": Hugging Face calls
#: ``compute(params)``, which fetches the solution and the submission from the competition's
#: repository and scores each split with ``score``. An import strips it again.
HF_COMPUTE = """

# Hugging Face competitions, EVAL_METRIC "custom": compute(params) (written by Harness)
def compute(params):
    import pandas as pd
    from huggingface_hub import hf_hub_download

    def fetch(name):
        path = hf_hub_download(
            repo_id=params.competition_id, filename=name, token=params.token,
            repo_type="dataset",
        )
        return pd.read_csv(path)

    solution = fetch("solution.csv")
    submission = fetch(f"submissions/{params.team_id}-{params.submission_id}.csv")
    id_column = params.submission_id_col
    submission = submission.set_index(id_column).loc[solution[id_column]].reset_index()
    scores = {}
    for split in ("public", "private"):
        rows = (solution["split"] == split).to_numpy()
        truth = solution[rows].drop(columns=["split"]).reset_index(drop=True)
        preds = submission[rows].reset_index(drop=True)
        scores[f"{split}_score"] = {"metric": score(truth, preds, id_column)}
    return scores
"""


def export(source: Source, out: Path) -> None:
    import pandas as pd

    from harness.data.writers import write_csv

    comp, rules = source.comp, source.rules
    public_tables(source, out / "dataset")
    answers = pd.read_csv(source.answers, dtype=str, keep_default_na=False)
    answers["split"] = answers.pop(USAGE).str.lower()
    write_csv(answers, out / "solution.csv")
    by_name = NAMED.get(comp.metric.name)
    eval_metric = (
        SKLEARN.get(comp.metric.name, CUSTOM)
        if by_name is not None and by_name[0] is comp.metric
        else CUSTOM
    )
    if eval_metric == CUSTOM:
        (out / METRIC).write_text(source.metric_text + HF_COMPUTE, encoding="utf-8")
    deadline = rules.get("deadline")
    conf = {
        "COMPETITION_TYPE": "generic",
        "SUBMISSION_LIMIT": rules.get("daily_limit") or 0,
        "SELECTION_LIMIT": rules.get("selections"),
        "END_DATE": deadline[:10] if deadline else "",
        "EVAL_HIGHER_IS_BETTER": 1 if comp.metric.greater_is_better else 0,
        "SUBMISSION_ID_COLUMN": comp.id_column,
        "SUBMISSION_COLUMNS": ",".join(comp.submission_columns),
        "SUBMISSION_ROWS": len(answers),
        "EVAL_METRIC": eval_metric,
        "TIME_LIMIT": 0,
    }
    (out / "conf.json").write_text(json.dumps(conf, indent=1) + "\n", encoding="utf-8")
    (out / "COMPETITION_DESC.md").write_text(source.description.strip() + "\n", encoding="utf-8")
    (out / "DATASET_DESC.md").write_text(
        "- `train.csv`: the labelled rows\n- `test.csv`: the rows to predict\n"
        "- `sample_submission.csv`: a valid submission\n",
        encoding="utf-8",
    )
    (out / "SUBMISSION_DESC.md").write_text(
        f"A CSV with the columns `{','.join(comp.submission_columns)}`, one row per test id.\n",
        encoding="utf-8",
    )


def read(root: Path, work: Path, side: dict[str, Any], data: Path | None) -> Incoming:
    import pandas as pd

    from harness.data.writers import write_csv

    try:
        conf: dict[str, Any] = json.loads((root / "conf.json").read_text(encoding="utf-8"))
    except ValueError as exc:
        raise RawDataError(f"conf.json: not JSON: {exc}") from None
    tables = root / "dataset" if (root / "dataset" / "train.csv").is_file() else root
    for name in ("train.csv", "test.csv", "solution.csv"):
        if not (tables / name).is_file() and not (root / name).is_file():
            raise RawDataError(f"{root}: no {name}")
    source = work / "folder"
    source.mkdir()
    shutil.copyfile(tables / "train.csv", source / "train.csv")
    shutil.copyfile(tables / "test.csv", source / "test.csv")
    solution = pd.read_csv(root / "solution.csv", dtype=str, keep_default_na=False)
    if "split" not in solution.columns:
        raise RawDataError("solution.csv: no 'split' column (public/private)")
    solution[USAGE] = usage_of(solution.pop("split"), "solution.csv", "split")
    write_csv(solution, source / "solution.csv")
    description = root / "COMPETITION_DESC.md"
    if description.is_file():
        shutil.copyfile(description, source / "description.md")
    eval_metric = str(conf.get("EVAL_METRIC", ""))
    named = {v: k for k, v in SKLEARN.items()}.get(eval_metric)
    metric = root / METRIC
    text = metric.read_text(encoding="utf-8") if metric.is_file() else None
    if text is not None and text.endswith(HF_COMPUTE):  # the Kaggle-signature metric alone
        text = text.removesuffix(HF_COMPUTE)
        metric = work / METRIC
        metric.write_text(text, encoding="utf-8")
    if named is None and text is None:
        raise RawDataError(
            f"conf.json: EVAL_METRIC '{shown(eval_metric)}' is not one Harness knows "
            f"({', '.join(SKLEARN.values())}) and there is no metric.py"
        )
    if "EVAL_HIGHER_IS_BETTER" in conf:
        higher: bool | None = bool(int(conf["EVAL_HIGHER_IS_BETTER"]))
    else:
        higher = None
    side = {**side, "id_column": side.get("id_column") or conf.get("SUBMISSION_ID_COLUMN")}
    declared = declared_from(
        side,
        metric_text=text,
        target=first_target(source / "solution.csv", side),
        metric_path=metric if named is None else None,
        greater_is_better=higher,
        metric_name=named,
    )
    if declared.metric_file is not None and text is not None and _defines_compute(text):
        declared = replace(declared, metric_call="compute")  # as Hugging Face calls it
    rules: dict[str, Any] = {}
    if conf.get("SUBMISSION_LIMIT"):
        rules["daily_limit"] = int(conf["SUBMISSION_LIMIT"])
    if conf.get("SELECTION_LIMIT"):
        rules["selections"] = int(conf["SELECTION_LIMIT"])
    end = str(conf.get("END_DATE") or "")
    kept = (side.get("rules") or {}).get("deadline")
    if end:
        rules["deadline"] = kept if kept and kept[:10] == end else _day(end)
    return Incoming(source, declared, rules=rules)


def _defines_compute(text: str) -> bool:
    """Whether a metric file defines ``compute`` at its top level (read, never run)."""
    import ast

    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        return False  # the check at create runs it in the sandbox and says what is wrong
    return any(isinstance(n, ast.FunctionDef) and n.name == "compute" for n in tree.body)


def _day(text: str) -> str:
    try:
        day = dt.date.fromisoformat(text[:10])
    except ValueError:
        raise RawDataError(
            f"conf.json: END_DATE '{shown(text)}' is not a date (YYYY-MM-DD)"
        ) from None
    return f"{day.isoformat()}T00:00:00+00:00"
