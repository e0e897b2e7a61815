"""A tuning study's runs in MLflow, beside the submissions: one RUNNING parent run per study
(``study <name>``: its settings, then the best score, the config and Optuna's plots), one
finished nested run per trial. No view of the leaderboard counts them: they carry no
``harness.kind`` tag. :class:`baselines.tracking.TrialTracker` writes them as the study runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.competition import Competition
from leaderboard.store import Store, _metrics, _now_ms, _params


class StudyRuns(Store):
    """Write a study's parent run and its trials' nested runs."""

    def start(
        self,
        comp: Competition,
        *,
        name: str,
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> str:
        """A RUNNING run in the competition's experiment (a study's parent run)."""
        with self._writing(comp) as (client, experiment):
            run = client.create_run(experiment, tags=dict(tags or {}), run_name=name)
            if params:
                client.log_batch(run.info.run_id, params=_params(params))
        return str(run.info.run_id)

    def child(
        self,
        comp: Competition,
        parent: str,
        *,
        name: str,
        params: Mapping[str, Any],
        metrics: Mapping[str, float],
        tags: Mapping[str, str],
        start_ms: int,
        end_ms: int,
        status: str = "FINISHED",
    ) -> str:
        """One complete nested run (an Optuna trial) under ``parent``, in three writes."""
        with self._writing(comp) as (client, experiment):
            run = client.create_run(
                experiment,
                start_time=start_ms,
                tags={"mlflow.parentRunId": parent, **tags},
                run_name=name,
            )
            client.log_batch(
                run.info.run_id, metrics=_metrics(metrics, end_ms), params=_params(params)
            )
            client.set_terminated(run.info.run_id, status, end_time=end_ms)
        return str(run.info.run_id)

    def end(
        self,
        run_id: str,
        *,
        metrics: Mapping[str, float] | None = None,
        artifacts: Sequence[Path] = (),
        status: str = "FINISHED",
    ) -> None:
        client = self.client
        with self._write_lock(), self._errors():
            if metrics:
                client.log_batch(run_id, metrics=_metrics(metrics, _now_ms()))
            for path in artifacts:
                client.log_artifact(run_id, str(path))
            client.set_terminated(run_id, status)
