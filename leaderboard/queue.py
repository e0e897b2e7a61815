"""The hosted server's queue of code submissions: accepted at once, run by worker processes,
nothing lost or run twice.

Two stores, each doing what it does well:

- the *jobs table* (``harness_code_jobs`` in the Harness database, beside the participants'
  tokens) is the truth of each job's status: ``queued → running → complete | error``, the
  participant, the code's stored copy, the MLflow run it became;
- huey (its ``SqliteHuey`` storage, a file under ``<home>/private``) carries the work to the
  worker processes of its consumer (``harness serve --code-workers N``): a persisted queue, a
  consumer with process workers, polling and shutdown, none of which is ours to write.

A worker *claims* a job with one conditional UPDATE (``queued`` → ``running``), so a job
enqueued twice runs once; before running it looks for an MLflow run already tagged with the
job (a worker killed between recording and marking the job complete), so a job is never
recorded twice. A server killed mid-run leaves the job ``running``: on restart
:meth:`CodeQueue.recover` puts it back in the queue (once: a job interrupted twice is marked
error). The daily limit counts a code submission when it is queued (Kaggle's rule): valid
recorded submissions today plus the participant's jobs queued or running.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.board.code import _safe_name
from harness.board.rules import now_utc
from harness.board.schema import JOB_TAG
from harness.board.submit import check_limit

from harness.competition import Competition
from harness.errors import HarnessError, NotFound
from harness.files import advisory_lock, engine, file_lock, pid_alive
from harness.settings import Settings

QUEUED, RUNNING, COMPLETE, ERROR = "queued", "running", "complete", "error"
PENDING = (QUEUED, RUNNING)
MAX_CODE = 10 << 20  # bytes of a script or notebook (outputs and all)
MAX_ATTEMPTS = 2  # a job interrupted by a server's death this often is marked error
TASK = "harness.code"


@dataclass(frozen=True)
class Job:
    id: str
    competition: str
    participant: str
    code: str  # the name the participant gave
    message: str
    status: str
    reason: str
    run_id: str
    queued_at: dt.datetime
    attempts: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "submission": self.id,
            "competition": self.competition,
            "participant": self.participant,
            "code": self.code,
            "message": self.message,
            "status": self.status,
            "error": self.reason or None,
            "run_id": self.run_id or None,
            "queued_at": self.queued_at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }


class CodeQueue:
    """The code submissions of one server (one ``settings``)."""

    def __init__(self, settings: Settings) -> None:
        import sqlalchemy as sa

        self.settings = settings
        settings.ensure_home()
        (settings.home / "private").mkdir(mode=0o700, exist_ok=True)
        self.engine = engine(settings.database_uri)
        meta = sa.MetaData()
        self.table = sa.Table(
            "harness_code_jobs",
            meta,
            sa.Column("id", sa.String(32), primary_key=True),
            sa.Column("competition", sa.String(200), nullable=False),
            sa.Column("participant", sa.String(64), nullable=False, index=True),
            sa.Column("code", sa.String(250), nullable=False),
            sa.Column("message", sa.Text, nullable=False),
            sa.Column("status", sa.String(16), nullable=False, index=True),
            sa.Column("reason", sa.Text, nullable=False, default=""),
            sa.Column("run_id", sa.String(64), nullable=False, default=""),
            sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False),
            sa.Column("attempts", sa.Integer, nullable=False, default=0),
            sa.Column("source", sa.LargeBinary, nullable=False),  # the code itself
            sa.Column("filename", sa.String(100), nullable=False),  # its name to run it by
            sa.Column("runner", sa.String(200), nullable=False, default=""),  # host:pid
        )
        # made by another process at the same moment: fine
        with contextlib.suppress(sa.exc.IntegrityError, sa.exc.ProgrammingError):
            meta.create_all(self.engine, checkfirst=True)
        self.huey = huey_for(settings)

    # -- accepting ---------------------------------------------------------------------------

    def submit(
        self,
        comp: Competition,
        code: Path,
        *,
        participant: str,
        message: str = "",
        display_name: str | None = None,
    ) -> Job:
        """Check and store ``code``, count it against today's limit, queue it; return the
        job (status queued). The code's own checks (suffix, notebook) come first: a file that
        cannot run is refused here, not queued."""
        from harness.board.code import check_code, check_code_competition
        from harness.board.store import Leaderboard
        from harness.board.submit import check_message, check_participant

        check_participant(participant)
        check_message(message)
        check_code(code)
        check_code_competition(comp, self.settings)
        job_id = uuid.uuid4().hex
        source = Path(code).read_bytes()
        if len(source) > MAX_CODE:
            raise HarnessError(
                f"{code.name}: {len(source):,} bytes; code submissions are at most "
                f"{MAX_CODE:,} (data belongs in input/, not in the code)"
            )
        board = Leaderboard(self.settings)
        rules = board.rules(comp)
        now = now_utc()
        # one acceptance at a time, so two uploads cannot both take the last one of the day
        with self._accepting():
            if rules.daily_limit is not None:  # the team's, its queued jobs counted too
                check_limit(
                    board,
                    comp,
                    participant,
                    rules.daily_limit,
                    now,
                    lambda member, since: self._pending_since(comp, member, since),
                )
            with self.engine.begin() as conn:
                conn.execute(
                    self.table.insert().values(
                        id=job_id,
                        competition=comp.id,
                        participant=participant,
                        code=(display_name or code.name)[:250],
                        source=source,
                        filename=_safe_name(code),
                        runner="",
                        message=message,
                        status=QUEUED,
                        reason="",
                        run_id="",
                        queued_at=now,
                        attempts=0,
                    )
                )
        self.enqueue(job_id)
        return self.job(job_id)

    @contextlib.contextmanager
    def _accepting(self) -> Iterator[None]:
        """Acceptances one at a time: an advisory lock when the Harness database is
        PostgreSQL (servers on several hosts), else a file lock (one host)."""
        database = self.settings.database_uri
        if database.startswith(("postgresql:", "postgresql+")):
            with advisory_lock(database, "harness code queue: accept"):
                yield
            return
        with file_lock(self.settings.home / "private" / "code-queue.lock"):
            yield

    def enqueue(self, job_id: str) -> None:
        self.huey.enqueue(_task(self.huey).s(job_id))

    def _pending_since(self, comp: Competition, participant: str, since: dt.datetime) -> int:
        import sqlalchemy as sa

        t = self.table
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count())
                    .select_from(t)
                    .where(t.c.competition == comp.id)
                    .where(t.c.participant == participant)
                    .where(t.c.status.in_(PENDING))
                    .where(t.c.queued_at >= since)
                ).scalar_one()
            )

    # -- reading ------------------------------------------------------------------------------

    @property
    def _listed(self) -> Any:
        """The columns a listing reads (not the code itself)."""
        import sqlalchemy as sa

        return sa.select(*(c for c in self.table.c if c.name != "source"))

    def job(self, job_id: str) -> Job:
        with self.engine.connect() as conn:
            row = conn.execute(self._listed.where(self.table.c.id == job_id)).first()
        if row is None:
            raise NotFound(f"no queued code submission {job_id[:40]}")
        return _job(row)

    def find(self, comp: Competition, prefix: str) -> Job | None:

        if len(prefix) < 6 or not all(c in "0123456789abcdef" for c in prefix.lower()):
            return None
        t = self.table
        with self.engine.connect() as conn:
            rows = conn.execute(
                self._listed.where(t.c.competition == comp.id).where(
                    t.c.id.startswith(prefix.lower())
                )
            ).all()
        return _job(rows[0]) if len(rows) == 1 else None

    def unrecorded(self, comp: Competition, participant: str | None = None) -> list[Job]:
        """Jobs that are no MLflow run (yet): queued, running, or failed before any record
        (on the example test); oldest first."""

        t = self.table
        query = self._listed.where(t.c.competition == comp.id).where(t.c.run_id == "")
        if participant is not None:
            query = query.where(t.c.participant == participant)
        with self.engine.connect() as conn:
            return [_job(r) for r in conn.execute(query.order_by(t.c.queued_at, t.c.id))]

    def counts(self) -> dict[str, int]:
        import sqlalchemy as sa

        t = self.table
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.c.status, sa.func.count()).group_by(t.c.status))
            return {str(status): int(n) for status, n in rows}

    # -- recovering ---------------------------------------------------------------------------

    def recover(self, *, enqueue: bool = True) -> dict[str, int]:
        """After a restart: jobs left running by a dead process of this host go back in the
        queue, or are marked error after :data:`MAX_ATTEMPTS` (runs on other hosts, or by
        live processes, go on); with ``enqueue`` every queued job is put in this home's huey
        again (the claim makes a duplicate harmless). Returns what it did."""
        import sqlalchemy as sa

        t = self.table
        done = {"requeued": 0, "failed": 0, "queued": 0}
        mine = t.c.runner.startswith(f"{socket.gethostname()}:")  # runners elsewhere go on
        with self.engine.begin() as conn:
            running = sa.select(t.c.id, t.c.attempts, t.c.runner)
            for row in conn.execute(running.where(t.c.status == RUNNING).where(mine)).all():
                if _alive(row.runner.rpartition(":")[2]):
                    continue
                if row.attempts >= MAX_ATTEMPTS:
                    conn.execute(
                        t.update()
                        .where(t.c.id == row.id)
                        .values(status=ERROR, reason="interrupted: the server stopped twice")
                    )
                    done["failed"] += 1
                else:
                    conn.execute(t.update().where(t.c.id == row.id).values(status=QUEUED))
                    done["requeued"] += 1
            queued = [r.id for r in conn.execute(sa.select(t.c.id).where(t.c.status == QUEUED))]
        for job_id in queued if enqueue else ():
            self.enqueue(job_id)
        done["queued"] = len(queued)
        return done

    # -- running ------------------------------------------------------------------------------

    def claim(self, job_id: str) -> bool:
        """Take ``job_id`` to run: True for exactly one caller, while it is queued."""
        t = self.table
        with self.engine.begin() as conn:
            got = conn.execute(
                t.update()
                .where(t.c.id == job_id)
                .where(t.c.status == QUEUED)
                .values(
                    status=RUNNING,
                    attempts=t.c.attempts + 1,
                    runner=f"{socket.gethostname()}:{os.getpid()}",
                )
            )
            return bool(got.rowcount == 1)

    def take(self) -> str | None:
        """Claim the oldest queued job of any competition (a runner's loop); None if none
        is left. Each candidate is claimed by the same conditional UPDATE, so runners on
        several hosts never take the same job."""
        import sqlalchemy as sa

        t = self.table
        query = sa.select(t.c.id).where(t.c.status == QUEUED).order_by(t.c.queued_at).limit(8)
        while True:
            with self.engine.connect() as conn:
                candidates = [r.id for r in conn.execute(query)]
            if not candidates:
                return None
            for job_id in candidates:
                if self.claim(job_id):
                    return str(job_id)

    def finish(self, job_id: str, status: str, *, reason: str = "", run_id: str = "") -> None:
        t = self.table
        with self.engine.begin() as conn:
            conn.execute(
                t.update()
                .where(t.c.id == job_id)
                .values(status=status, reason=reason, run_id=run_id)
            )

    def run(self, job_id: str) -> str | None:
        """Run one job if this caller claims it (a worker's task); return its final status,
        or None where another took it."""
        if not self.claim(job_id):
            return None
        return self.run_claimed(job_id)

    def run_claimed(self, job_id: str) -> str:
        """Run a job this process claimed; return its final status."""
        import sqlalchemy as sa
        from harness.board.store import Leaderboard

        from harness.registry import get_competition

        job = self.job(job_id)
        comp = get_competition(job.competition)
        board = Leaderboard(self.settings)
        already = board.find_tagged(comp, JOB_TAG, job_id)
        if already is not None:  # recorded before a crash: never twice
            self.finish(job_id, COMPLETE if already[1] else ERROR, run_id=already[0])
            return COMPLETE if already[1] else ERROR
        with self.engine.connect() as conn:
            source, filename = conn.execute(
                sa.select(self.table.c.source, self.table.c.filename).where(
                    self.table.c.id == job_id
                )
            ).one()
        with tempfile.TemporaryDirectory(prefix="harness-job-") as tmp:
            stored = Path(tmp) / filename
            stored.write_bytes(source)
            return self._run(job, comp, board, stored)

    def _run(self, job: Job, comp: Competition, board: Any, stored: Path) -> str:
        from harness.board.code import CodeFailed, submit_code

        job_id = job.id
        try:
            got = submit_code(
                comp,
                self.settings,
                stored,
                participant=job.participant,
                message=job.message,
                display_name=job.code,
                tags={JOB_TAG: job_id},
            )
        except CodeFailed as exc:
            recorded = board.find_tagged(comp, JOB_TAG, job_id)
            reason = exc.kind if recorded else f"{exc} (example run):\n{exc.log}"[:5000]
            self.finish(job_id, ERROR, reason=reason, run_id=recorded[0] if recorded else "")
            return ERROR
        except HarnessError as exc:
            self.finish(job_id, ERROR, reason=str(exc)[:2000])
            return ERROR
        self.finish(job_id, COMPLETE, run_id=got.result.entry.run_id)
        return COMPLETE

    def serve_runner(self, *, once: bool = False, poll: float = 1.0, say: Any = None) -> int:
        """``harness runner``: take queued jobs from the Harness database and run them here
        until stopped (``once``: until none is queued); return how many ran."""
        import time

        ran = 0
        while True:
            job_id = self.take()
            if job_id is None:
                if once:
                    return ran
                time.sleep(poll)
                continue
            status = self.run_claimed(job_id)
            ran += 1
            if say is not None:
                say(f"{job_id[:8]}: {status}")

    def work(self, limit: int = 100) -> int:
        """Run queued huey tasks in this process until none is left (tests, one-off use);
        return how many ran."""
        ran = 0
        while ran < limit and (task := self.huey.dequeue()) is not None:
            self.huey.execute(task)
            ran += 1
        return ran


def _alive(pid: str, grace: float = 5.0) -> bool:
    """Whether the process that claimed a job still runs: a worker dying with its server
    (SIGKILL from the kernel) is given ``grace`` seconds to be gone."""
    import time

    if not pid.isdigit() or int(pid) <= 0:
        return False
    deadline = time.monotonic() + grace
    while pid_alive(int(pid)):
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.1)
    return False


def _job(row: Any) -> Job:
    queued_at = row.queued_at
    if queued_at.tzinfo is None:  # sqlite drops the zone
        queued_at = queued_at.replace(tzinfo=dt.UTC)
    return Job(
        id=row.id,
        competition=row.competition,
        participant=row.participant,
        code=row.code,
        message=row.message,
        status=row.status,
        reason=row.reason or "",
        run_id=row.run_id or "",
        queued_at=queued_at,
        attempts=int(row.attempts or 0),
    )


_HUEYS: dict[str, Any] = {}


def huey_for(settings: Settings) -> Any:
    """This home's huey (SqliteHuey, ``<home>/private/code-queue.db``), its task registered."""
    from huey import SqliteHuey

    path = str(settings.home / "private" / "code-queue.db")
    found = _HUEYS.get(path)
    if found is None:
        found = _HUEYS[path] = SqliteHuey("harness-code", filename=path, results=False, utc=True)
        _task(found)
    return found


def _task(huey: Any) -> Any:
    registered = getattr(huey, "_harness_task", None)
    if registered is None:

        def run_job(job_id: str) -> None:
            CodeQueue(Settings.resolve()).run(job_id)

        registered = huey.task(name=TASK)(run_job)
        huey._harness_task = registered
    return registered


def consume(home: str, tracking_uri: str, database: str | None, workers: int) -> None:
    """A huey consumer with ``workers`` processes, for ``harness serve --code-workers``: run
    in a process of its own (it installs signal handlers) that dies with the server."""
    from harness.files import die_with_parent
    from harness.settings import DATABASE_ENV, HOME_ENV

    die_with_parent(os.getppid())
    os.environ[HOME_ENV] = home
    os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
    if database:
        os.environ[DATABASE_ENV] = database
    settings = Settings.resolve()
    queue = CodeQueue(settings)
    consumer = queue.huey.create_consumer(
        workers=workers, worker_type="process", periodic=False, max_delay=0.5
    )
    me = os.getpid()
    # every process the consumer forks (its workers, its scheduler) dies with it
    consumer.environment.init_child = lambda _process: die_with_parent(me)
    consumer.run()
