"""The MLflow-backed store: :class:`Store` (client, experiments, write lock) and
:class:`Leaderboard`, which records submissions and reads them back. (A tuning study's runs are
:mod:`leaderboard.runs`.)

One experiment per competition, one run per submission, tagged as :mod:`leaderboard.schema`
says, with the submitted CSV, byte for byte, as its artifact.

A run is created only after the submission was validated and scored, and it counts only once
it is FINISHED, so a submit killed midway leaves a RUNNING run that no view shows. With a
sqlite store, writers take a file lock beside the database: SQLite allows one writer at a time
and MLflow's first-use migrations must not run twice at once.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.competition import Competition
from harness.errors import StoreError
from harness.files import file_lock
from harness.settings import Settings
from leaderboard.index import PREPARATION_TAG, STALE_MS, SWEPT_TAG
from leaderboard.schema import EXPERIMENT_PREFIX, PRIVATE_SCORE, PUBLIC_SCORE, TAG

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient


@dataclass(frozen=True)
class Entry:
    """One recorded submission."""

    run_id: str
    competition: str
    participant: str
    kind: str
    message: str
    submitted_at: int  # ms since the epoch (the MLflow run's start time)
    public_score: float
    private_score: float
    extra: dict[str, float] = field(default_factory=dict)
    sha256: str = ""
    preparation: str = ""  # the sha256 of the answers it was scored on ("" unknown)


class Store:
    """One MLflow store: its client, each competition's experiment, the write lock."""

    def __init__(self, settings: Settings) -> None:
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        self.settings = settings
        settings.ensure_home()  # 0700: the store holds everyone's predictions
        self.uri = settings.tracking_uri
        self._client: MlflowClient | None = None

    @property
    def is_local(self) -> bool:
        return self.uri.startswith("sqlite:")

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            for name in ("mlflow", "alembic"):
                logging.getLogger(name).setLevel(logging.WARNING)
            from mlflow import MlflowClient

            if self.is_local:
                self._db_path().parent.mkdir(parents=True, exist_ok=True)
                with self._write_lock():  # first use may create and migrate the database
                    self._client = MlflowClient(tracking_uri=self.uri)
                    self._client.search_experiments(max_results=1)
            else:
                self._client = MlflowClient(tracking_uri=self.uri)
        return self._client

    def _experiment_id(self, comp: Competition, *, create: bool) -> str | None:
        from mlflow.exceptions import MlflowException

        name = EXPERIMENT_PREFIX + comp.id
        found = self.client.get_experiment_by_name(name)
        if found is not None:
            return str(found.experiment_id)
        if not create:
            return None
        location = (self.settings.artifact_root / comp.id).as_uri() if self.is_local else None
        try:
            return str(
                self.client.create_experiment(
                    name, artifact_location=location, tags={f"{TAG}competition": comp.id}
                )
            )
        except MlflowException:  # created by another process in the meantime
            found = self.client.get_experiment_by_name(name)
            if found is None:
                raise
            return str(found.experiment_id)

    @contextlib.contextmanager
    def _writing(self, comp: Competition) -> Iterator[tuple[MlflowClient, str]]:
        """The client and the competition's experiment (made if new), under the write lock."""
        client = self.client  # outside the lock: creating the client takes it too
        with self._write_lock(), self._errors():
            experiment = self._experiment_id(comp, create=True)
            assert experiment is not None
            yield client, experiment

    def _db_path(self) -> Path:
        return Path(self.uri.removeprefix("sqlite:///"))

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        if not self.is_local:
            yield
            return
        path = self._db_path()
        with file_lock(path.with_name(path.name + ".lock")):
            yield

    @contextlib.contextmanager
    def _errors(self) -> Iterator[None]:
        from mlflow.exceptions import MlflowException

        try:
            yield
        except MlflowException as exc:
            raise StoreError(f"MLflow store {self.uri}: {exc.message}") from exc
        except ConnectionError as exc:
            raise StoreError(f"MLflow store {self.uri} cannot be reached: {exc}") from exc


class Leaderboard(Store):
    """Record submissions and read standings for any competition, on one MLflow store."""

    # -- writing ---------------------------------------------------------------------------

    def record(
        self,
        comp: Competition,
        *,
        participant: str,
        kind: str,
        message: str,
        public_score: float,
        private_score: float,
        file: Path,
        extra: Mapping[str, float] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        artifacts: Sequence[Path] = (),
        preparation: str | None = None,
    ) -> Entry:
        """Record a scored submission as one finished MLflow run; return its entry.

        ``preparation`` (the digest of the answers it was scored on; default: the current
        preparation's, none if not prepared) is tagged ``harness.preparation``: the board ranks
        only the current preparation's entries."""
        from mlflow.entities import RunStatus

        from harness.data.preparation import manifest_or_none
        from harness.files import sha256_file

        if preparation is None:
            manifest = manifest_or_none(comp, self.settings)
            preparation = "" if manifest is None else digest_of(manifest)

        sha = sha256_file(file)
        extra = dict(extra or {})
        run_tags = {
            f"{TAG}participant": participant,
            f"{TAG}kind": kind,
            f"{TAG}message": message,
            f"{TAG}sha256": sha,
            f"{TAG}file": file.name,
            "mlflow.note.content": message,
            **({PREPARATION_TAG: preparation} if preparation else {}),
            **(tags or {}),
        }
        with self._writing(comp) as (client, experiment):
            run = client.create_run(
                experiment, tags=run_tags, run_name=f"{participant} · {message[:40]}".strip(" ·")
            )
            run_id = run.info.run_id
            metrics = {PUBLIC_SCORE: public_score, PRIVATE_SCORE: private_score, **extra}
            client.log_batch(
                run_id, metrics=_metrics(metrics, _now_ms()), params=_params(params or {})
            )
            client.log_artifact(run_id, str(file))
            for path in artifacts:
                client.log_artifact(run_id, str(path))
            client.set_terminated(run_id, RunStatus.to_string(RunStatus.FINISHED))
        return Entry(
            run_id=run_id,
            competition=comp.id,
            participant=participant,
            kind=kind,
            message=message,
            submitted_at=run.info.start_time,
            public_score=public_score,
            private_score=private_score,
            extra=extra,
            sha256=sha,
            preparation=run_tags.get(PREPARATION_TAG, ""),
        )

    # -- reading ---------------------------------------------------------------------------

    def submissions(self, comp: Competition, *, rebuild: bool = False) -> pd.DataFrame:
        """Every finished submission (one row each), from the index kept in sync with MLflow."""
        from leaderboard.index import RunIndex

        with self._errors():
            experiment = self._experiment_id(comp, create=False)
            index = RunIndex(self.settings.cache_dir, self.uri, experiment, local=self.is_local)
            return index.submissions(
                self.client, rebuild=rebuild, sweep=lambda: self.sweep_stale(comp)
            )

    def submissions_from_mlflow(self, comp: Competition) -> pd.DataFrame:
        """The same frame as :meth:`submissions`, read from MLflow in full (no index)."""
        from leaderboard.index import scan

        with self._errors():
            experiment = self._experiment_id(comp, create=False)
            return scan(self.client, experiment)

    def standings(
        self, comp: Competition, *, private: bool = False, all_preparations: bool = False
    ) -> pd.DataFrame:
        """Standings of the current preparation's entries (``all_preparations``: every entry,
        with a ``preparation`` column); ``.attrs["note"]`` says how many were left out."""
        from harness.data.preparation import manifest_or_none
        from leaderboard.ranking import standings

        subs = self.submissions(comp)
        manifest = manifest_or_none(comp, self.settings)  # read once: digest and date
        current = _current_preparation(subs, manifest)
        return standings(
            _adopt_untagged(subs, manifest, current),
            greater_is_better=comp.metric.greater_is_better,
            private=private,
            preparation=current,
            all_preparations=all_preparations,
        )

    def sweep_stale(self, comp: Competition, older_than_ms: int = STALE_MS) -> list[str]:
        """Mark FAILED, tagged ``harness.swept`` with the reason, every submission run still
        RUNNING ``older_than_ms`` after it started (a submit killed midway: it never counts);
        return their run ids, oldest first. Tuning studies' runs are left alone."""
        from mlflow.entities import RunStatus, ViewType

        from leaderboard.index import _is_entry, search

        with self._errors():
            experiment = self._experiment_id(comp, create=False)
            if experiment is None:
                return []
            client = self.client
            now = _now_ms()
            running = "attributes.status = 'RUNNING'"
            found = search(
                client,
                experiment,
                f"{running} and attributes.start_time < {int(now - older_than_ms)}",
                ViewType.ACTIVE_ONLY,
            )
            stale = sorted(
                (r for r in found if _is_entry(r)),
                key=lambda r: (r.info.start_time, r.info.run_id),
            )
            swept: list[str] = []
            if not stale:
                return swept
            with self._write_lock():
                for run in stale:
                    if client.get_run(run.info.run_id).info.status != "RUNNING":
                        continue  # ended meanwhile
                    started = time.strftime(
                        "%Y-%m-%d %H:%M:%S", time.gmtime(run.info.start_time / 1000)
                    )
                    hours = (now - run.info.start_time) / 3_600_000
                    reason = (
                        f"RUNNING since {started} UTC ({hours:.1f} h, over the "
                        f"{older_than_ms / 3_600_000:g} h grace period): a submit that never "
                        "finished; marked FAILED by harness"
                    )
                    client.set_tag(run.info.run_id, SWEPT_TAG, reason)
                    client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.FAILED))
                    swept.append(run.info.run_id)
            return swept

    def history(self, comp: Competition, participant: str | None = None) -> pd.DataFrame:
        from leaderboard.ranking import history

        return history(self.submissions(comp), participant)


def _current_preparation(submissions: pd.DataFrame, manifest: Mapping[str, Any] | None) -> str:
    """The digest of the competition's preparation here (``manifest``); where it is not
    prepared (a reader of a team's tracking server), that of the latest entry."""
    if manifest is not None:
        return digest_of(manifest)
    if submissions.empty or "preparation" not in submissions:
        return ""
    return str(submissions["preparation"].iloc[-1])


def _adopt_untagged(
    submissions: pd.DataFrame, manifest: Mapping[str, Any] | None, current: str
) -> pd.DataFrame:
    """Entries recorded before runs carried ``harness.preparation`` but after the current
    preparation was made were scored on it: they count as current, so an upgrade does not
    empty the board. Untagged entries older than the preparation stay unknown."""
    import datetime as dt

    if manifest is None or submissions.empty or "preparation" not in submissions:
        return submissions
    made = dt.datetime.fromisoformat(str(manifest["prepared_at"])).timestamp() * 1000
    adopt = (submissions["preparation"] == "") & (submissions["submitted_at"] >= made)
    if not adopt.any():
        return submissions
    return submissions.assign(preparation=submissions["preparation"].where(~adopt, current))


def preparation_digest(comp: Competition, settings: Settings) -> str:
    """Which preparation entries are scored on now: the sha256 of its answers file (from the
    manifest); raises NotPrepared when there is none."""
    from harness.data.preparation import read_manifest

    return digest_of(read_manifest(comp, settings))


def digest_of(manifest: Mapping[str, Any]) -> str:
    """A preparation's digest, from its manifest: the sha256 of its answers file."""
    import hashlib
    import json

    files: dict[str, str] = manifest["files"]
    private = {k: v for k, v in files.items() if k.startswith("private/")}
    return (
        files.get("private/answers.csv")
        or hashlib.sha256(json.dumps(private, sort_keys=True).encode()).hexdigest()
    )


def _now_ms() -> int:
    return int(time.time() * 1000)


def _metrics(values: Mapping[str, float], timestamp_ms: int) -> list[Any]:
    from mlflow.entities import Metric

    return [Metric(k, float(v), timestamp_ms, 0) for k, v in values.items()]


def _params(values: Mapping[str, Any]) -> list[Any]:
    from mlflow.entities import Param

    return [Param(k, str(v)[:6000]) for k, v in values.items()]  # MLflow's value limit
