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
import hashlib
import logging
import os
import time
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.board.results import Entry
from harness.board.schema import (
    ARTIFACT_TAG,
    COMPETITION_TAG,
    ERROR,
    ERROR_TAG,
    EXPERIMENT_PREFIX,
    FILE_TAG,
    GRADED_TAG,
    KIND_TAG,
    LADDER_SCORE,
    LADDER_TAG,
    LATE_TAG,
    MESSAGE_TAG,
    NOTE_TAG,
    PARTICIPANT_TAG,
    PREPARATION_TAG,
    PRIVATE_SCORE,
    PUBLIC_SCORE,
    SELECTED_TAG,
    SELECTION,
    SELECTS_TAG,
    SHA256_TAG,
    STATUS_TAG,
    SWEPT_TAG,
    UI_TAGS,
)

from harness.competition import Competition
from harness.errors import StoreError
from harness.files import advisory_lock, file_lock
from harness.settings import Settings

if TYPE_CHECKING:
    import pandas as pd
    from harness.board.rules import Rules
    from harness.board.teams import Teams
    from mlflow import MlflowClient

#: Called under the write lock just before a run is created: may refuse (raise) or return
#: tags and metrics to add (the daily limit, the ladder's decision).
UnderLock = Callable[["MlflowClient", str], tuple[dict[str, str], dict[str, float]]]


class Store:
    """One MLflow store: its client, each competition's experiment, the write lock."""

    def __init__(self, settings: Settings) -> None:
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
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

    def experiment_id(self, comp: Competition, *, create: bool) -> str | None:
        found = self._experiment(comp, create=create)
        return None if found is None else str(found.experiment_id)

    def _experiment(self, comp: Competition, *, create: bool) -> Any:
        """The competition's MLflow experiment (with its tags: the rules), or None."""
        from mlflow.exceptions import MlflowException

        name = EXPERIMENT_PREFIX + comp.id
        found = self.client.get_experiment_by_name(name)
        if found is not None or not create:
            return found
        # A database store (sqlite, postgresql) keeps artifacts in the home, never in ./mlruns;
        # a tracking server keeps them where it is told to.
        remote = self.uri.startswith(("http:", "https:", "databricks"))
        location = None if remote else (self.settings.artifact_root / comp.id).as_uri()
        with contextlib.suppress(MlflowException):  # made by another process meanwhile
            self.client.create_experiment(
                name,
                artifact_location=location,
                tags={COMPETITION_TAG: comp.id, **UI_TAGS},
            )
        found = self.client.get_experiment_by_name(name)
        if found is None:
            raise StoreError(f"MLflow store {self.uri}: could not create experiment {name}")
        return found

    @contextlib.contextmanager
    def _writing(self, comp: Competition) -> Iterator[tuple[MlflowClient, str]]:
        """The client and the competition's experiment (made if new), under the write lock."""
        client = self.client  # outside the lock: creating the client takes it too
        with self._write_lock(), self.errors():
            found = self._experiment(comp, create=True)
            self._add_ui_tags(found)
            yield client, str(found.experiment_id)

    def _add_ui_tags(self, experiment: Any) -> list[str]:
        """Add the :data:`~harness.board.schema.UI_TAGS` an experiment made before Harness wrote
        them lacks (under the write lock); their names. One changed since is left as it is."""
        missing = [name for name in UI_TAGS if name not in experiment.tags]
        for name in missing:
            self.client.set_experiment_tag(experiment.experiment_id, name, UI_TAGS[name])
        return missing

    def ui_experiment(self, comp: Competition) -> tuple[str, list[str]] | None:
        """The competition's experiment id, once it has the tags MLflow's UI reads (and the
        names of those it was given now); None while nothing was recorded."""
        self.client  # noqa: B018 (outside the lock: creating the client takes it too)
        with self._write_lock(), self.errors():
            found = self._experiment(comp, create=False)
            return None if found is None else (str(found.experiment_id), self._add_ui_tags(found))

    # -- rules -----------------------------------------------------------------------------

    def rules(self, comp: Competition) -> Rules:
        """The competition's rules, from its experiment's tags (defaults when there is none)."""
        from harness.board.rules import Rules

        noted = self._shortcut(comp)
        if noted is not None:
            return Rules.from_tags(noted["tags"])
        with self.errors():
            found = self._experiment(comp, create=False)
        return Rules() if found is None else Rules.from_tags(found.tags)

    def set_rules(self, comp: Competition, rules: Rules) -> Rules:
        with self._writing(comp) as (client, experiment):
            for key, value in rules.tags().items():
                client.set_experiment_tag(experiment, key, value)
        return rules

    def teams(self, comp: Competition) -> Teams:
        """The competition's teams, from its experiment's tags (:mod:`leaderboard.teams`)."""
        from harness.board.teams import Teams

        noted = self._shortcut(comp)
        if noted is not None:
            return Teams.from_tags(noted["tags"])
        with self.errors():
            found = self._experiment(comp, create=False)
        return Teams() if found is None else Teams.from_tags(found.tags)

    def update_tags(
        self, comp: Competition, change: Callable[[MlflowClient, str], Mapping[str, str]]
    ) -> dict[str, str]:
        """Under the write lock, ``change`` reads the experiment as it is and returns the tags
        to set; return the experiment's tags after."""
        with self._writing(comp) as (client, experiment):
            tags = dict(client.get_experiment(experiment).tags)
            for key, value in change(client, experiment).items():
                client.set_experiment_tag(experiment, key, value)
                tags[key] = value
        return tags

    def _shortcut(self, comp: Competition) -> dict[str, Any] | None:
        """The experiment as the last full read noted it, where nothing was written since
        (a local store only; see :class:`leaderboard.index.Shortcut`)."""
        if not self.is_local:
            return None
        from harness.board.index import Shortcut

        return Shortcut(self.settings.cache_dir, self.uri, comp.id).read()

    def _db_path(self) -> Path:
        return Path(self.uri.removeprefix("sqlite:///"))

    @contextlib.contextmanager
    def _write_lock(self) -> Iterator[None]:
        """Writers one at a time: an advisory lock in PostgreSQL when the Harness database is
        one (every process on every host that shares it), else a file lock (one host)."""
        database = self.settings.database_uri
        if database.startswith(("postgresql:", "postgresql+")):
            with advisory_lock(database, f"{self.uri}\nwrite"):
                yield
            return
        if self.is_local:
            path = self._db_path()
            lock = path.with_name(path.name + ".lock")
        else:  # a tracking server without a shared database: one host's writers in turn
            key = hashlib.sha256(self.uri.encode()).hexdigest()[:16]
            lock = self.settings.locks_dir / f"store-{key}.lock"
        with file_lock(lock):
            yield

    @contextlib.contextmanager
    def errors(self) -> Iterator[None]:
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
        private_score: float | None,
        file: Path,
        extra: Mapping[str, float] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        artifacts: Sequence[Path] = (),
        preparation: str | None = None,
        late: bool = False,
        under_lock: UnderLock | None = None,
        file_name: str | None = None,
    ) -> Entry:
        """Record a scored submission as one finished MLflow run; return its entry.

        ``preparation`` (the digest of the answers it was scored on; default: the current
        preparation's, none if not prepared) is tagged ``harness.preparation``: the board ranks
        only the current preparation's entries. ``private_score`` None records none (hidden
        until the end). ``under_lock`` runs under the write lock first: what it checks and the
        run it lets through are one atomic step on this store."""
        from mlflow.entities import RunStatus

        from harness.data.preparation import digest_of, manifest_or_none
        from harness.files import sha256_file

        if preparation is None:
            manifest = manifest_or_none(comp, self.settings)
            preparation = "" if manifest is None else digest_of(manifest)

        sha = sha256_file(file)
        extra = dict(extra or {})
        run_tags = {
            PARTICIPANT_TAG: participant,
            KIND_TAG: kind,
            MESSAGE_TAG: message,
            SHA256_TAG: sha,
            FILE_TAG: (file_name or file.name)[:250],
            **({ARTIFACT_TAG: file.name} if file_name and file_name != file.name else {}),
            NOTE_TAG: message,
            **({PREPARATION_TAG: preparation} if preparation else {}),
            **({LATE_TAG: "true"} if late else {}),
            **(tags or {}),
        }
        with self._writing(comp) as (client, experiment):
            added_tags, added = under_lock(client, experiment) if under_lock else ({}, {})
            run_tags.update(added_tags)
            extra.update(added)
            run = client.create_run(
                experiment, tags=run_tags, run_name=f"{participant} · {message[:40]}".strip(" ·")
            )
            run_id = run.info.run_id
            private = {} if private_score is None else {PRIVATE_SCORE: private_score}
            metrics = {PUBLIC_SCORE: public_score, **private, **extra}
            client.log_batch(
                run_id,
                metrics=metric_entities(metrics, now_ms()),
                params=param_entities(params or {}),
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
            late=late,
            tags=added_tags,
        )

    def record_error(
        self,
        comp: Competition,
        *,
        participant: str,
        kind: str,
        message: str,
        file: str,
        error: str,
        tags: Mapping[str, str] | None = None,
    ) -> str:
        """Record an invalid submission (status error, the validator's message, no score and no
        artifact: the file may be huge or hostile); return its run id. It never counts."""
        from mlflow.entities import RunStatus

        run_tags = {
            **(tags or {}),
            PARTICIPANT_TAG: participant,
            KIND_TAG: kind,
            MESSAGE_TAG: message,
            FILE_TAG: file[:250],
            STATUS_TAG: ERROR,
            ERROR_TAG: error[:5000],
            NOTE_TAG: f"{message}\n\nError: {error[:2000]}".strip(),
        }
        with self._writing(comp) as (client, experiment):
            run = client.create_run(experiment, tags=run_tags, run_name=f"{participant} · error")
            client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.FINISHED))
        return str(run.info.run_id)

    def record_selection(
        self,
        comp: Competition,
        *,
        participant: str,
        run_id: str,
        selected: bool,
        under_lock: Callable[[], None],
    ) -> None:
        """Record that ``participant`` selects (or unselects) their entry ``run_id`` as a final
        submission: an event run, so the record stays append-only. ``under_lock`` checks the
        allowance under the write lock first."""
        from mlflow.entities import RunStatus

        run_tags = {
            PARTICIPANT_TAG: participant,
            KIND_TAG: SELECTION,
            SELECTS_TAG: run_id,
            SELECTED_TAG: "true" if selected else "false",
        }
        with self._writing(comp) as (client, experiment):
            under_lock()
            name = f"{participant} · {'select' if selected else 'unselect'} {run_id[:8]}"
            run = client.create_run(experiment, tags=run_tags, run_name=name)
            client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.FINISHED))

    def count_since(
        self,
        comp: Competition,
        participant: str,
        since: Any,
        client: MlflowClient | None = None,
        experiment: str | None = None,
    ) -> int:
        """How many valid submissions ``participant`` made since the datetime ``since``, read
        from MLflow itself (not the index): under the write lock it is the truth."""
        return sum(
            1
            for run in self._mine(
                comp, participant, int(since.timestamp() * 1000), client, experiment
            )
            if run.data.tags.get(STATUS_TAG) != ERROR and PUBLIC_SCORE in run.data.metrics
        )

    def last_accepted(
        self,
        comp: Competition,
        participant: str,
        client: MlflowClient | None = None,
        experiment: str | None = None,
    ) -> dict[str, Any] | None:
        """Ladder mode: the participant's last submission the ladder accepted (its sha256, the
        score it showed and when it started), or None."""
        accepted = [
            run
            for run in self._mine(comp, participant, 0, client, experiment)
            if run.data.tags.get(LADDER_TAG) == "accepted" and LADDER_SCORE in run.data.metrics
        ]
        if not accepted:
            return None
        last = max(accepted, key=lambda r: (r.info.start_time, r.info.run_id))
        return {
            "sha256": last.data.tags.get(SHA256_TAG, ""),
            "shown": last.data.metrics[LADDER_SCORE],
            "start": (last.info.start_time, last.info.run_id),
        }

    def _mine(
        self,
        comp: Competition,
        participant: str,
        since_ms: int,
        client: MlflowClient | None,
        experiment: str | None,
    ) -> list[Any]:
        from harness.board.index import search
        from mlflow.entities import ViewType

        with self.errors():
            client = client or self.client
            experiment = experiment or self.experiment_id(comp, create=False)
            if experiment is None:
                return []
            # names are checked (no quote can reach the filter: see leaderboard.submit)
            query = (
                f"tags.`{PARTICIPANT_TAG}` = '{participant}' and attributes.status = 'FINISHED'"
                f" and attributes.start_time >= {since_ms}"
            )
            runs = search(client, experiment, query, ViewType.ACTIVE_ONLY)
        return [r for r in runs if r.data.tags.get(KIND_TAG) != SELECTION]

    def find_tagged(self, comp: Competition, tag: str, value: str) -> tuple[str, bool] | None:
        """The run tagged ``tag`` = ``value`` (a hex id: no quote reaches the filter) and
        whether it is a scored entry; None if there is none."""
        from harness.board.index import search
        from mlflow.entities import ViewType

        if not value or not all(c in "0123456789abcdef" for c in value):
            raise ValueError(f"not a hex id: {value[:40]!r}")
        with self.errors():
            experiment = self.experiment_id(comp, create=False)
            if experiment is None:
                return None
            runs = search(self.client, experiment, f"tags.`{tag}` = '{value}'", ViewType.ALL)
        if not runs:
            return None
        run = runs[0]
        return str(run.info.run_id), run.data.tags.get(STATUS_TAG) != ERROR

    def fetch_artifact(self, run_id: str, name: str, into: Path) -> Path:
        """Download a run's artifact ``name`` into the folder ``into``; return its path."""
        with self.errors():
            return Path(self.client.download_artifacts(run_id, name, str(into)))

    def add_private_scores(
        self, comp: Competition, scores: Mapping[str, Mapping[str, float]]
    ) -> None:
        """Log private scores on finished entries (the end of a competition that hid them) and
        bump the experiment's generation, so every index rebuilds."""
        with self._writing(comp) as (client, experiment):
            stamp = now_ms()
            for run_id, metrics in scores.items():
                client.log_batch(run_id, metrics=metric_entities(metrics, stamp))
            client.set_experiment_tag(experiment, GRADED_TAG, str(stamp))

    # -- reading ---------------------------------------------------------------------------

    def records(self, comp: Competition, *, rebuild: bool = False) -> pd.DataFrame:
        """Every finished harness run (entries, errors, selection events; see
        :func:`leaderboard.index.frame`), from the index kept in sync with MLflow."""
        return self.read(comp, rebuild=rebuild)[0]

    def read(
        self, comp: Competition, *, rebuild: bool = False
    ) -> tuple[pd.DataFrame, Rules, Hashable | None]:
        """:meth:`records` and :meth:`rules` from one read of the experiment, and the state
        they were read in: equal states, equal records and rules (None: not known, nothing to
        key a cache on). The teams of the same read: :meth:`read_teams`."""
        records, rules, _, state = self.read_teams(comp, rebuild=rebuild)
        return records, rules, state

    def read_teams(
        self, comp: Competition, *, rebuild: bool = False
    ) -> tuple[pd.DataFrame, Rules, Teams, Hashable | None]:
        """:meth:`read`, with the teams from the same read of the experiment's tags (and in
        the state: a team change changes the boards)."""
        from harness.board.index import RunIndex, Shortcut
        from harness.board.rules import Rules
        from harness.board.teams import Teams

        noted = None if rebuild else self._shortcut(comp)
        if noted is not None:  # nothing written since the last full read: no MLflow
            tags = dict(noted["tags"])
            index = RunIndex(
                self.settings.cache_dir,
                self.uri,
                noted["experiment_id"],
                local=True,
                generation=tags.get(GRADED_TAG, ""),
            )
            cached = index.cached()
            if cached is not None:
                rules, teams = Rules.from_tags(tags), Teams.from_tags(tags)
                state = None if index.state is None else (index.state, rules, teams)
                return cached, rules, teams, state
        shortcut = Shortcut(self.settings.cache_dir, self.uri, comp.id) if self.is_local else None
        stamp = None if shortcut is None else shortcut.stamp()  # before the read
        with self.errors():
            found = self._experiment(comp, create=False)
            experiment = None if found is None else str(found.experiment_id)
            tags = {} if found is None else found.tags
            index = RunIndex(
                self.settings.cache_dir,
                self.uri,
                experiment,
                local=self.is_local,
                generation=tags.get(GRADED_TAG, ""),
            )
            records = index.submissions(
                self.client, rebuild=rebuild, sweep=lambda: self.sweep_stale(comp)
            )
        rules, teams = Rules.from_tags(tags), Teams.from_tags(tags)
        state = None if index.state is None else (index.state, rules, teams)
        if shortcut is not None and stamp is not None and (index.state or found is None):
            shortcut.write(stamp, None if found is None else str(found.experiment_id), tags)
        return records, rules, teams, state

    def submissions(self, comp: Competition, *, rebuild: bool = False) -> pd.DataFrame:
        """Every scored submission (one row each), from the index kept in sync with MLflow."""
        from harness.board.index import entries

        return entries(self.records(comp, rebuild=rebuild))

    def records_from_mlflow(self, comp: Competition) -> pd.DataFrame:
        """The same frame as :meth:`records`, read from MLflow in full (no index)."""
        from harness.board.index import scan

        with self.errors():
            experiment = self.experiment_id(comp, create=False)
            return scan(self.client, experiment)

    def submissions_from_mlflow(self, comp: Competition) -> pd.DataFrame:
        """The same frame as :meth:`submissions`, read from MLflow in full (no index)."""
        from harness.board.index import entries

        return entries(self.records_from_mlflow(comp))

    def sweep_stale(self, comp: Competition, older_than_ms: int | None = None) -> list[str]:
        """Mark FAILED, tagged ``harness.swept`` with the reason, every submission run still
        RUNNING ``older_than_ms`` after it started (a submit killed midway: it never counts);
        return their run ids, oldest first. Tuning studies' runs are left alone."""
        from harness.board.index import STALE_MS, is_entry, search
        from mlflow.entities import RunStatus, ViewType

        older_than_ms = STALE_MS if older_than_ms is None else older_than_ms
        with self.errors():
            experiment = self.experiment_id(comp, create=False)
            if experiment is None:
                return []
            client = self.client
            now = now_ms()
            running = "attributes.status = 'RUNNING'"
            found = search(
                client,
                experiment,
                f"{running} and attributes.start_time < {int(now - older_than_ms)}",
                ViewType.ACTIVE_ONLY,
            )
            stale = sorted(
                (r for r in found if is_entry(r)),
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


def now_ms() -> int:
    return int(time.time() * 1000)


def metric_entities(values: Mapping[str, float], timestamp_ms: int) -> list[Any]:
    from mlflow.entities import Metric

    return [Metric(k, float(v), timestamp_ms, 0) for k, v in values.items()]


def param_entities(values: Mapping[str, Any]) -> list[Any]:
    from mlflow.entities import Param

    return [Param(k, str(v)[:6000]) for k, v in values.items()]  # MLflow's value limit
