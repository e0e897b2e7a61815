"""Run a metric file in a process of its own (never the host's): :mod:`harness.data.metric_file`
starts ``python -I metric_runner.py WORK`` where ``WORK`` holds ``metric.py``, ``solution.csv``
(the id, the target columns and ``Usage``), ``submission.csv`` and ``request.json``
(``{"id_column": …, "halves": {"public": "Public", …}, "call": "score"|"compute"|null}``). It
writes ``WORK/result.json``: ``{"scores": {half: float}}``, ``{"visible": text}`` for a
``ParticipantVisibleError`` (Kaggle's rule: only that text reaches the participant) or
``{"failed": traceback}`` for anything else.

Two signatures (``call``; by default ``score`` where the file defines it, else ``compute``):

- Kaggle's ``score(solution, submission, row_id_column_name) -> float``, once per half.
- Hugging Face competitions' ``compute(params) -> {"public_score": {name: value, …},
  "private_score": {…}}``, once: ``params`` has the attributes Hugging Face's ``EvalParams``
  has, and ``huggingface_hub`` is a stand-in (in ``sys.modules`` before the file is loaded)
  whose ``hf_hub_download`` gives ``solution.csv`` (the answers with a lower-case ``split``
  column, as Hugging Face keeps them) and ``submissions/{team_id}-{submission_id}.csv`` from
  ``WORK``, and refuses any other file. The first name in each half's scores is the score. Where
  the solution holds one half only (a baselines' fold), the other split is a copy of the same
  rows under ids suffixed ``~copy``, so each split compute() reads is the whole fold.

It imports nothing of Harness, so it runs wherever pandas does (in the sandbox too).
"""

from __future__ import annotations

import importlib.util
import json
import math
import sys
import traceback
import types
from pathlib import Path
from typing import Any

USAGE = "Usage"
TEAM, SUBMISSION = "team", "submission"  # the ids compute() sees
COPY = "~copy"


def _write(work: Path, result: dict[str, Any]) -> None:
    tmp = work / "result.json.tmp"
    tmp.write_text(json.dumps(result), encoding="utf-8")
    tmp.replace(work / "result.json")


def _value(got: Any, what: str = "score()") -> float | str:
    """The score as a float, or why it is not one."""
    import numpy as np

    if isinstance(got, bool | np.bool_) or not isinstance(got, int | float | np.number):
        return f"{what} returned {type(got).__name__}, not a number"
    value = float(got)
    if not math.isfinite(value):
        return f"{what} returned {value}"
    return value


def _hub(files: dict[str, Path]) -> types.ModuleType:
    """A stand-in for ``huggingface_hub``: ``hf_hub_download`` of the competition's files."""
    hub = types.ModuleType("huggingface_hub")

    def hf_hub_download(
        repo_id: str | None = None,
        filename: str | None = None,
        *args: Any,
        subfolder: str | None = None,
        **kwargs: Any,
    ) -> str:
        name = f"{subfolder}/{filename}" if subfolder else str(filename)
        if name not in files:
            raise FileNotFoundError(
                f"hf_hub_download: when Harness scores, a metric may fetch only "
                f"{' and '.join(sorted(files))}, not {name!r}"
            )
        return str(files[name])

    hub.hf_hub_download = hf_hub_download  # type: ignore[attr-defined]
    return hub


def main(work: Path) -> None:
    import pandas as pd

    request = json.loads((work / "request.json").read_text(encoding="utf-8"))
    hf = work / "hf"
    submitted = f"submissions/{TEAM}-{SUBMISSION}.csv"
    files = {"solution.csv": hf / "solution.csv", submitted: hf / submitted}
    sys.modules["huggingface_hub"] = _hub(files)  # never the real one: no hub, no network
    try:
        spec = importlib.util.spec_from_file_location("metric", work / "metric.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["metric"] = module
        spec.loader.exec_module(module)
        call = request.get("call")
        if call is None:
            call = "score" if callable(getattr(module, "score", None)) else "compute"
        if not callable(getattr(module, call, None)):
            _write(work, {"failed": _missing(call)})
            return
        solution = pd.read_csv(work / "solution.csv")
        submission = pd.read_csv(work / "submission.csv")
    except Exception:
        _write(work, {"failed": traceback.format_exc()})
        return
    if call == "compute":
        _compute(work, module.compute, request, solution, submission, files)
    else:
        _score(work, module.score, request, solution, submission)


def _missing(call: str) -> str:
    if call == "score":
        return (
            "metric.py defines no function score() (Kaggle's score(solution, submission, "
            "row_id_column_name)) nor compute(params) (Hugging Face's)"
        )
    return "metric.py defines no function compute(params) (Hugging Face's signature)"


def _raised(work: Path, exc: Exception) -> None:
    """Kaggle's rule for what the metric raised: a ``ParticipantVisibleError``'s text is for
    the participant, anything else's traceback for the host alone. Call inside ``except``."""
    if type(exc).__name__ == "ParticipantVisibleError":
        _write(work, {"visible": str(exc)})
    else:
        _write(work, {"failed": traceback.format_exc()})


def _score(
    work: Path, score: Any, request: dict[str, Any], solution: Any, submission: Any
) -> None:
    scores: dict[str, float] = {}
    for half, usage in request["halves"].items():
        rows = (solution[USAGE] == usage).to_numpy() if usage else slice(None)
        truth = solution[rows].drop(columns=[USAGE]).reset_index(drop=True)
        preds = submission[rows].reset_index(drop=True)
        try:
            got = score(truth, preds, request["id_column"])
        except Exception as exc:
            _raised(work, exc)
            return
        value = _value(got)
        if isinstance(value, str):
            _write(work, {"failed": value})
            return
        scores[half] = value
    _write(work, {"scores": scores})


def _compute(
    work: Path,
    compute: Any,
    request: dict[str, Any],
    solution: Any,
    submission: Any,
    files: dict[str, Path],
) -> None:
    import pandas as pd

    id_column = request["id_column"]
    split = solution.pop(USAGE).str.lower()
    if split.nunique() == 1:  # one half only: the other split is the same rows again
        other = "private" if split.iloc[0] == "public" else "public"
        copy = solution.assign(**{id_column: solution[id_column].astype(str) + COPY})
        solution = pd.concat([solution, copy], ignore_index=True)
        split = pd.concat([split, pd.Series(other, index=copy.index)], ignore_index=True)
        submission = pd.concat(
            [submission, submission.assign(**{id_column: copy[id_column]})], ignore_index=True
        )
    for path in files.values():
        path.parent.mkdir(parents=True, exist_ok=True)
    solution.assign(split=split.to_numpy()).to_csv(files["solution.csv"], index=False)
    submitted = f"submissions/{TEAM}-{SUBMISSION}.csv"
    submission.to_csv(files[submitted], index=False)
    (work / "output").mkdir(exist_ok=True)
    params = types.SimpleNamespace(
        competition_id=request.get("competition") or "local/competition",
        competition_type="generic",
        metric="custom",
        token="",
        team_id=TEAM,
        submission_id=SUBMISSION,
        submission_id_col=id_column,
        submission_cols=[str(c) for c in submission.columns],
        submission_rows=len(submission),
        output_path=str(work / "output"),
        submission_repo="",
        time_limit=0,
        dataset="",
        submission_filenames=[submitted],
    )
    try:
        got = compute(params)
    except Exception as exc:
        _raised(work, exc)
        return
    scores: dict[str, float] = {}
    for half in request["halves"]:
        part = got.get(f"{half}_score") if isinstance(got, dict) else None
        if not isinstance(part, dict) or not part:
            _write(work, {"failed": (
                f"compute() returned {type(got).__name__} without a non-empty '{half}_score' "
                "mapping (Hugging Face's {'public_score': {name: value}, 'private_score': …})"
            )})  # fmt: skip
            return
        name = next(iter(part))
        value = _value(part[name], f"compute()'s {half}_score[{name!r}]")
        if isinstance(value, str):
            _write(work, {"failed": value})
            return
        scores[half] = value
    _write(work, {"scores": scores})


if __name__ == "__main__":
    main(Path(sys.argv[1]))
