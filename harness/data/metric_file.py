"""A metric file: the host's metric in Kaggle's signature, ``score(solution, submission,
row_id_column_name) -> float``, run in a process of its own, never in Harness's
(:mod:`harness.data.metric_runner` is what that process runs).

Kaggle's visibility rule holds: a ``ParticipantVisibleError``'s text reaches the participant;
any other failure (an exception, NaN, not a number) reaches them as "the metric failed (the host
has the details)" and its traceback goes to the host's log only (``metric.log`` beside the
metric file, and the ``harness.metric`` logger).

The runner runs in the sandbox of code submissions (:mod:`harness.sandbox`): no network, none
of the host's files but the Python environment and a temporary folder holding the metric file,
the solution and the submission. A host without it refuses metric files (SandboxUnavailable).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.errors import MetricFailed

RUNNER = Path(__file__).with_name("metric_runner.py")
SECONDS = 600  # a metric file's run may take this long before it is killed
MEMORY = 8 << 30  # bytes of address space it may take (pandas on a large solution)
HIDDEN = "the metric failed (the host has the details)"
log = logging.getLogger("harness.metric")


@dataclass(frozen=True)
class MetricFile:
    """The metric file ``path`` of a competition whose ids are in ``id_column``."""

    path: Path
    id_column: str
    target_columns: tuple[str, ...]

    @property
    def log_path(self) -> Path:
        return self.path.with_name("metric.log")

    def __call__(self, y_true: Any, y_pred: Any) -> float:
        """The metric on aligned arrays (rows numbered as ids), as :class:`Metric` calls it:
        the baselines' cross-validation."""
        ids = np.arange(len(np.asarray(y_true)))
        truth = _columns(y_true, self.target_columns)
        preds = _columns(y_pred, self.target_columns)
        solution = {self.id_column: ids, **truth, "Usage": np.full(len(ids), "Public")}
        return self.run(solution, {self.id_column: ids, **preds}, {"public": "Public"})["public"]

    def table(
        self, answers: Path, ids: np.ndarray, predictions: Mapping[str, np.ndarray], halves: Any
    ) -> dict[str, float]:
        """The metric on the prepared answers (``answers.csv``: id, targets, Usage) and a
        validated submission in the answers' order; ``halves``: "public" and maybe "private"."""
        submission = {self.id_column: ids, **predictions}
        usage = {"public": "Public", "private": "Private"}
        return self.run(answers, submission, {h: usage[h] for h in halves})

    def run(
        self,
        solution: Path | Mapping[str, Any],
        submission: Mapping[str, Any],
        halves: Mapping[str, str],
    ) -> dict[str, float]:
        import pandas as pd

        with tempfile.TemporaryDirectory(prefix="harness-metric-") as tmp:
            work = Path(tmp)
            shutil.copyfile(self.path, work / "metric.py")
            if isinstance(solution, Path):
                shutil.copyfile(solution, work / "solution.csv")
            else:
                pd.DataFrame(dict(solution)).to_csv(work / "solution.csv", index=False)
            pd.DataFrame(dict(submission)).to_csv(work / "submission.csv", index=False)
            request = {"id_column": self.id_column, "halves": dict(halves)}
            (work / "request.json").write_text(json.dumps(request), encoding="utf-8")
            shutil.copyfile(RUNNER, work / "runner.py")
            ran = execute(work, SECONDS)
            result_file = work / "result.json"
            if not result_file.is_file():
                self._host_log(f"the metric's process ended without a result:\n{ran}")
                raise MetricFailed(HIDDEN, ran)
            result = json.loads(result_file.read_text(encoding="utf-8"))
        if "visible" in result:
            raise MetricFailed(str(result["visible"]))
        if "failed" in result:
            self._host_log(str(result["failed"]))
            raise MetricFailed(HIDDEN, str(result["failed"]))
        return {str(k): float(v) for k, v in result["scores"].items()}

    def _host_log(self, text: str) -> None:
        log.error("%s: %s", self.path, text)
        try:
            with open(self.log_path, "a", encoding="utf-8") as f:
                when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
                f.write(f"--- {when} {self.path.name}\n{text.rstrip()}\n")
        except OSError:
            pass  # the logger has it


def _columns(values: Any, names: Sequence[str]) -> dict[str, np.ndarray]:
    array = np.asarray(values)
    if array.ndim == 1:
        return {names[0]: array}
    return {name: array[:, i] for i, name in enumerate(names)}


def execute(work: Path, seconds: float) -> str:
    """Run ``runner.py`` on ``work`` in the sandbox (:mod:`harness.sandbox`: no network, nothing
    of the host but the Python environment and ``work``); what it printed, for the host.
    Raises SandboxUnavailable where the host cannot sandbox: a metric file never runs bare."""
    from harness.sandbox import WORKDIR, Limits, run

    outcome = run(
        [sys.executable, "-I", f"{WORKDIR}/runner.py", WORKDIR],
        workdir=work,
        limits=Limits(wall_seconds=seconds, memory_bytes=MEMORY),
    )
    ended = outcome.error or "exit 0"
    return (
        f"{ended} after {outcome.seconds:.1f} s\n{outcome.stdout[-4000:]}{outcome.stderr[-4000:]}"
    )
