"""Run a metric file in Kaggle's signature, ``score(solution, submission, row_id_column_name)
-> float``, in a process of its own (never the host's): :mod:`harness.data.metric_file` starts
``python -I metric_runner.py WORK`` where ``WORK`` holds ``metric.py``, ``solution.csv`` (the id,
the target columns and ``Usage``), ``submission.csv`` and ``request.json``
(``{"id_column": …, "halves": {"public": "Public", …}}``). It writes ``WORK/result.json``:
``{"scores": {half: float}}``, ``{"visible": text}`` for a ``ParticipantVisibleError`` (Kaggle's
rule: only that text reaches the participant) or ``{"failed": traceback}`` for anything else.

It imports nothing of Harness, so it runs wherever pandas does (in the sandbox too).
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
import traceback
from pathlib import Path
from typing import Any

USAGE = "Usage"


def _write(work: Path, result: dict[str, Any]) -> None:
    tmp = work / "result.json.tmp"
    tmp.write_text(json.dumps(result), encoding="utf-8")
    tmp.replace(work / "result.json")


def _value(got: Any) -> float | str:
    """The score as a float, or why it is not one."""
    import numpy as np

    if isinstance(got, bool | np.bool_) or not isinstance(got, int | float | np.number):
        return f"score() returned {type(got).__name__}, not a number"
    value = float(got)
    if not math.isfinite(value):
        return f"score() returned {value}"
    return value


def main(work: Path) -> None:
    import pandas as pd

    request = json.loads((work / "request.json").read_text(encoding="utf-8"))
    try:
        spec = importlib.util.spec_from_file_location("metric", work / "metric.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        score = getattr(module, "score", None)
        if not callable(score):
            _write(work, {"failed": "metric.py defines no function score()"})
            return
        solution = pd.read_csv(work / "solution.csv")
        submission = pd.read_csv(work / "submission.csv")
    except Exception:
        _write(work, {"failed": traceback.format_exc()})
        return
    scores: dict[str, float] = {}
    for half, usage in request["halves"].items():
        rows = (solution[USAGE] == usage).to_numpy() if usage else slice(None)
        truth = solution[rows].drop(columns=[USAGE]).reset_index(drop=True)
        preds = submission[rows].reset_index(drop=True)
        try:
            got = score(truth, preds, request["id_column"])
        except Exception as exc:
            if type(exc).__name__ == "ParticipantVisibleError":
                _write(work, {"visible": str(exc)})
            else:
                _write(work, {"failed": traceback.format_exc()})
            return
        value = _value(got)
        if isinstance(value, str):
            _write(work, {"failed": value})
            return
        scores[half] = value
    _write(work, {"scores": scores})


if __name__ == "__main__":
    main(Path(sys.argv[1]))
