"""A tuning study's runs in MLflow, beside the submissions: one RUNNING parent run per study
(``study <name>``: its settings, then the best score, the config and Optuna's plots), one
finished nested run per trial. No view of the leaderboard counts them: they carry no
``harness.kind`` tag. :class:`baselines.tracking.TrialTracker` writes them as the study runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.board.schema import EXPERIMENT_PREFIX, MODEL_TAG, PARENT_TAG, STUDY_TAG
from harness.board.store import Store, metric_entities, now_ms, param_entities

from harness.competition import Competition


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
                client.log_batch(run.info.run_id, params=param_entities(params))
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
                tags={PARENT_TAG: parent, **tags},
                run_name=name,
            )
            client.log_batch(
                run.info.run_id,
                metrics=metric_entities(metrics, end_ms),
                params=param_entities(params),
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
        with self._write_lock(), self.errors():
            if metrics:
                client.log_batch(run_id, metrics=metric_entities(metrics, now_ms()))
            for path in artifacts:
                client.log_artifact(run_id, str(path))
            client.set_terminated(run_id, status)


def studies(store: Store, comp: Competition, limit: int = 500) -> list[dict[str, Any]]:
    """The competition's tuning studies, newest first: each parent run's study, model, best CV
    score, trials, status, start (ms), duration (s), its link in the MLflow UI and storage."""
    with store.errors():
        client = store.client
        experiment = client.get_experiment_by_name(EXPERIMENT_PREFIX + comp.id)
        if experiment is None:
            return []
        runs = client.search_runs(
            [experiment.experiment_id],
            f"tags.`{STUDY_TAG}` LIKE '%'",
            max_results=limit,
            order_by=["attributes.start_time DESC"],
        )
    out = []
    for run in runs:
        if PARENT_TAG in run.data.tags:
            continue  # a trial, not a study
        start, end = run.info.start_time, run.info.end_time
        out.append(
            {
                "study": run.data.tags.get(STUDY_TAG, ""),
                "model": run.data.tags.get(MODEL_TAG, run.data.params.get("model", "")),
                "best": run.data.metrics.get("best_cv_score"),
                "trials": run.data.metrics.get("trials"),
                "status": run.info.status.lower(),
                "started": start,
                "seconds": None if not end else (end - start) / 1000,
                "mlflow": _mlflow_link(store.uri, experiment.experiment_id, run.info.run_id),
                "storage": run.data.params.get("storage", ""),
            }
        )
    return out


def _mlflow_link(uri: str, experiment: str, run_id: str) -> str:
    """The run in the MLflow UI: `harness ui` (port 5000) over a sqlite store, else the
    tracking server itself."""
    base = uri.rstrip("/") if uri.startswith(("http:", "https:")) else "http://127.0.0.1:5000"
    return f"{base}/#/experiments/{experiment}/runs/{run_id}"
