"""A derived index of one experiment's submission runs, so standings stay fast at 10,000
submissions while MLflow stays the system of record.

The index is a JSON file under ``HARNESS_HOME/cache``, keyed by tracking URI and experiment id.
Each read syncs it with MLflow before answering:

- runs that started at or after the watermark (less a slack for clocks and commits in flight)
  are fetched again, whatever their state, so new and just-finished runs come in;
- the watermark never passes a run that is still RUNNING (unless it is older than an hour:
  a submit killed midway), so its end is seen;
- a submission run seen RUNNING for over an hour is swept (``Leaderboard.sweep_stale`` marks
  it FAILED in MLflow, tagged ``harness.swept``) and read again;
- deleted runs are asked for every time (usually few) and hidden; a run no longer deleted is
  fetched again (restored) or dropped (purged by ``mlflow gc``).

Harness never changes a finished submission run, so nothing else can go stale. Deleting the
file, or ``--rebuild``, rebuilds it from MLflow alone; ``scan`` reads MLflow in full, and the
tests check that both always give the same frame.

The index never trusts a score it cannot trace to MLflow: the file is signed (HMAC-SHA256 of
its content, with a key made on first use in ``HARNESS_HOME/private/.index-key``, mode 0600).
A file whose signature does not match (a hand edit) is rebuilt from MLflow, and the event is
noted in ``cache/index-events.jsonl`` for ``harness verify`` to report.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import secrets
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.board.schema import (
    ARTIFACT_TAG,
    COMPLETE,
    ERROR,
    ERROR_TAG,
    FILE_TAG,
    KIND_TAG,
    LADDER_TAG,
    LATE_TAG,
    MESSAGE_TAG,
    PARTICIPANT_TAG,
    PREPARATION_TAG,
    PRIVATE_SCORE,
    PUBLIC_SCORE,
    SELECTED_TAG,
    SELECTION,
    SELECTS_TAG,
    SHA256_TAG,
    STATUS_TAG,
)

__all__ = [
    "RunIndex",
    "entries",
    "frame",
    "is_entry",
    "run_row",
    "scan",
    "search",
]

if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient
    from mlflow.entities import Run

SCHEMA = 3  # 2: rows keep the preparation; 3: errors, late entries, selections, ladder
STALE_MS = 3_600_000  # a run RUNNING for an hour was killed: stop waiting for it, sweep it
PAGE = 5_000
KEY_FILE = ".index-key"  # in HARNESS_HOME/private: signs the index files
EVENTS = "index-events.jsonl"  # in the cache folder: index files found tampered with
_SIGNED = '{"signature":"'  # a signed file starts so, then 64 hex digits and '",'


class RunIndex:
    def __init__(
        self,
        cache_dir: Path,
        uri: str,
        experiment_id: str | None,
        *,
        local: bool,
        generation: str = "",
    ) -> None:
        key = hashlib.sha256(f"{uri}\n{experiment_id}".encode()).hexdigest()[:20]
        self.path = cache_dir / f"runs-{key}.json"
        self.key_file = cache_dir.parent / "private" / KEY_FILE
        self.uri = uri
        self.experiment_id = experiment_id
        # Harness changes a finished run only when it adds private scores at the end, and then
        # bumps the experiment's generation tag: a different generation rebuilds the index.
        self.generation = generation
        # One machine, one clock, writes serialised by a lock: runs commit in start order.
        # A tracking server's clients have their own clocks: allow them two minutes.
        self.slack_ms = 2_000 if local else 120_000
        #: After :meth:`submissions`: what the frame it returned was read from (the index
        #: file's path, (mtime_ns, size, inode) and generation), or None when that cannot be
        #: told (a rebuild, an unwritable cache). Equal states, equal frames: a key for caches
        #: of what is computed from the frame (the finished standings, leaderboard/board.py).
        self.state: tuple[str, tuple[int, int, int], str] | None = None

    def submissions(
        self,
        client: MlflowClient,
        *,
        rebuild: bool = False,
        sweep: Callable[[], object] | None = None,
    ) -> pd.DataFrame:
        """The records frame (:func:`frame`), after syncing with MLflow. A submission run seen
        RUNNING past ``STALE_MS`` makes it call ``sweep`` (``Leaderboard.sweep_stale``) once,
        then read that run again."""
        if self.experiment_id is None:
            return frame([])
        from mlflow.entities import ViewType
        from mlflow.exceptions import MlflowException

        stamp = None if rebuild else _stamp(self.path)
        memo = _MEMO.get(self.path)
        if memo is not None and stamp is not None and memo.stamp == stamp:
            state = memo.state if memo.state.get("generation", "") == self.generation else {}
        else:
            memo = None
            state = {} if rebuild else self._load()
        runs: dict[str, dict[str, Any]] = dict(state.get("runs", {}))
        # The runs still RUNNING and the newest start: from this process's last read of an
        # unchanged file, else counted here (a warm read does nothing per stored run).
        if memo is not None and memo.state is state:
            running, newest = set(memo.running), memo.newest
        else:
            running = {rid for rid, row in runs.items() if row["status"] == "RUNNING"}
            newest = max((row["start"] for row in runs.values()), default=None)
        watermark = state.get("watermark")
        since = (
            "" if watermark is None else f"attributes.start_time >= {watermark - self.slack_ms}"
        )
        fetched = {
            r.info.run_id: r for r in search(client, self.experiment_id, since, ViewType.ALL)
        }
        # Only harness's own runs are kept: tuning trials and other runs in the experiment
        # never count, however many there are.
        fresh = {rid: run_row(r) for rid, r in fetched.items() if is_entry(r)}
        changed = any(runs.get(rid) != row for rid, row in fresh.items())
        runs.update(fresh)
        latest = max((r.info.start_time for r in fetched.values()), default=None)

        deleted = {
            r.info.run_id for r in search(client, self.experiment_id, "", ViewType.DELETED_ONLY)
        }
        revived = set(state.get("deleted", [])) - deleted - set(fetched)
        for rid in revived:
            try:  # restored, or purged for good
                restored = client.get_run(rid)
                if is_entry(restored):
                    runs[rid] = run_row(restored)
            except MlflowException:
                runs.pop(rid, None)
            changed = True
        for rid in {*fresh, *revived}:
            row = runs.get(rid)
            if row is not None and row["status"] == "RUNNING":
                running.add(rid)
            else:
                running.discard(rid)
            if row is not None and (newest is None or row["start"] > newest):
                newest = row["start"]

        now = int(time.time() * 1000)
        stale = [
            rid
            for rid in running
            if now - runs[rid]["start"] >= STALE_MS
            and rid not in deleted
            and not runs[rid].get("sweep_tried")
        ]
        if stale and sweep is not None:  # killed submits: mark them FAILED in MLflow, once
            from harness.errors import StoreError

            with contextlib.suppress(StoreError, MlflowException):  # read-only: still a read
                sweep()
            for rid in stale:
                try:
                    runs[rid] = run_row(client.get_run(rid))
                except MlflowException:
                    runs.pop(rid, None)
                    running.discard(rid)
                    continue
                if runs[rid]["status"] == "RUNNING":
                    runs[rid]["sweep_tried"] = True
                else:
                    running.discard(rid)
            changed = True

        pending = [runs[rid]["start"] for rid in running if now - runs[rid]["start"] < STALE_MS]
        starts = [t for t in (newest, latest) if t is not None]
        new_mark = min(pending) if pending else max(starts, default=watermark)
        new_state = {
            "schema": SCHEMA,
            "uri": self.uri,
            "experiment_id": self.experiment_id,
            "generation": self.generation,
            "watermark": new_mark,
            "deleted": sorted(deleted),
            "runs": runs,
        }
        changed |= new_mark != watermark or sorted(deleted) != state.get("deleted")
        self.state = None
        if not changed and memo is not None:
            self.state = (str(self.path), memo.stamp, self.generation)
            return memo.frame.copy(deep=False)  # nothing new: this process's frame of the file
        if changed:  # most reads change nothing: skip the rewrite
            self._save(new_state)
        out = frame(row for rid, row in runs.items() if rid not in deleted)
        after = _stamp(self.path)
        if after is not None:
            _MEMO[self.path] = _Memo(after, new_state, out.copy(deep=False), running, newest)
            self.state = (str(self.path), after, self.generation)
        return out

    def cached(self) -> pd.DataFrame | None:
        """The records frame from the index file alone, without MLflow: for a caller that knows
        nothing changed in the store since the file was synced (:class:`Shortcut`). None when
        the file cannot answer alone (missing, not signed by this home, another schema or
        generation, or a run still RUNNING, whose end or sweep needs MLflow)."""
        self.state = None
        if self.experiment_id is None:
            return frame([])
        stamp = _stamp(self.path)
        if stamp is None:
            return None
        memo = _MEMO.get(self.path)
        if memo is None or memo.stamp != stamp:
            state, distrust = read_state(self.path, self.key_file)
            if distrust is not None or not self._same(state) or "runs" not in state:
                return None  # the full read notes and rebuilds it
            runs = state["runs"]
            running = {rid for rid, row in runs.items() if row["status"] == "RUNNING"}
            newest = max((row["start"] for row in runs.values()), default=None)
            deleted = set(state.get("deleted", []))
            out = frame(row for rid, row in runs.items() if rid not in deleted)
            memo = _Memo(stamp, state, out.copy(deep=False), running, newest)
            _MEMO[self.path] = memo
        if memo.running or memo.state.get("generation", "") != self.generation:
            return None
        self.state = (str(self.path), memo.stamp, self.generation)
        return memo.frame.copy(deep=False)

    def _same(self, state: dict[str, Any]) -> bool:
        same = (
            state.get("schema"),
            state.get("uri"),
            state.get("experiment_id"),
            state.get("generation", ""),
        )
        return same == (SCHEMA, self.uri, self.experiment_id, self.generation)

    def _load(self) -> dict[str, Any]:
        state, distrust = read_state(self.path, self.key_file)
        if distrust is not None:  # not what this home's index wrote: rebuild from MLflow
            note_distrust(self.path, distrust)
            return {}
        return state if self._same(state) else {}

    def _save(self, state: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.{time.monotonic_ns()}.tmp")
        body = json.dumps(state, separators=(",", ":"))
        tmp.write_text(signed(body, index_key(self.key_file)), encoding="utf-8")
        tmp.replace(self.path)  # atomic: concurrent readers see the old or the new file


#: This process's last read of each index file, by its (mtime_ns, size, inode): the state and
#: frame it held, so a warm read of an unchanged file (the server's next request) neither
#: parses and verifies the file again nor rebuilds the frame. Any write, ours or another
#: process's, replaces the file and so changes the stamp.
@dataclass(frozen=True)
class _Memo:
    stamp: tuple[int, int, int]  # the file's (mtime_ns, size, inode)
    state: dict[str, Any]  # as stored in the file
    frame: Any  # the records frame built from it
    running: frozenset[str] | set[str]  # runs still RUNNING in it
    newest: int | None  # the latest start among its runs


_MEMO: dict[Path, _Memo] = {}


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class Shortcut:
    """What lets a read of a local sqlite store skip MLflow: a signed note, per competition, of
    the experiment (its id and tags: the rules) as a full read found it, and the database
    files' stamps (mtime, size, inode of ``mlflow.db`` and its ``-wal`` and ``-journal``)
    taken before that read. While the stamps are unchanged nothing was written since, by any
    process, so the note and the index file answer alone; any write changes a stamp and the
    next read is a full one again.

    A stamp taken within :data:`RACY_S` of a write is not noted (as git treats a racily
    clean index): a write in the same clock tick could leave the stamp unchanged."""

    def __init__(self, cache_dir: Path, uri: str, competition: str) -> None:
        key = hashlib.sha256(f"{uri}\n{competition}".encode()).hexdigest()[:20]
        self.path = cache_dir / f"board-{key}.json"
        self.key_file = cache_dir.parent / "private" / KEY_FILE
        self.uri = uri
        self.database = Path(uri.removeprefix("sqlite:///"))

    def stamp(self) -> list[list[int] | None]:
        """The database files' stamps now (None for a file that is not there)."""
        out: list[list[int] | None] = []
        for suffix in ("", "-wal", "-journal"):
            found = _stamp(self.database.with_name(self.database.name + suffix))
            out.append(None if found is None else list(found))
        return out

    def read(self) -> dict[str, Any] | None:
        """The noted experiment (``{"experiment_id", "tags"}``) if nothing was written since
        it was noted, else None."""
        state, distrust = read_state(self.path, self.key_file)
        if distrust is not None or not state or state.get("uri") != self.uri:
            return None
        if state.get("stamp") != self.stamp():
            return None
        return state

    def write(
        self, stamp: list[list[int] | None], experiment_id: str | None, tags: dict[str, str]
    ) -> None:
        """Note the experiment a full read found, with the stamps taken before that read."""
        if stamp[0] is None:
            return
        now = time.time_ns()
        if any(s is not None and now - s[0] < RACY_S * 1e9 for s in stamp):
            return  # racily clean: let the next read be a full one
        body = {
            "schema": SCHEMA,
            "uri": self.uri,
            "stamp": stamp,
            "experiment_id": experiment_id,
            "tags": tags,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
        text = signed(json.dumps(body, separators=(",", ":")), index_key(self.key_file))
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(self.path)


RACY_S = 2.0  # a database written this recently may change again within the same stamp


def scan(client: MlflowClient, experiment_id: str | None) -> pd.DataFrame:
    """The records frame read from MLflow in full (the index's reference)."""
    from mlflow.entities import ViewType

    if experiment_id is None:
        return frame([])
    return frame(run_row(r) for r in search(client, experiment_id, "", ViewType.ACTIVE_ONLY))


def search(client: MlflowClient, experiment_id: str, filter_string: str, view: int) -> list[Run]:
    runs: list[Run] = []
    token = None
    while True:
        page = client.search_runs(
            [experiment_id],
            filter_string=filter_string,
            run_view_type=view,
            max_results=PAGE,
            page_token=token,
        )
        runs.extend(page)
        token = page.token
        if not token:
            return runs


TEXT_COLUMNS = ("file", "artifact", "sha256", "error", "selects", "ladder")


def frame(rows: Iterable[dict[str, Any]]) -> pd.DataFrame:
    """Finished harness runs as the records frame: one row per entry, invalid submission and
    selection event, oldest first; ``entries`` keeps the scored entries ``ranking`` takes."""
    import pandas as pd

    keep = [row for row in rows if row["status"] == "FINISHED" and row["kind"] is not None]
    keep = [row for row in keep if _state(row) != COMPLETE or PUBLIC_SCORE in row["metrics"]]
    columns: dict[str, list[Any]] = {
        "run_id": [row["run_id"] for row in keep],
        "participant": [row["participant"] for row in keep],
        "kind": [row["kind"] for row in keep],
        "message": [row["message"] for row in keep],
        "preparation": [row.get("preparation", "") for row in keep],
        "submitted_at": [row["start"] for row in keep],
        "status": [_state(row) for row in keep],
        "late": [row.get("late", False) for row in keep],
        "selected": [row.get("selected") for row in keep],
        **{name: [row.get(name, "") for row in keep] for name in TEXT_COLUMNS},
    }
    names = [PUBLIC_SCORE, PRIVATE_SCORE, *(k for row in keep for k in row["metrics"])]
    for name in dict.fromkeys(names):
        columns[name] = [row["metrics"].get(name, float("nan")) for row in keep]
    out = pd.DataFrame(columns)
    return out.sort_values(["submitted_at", "run_id"], kind="stable").reset_index(drop=True)


def entries(records: pd.DataFrame) -> pd.DataFrame:
    """The scored submissions of a records frame (no errors, no selection events)."""
    return records[records["status"] == COMPLETE].reset_index(drop=True)


def _state(row: dict[str, Any]) -> str:
    if row["kind"] == SELECTION:
        return SELECTION
    return ERROR if row.get("state") == ERROR else COMPLETE


def is_entry(run: Run) -> bool:
    return KIND_TAG in run.data.tags


def run_row(run: Run) -> dict[str, Any]:
    tags = run.data.tags
    return {
        "run_id": run.info.run_id,
        "start": run.info.start_time,
        "status": run.info.status,
        "participant": tags.get(PARTICIPANT_TAG),
        "kind": tags.get(KIND_TAG),
        "message": tags.get(MESSAGE_TAG, ""),
        "preparation": tags.get(PREPARATION_TAG, ""),
        "metrics": dict(run.data.metrics),
        "state": tags.get(STATUS_TAG, COMPLETE),
        "late": tags.get(LATE_TAG) == "true",
        "selected": None if SELECTED_TAG not in tags else tags[SELECTED_TAG] == "true",
        "file": tags.get(FILE_TAG, ""),
        "artifact": tags.get(ARTIFACT_TAG) or tags.get(FILE_TAG, ""),
        "sha256": tags.get(SHA256_TAG, ""),
        "error": tags.get(ERROR_TAG, ""),
        "selects": tags.get(SELECTS_TAG, ""),
        "ladder": tags.get(LADDER_TAG, ""),
    }


# -- signing -----------------------------------------------------------------------------------


def index_key(key_file: Path) -> bytes:
    """The key that signs index files, made (mode 0600) on first use."""
    try:
        return key_file.read_bytes()
    except FileNotFoundError:
        pass
    key_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = key_file.with_name(f"{key_file.name}.{os.getpid()}.{time.monotonic_ns()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(secrets.token_hex(32).encode())
    try:
        os.link(tmp, key_file)  # atomic, and never replaces a key another process made first
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return key_file.read_bytes()


def _digest(key: bytes, body: str) -> str:
    return hmac.new(key, body.encode("utf-8"), hashlib.sha256).hexdigest()


def signed(body: str, key: bytes) -> str:
    """``body`` (a JSON object) with its signature as the first field: still valid JSON."""
    assert body.startswith("{") and body != "{}"
    return f'{_SIGNED}{_digest(key, body)}",{body[1:]}'


def read_state(path: Path, key_file: Path) -> tuple[dict[str, Any], str | None]:
    """An index file's state and, when it cannot be trusted, why (None: signed by this home's
    key). A missing file is an empty, trusted state."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return {}, None
    try:
        state: dict[str, Any] = json.loads(text)
    except json.JSONDecodeError:
        return {}, "not valid JSON"
    if not isinstance(state, dict):
        return {}, "not a JSON object"
    state.pop("signature", None)
    n = len(_SIGNED)
    if not text.startswith(_SIGNED) or text[n + 64 : n + 66] != '",':
        return state, "not signed"
    body = "{" + text[n + 66 :]
    if not hmac.compare_digest(text[n : n + 64], _digest(index_key(key_file), body)):
        return state, "signature does not match its content"
    return state, None


def note_distrust(path: Path, reason: str) -> None:
    """Note that the index file ``path`` was not trusted (and so rebuilt), for ``verify``."""
    line = json.dumps({"at": int(time.time() * 1000), "file": path.name, "reason": reason})
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / EVENTS, "a", encoding="utf-8") as f:
        f.write(line + "\n")
