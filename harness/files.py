"""File primitives every floor uses: checksums, locks and worker pools.

Nothing here knows a competition or a store: ``sha256_file`` hashes, ``file_lock`` holds an
advisory lock on a lock file (POSIX ``flock``; on Windows it holds nothing and says so), and
``process_pool`` starts workers that inherit no open file (so no lock) and die with their parent.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from concurrent.futures import ProcessPoolExecutor


def sha256_file(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


_HASHES: dict[tuple[str, int, int], str] = {}


def cached_sha256(path: Path) -> str:
    """sha256, remembered per (path, size, mtime) so one process hashes a file once."""
    st = path.stat()
    key = (str(path), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        _HASHES[key] = sha256_file(path)
    return _HASHES[key]


#: How long a lock must stay busy, with its recorded holder dead, before it is taken over.
STALE_AFTER = 1.0


@contextlib.contextmanager
def file_lock(
    path: Path, *, shared: bool = False, notify: Callable[[str], None] | None = None
) -> Iterator[None]:
    """Hold a lock on ``path`` (created with its folder if missing) until the block ends:
    exclusive, or ``shared`` with other shared holders. Without ``fcntl`` (Windows) nothing is
    locked: one writer at a time is on the user.

    An exclusive holder records ``pid@host`` in the file. ``flock`` frees a lock when its
    holder dies, unless a child forked by the holder still has the file open; so a lock that
    stays busy while its recorded holder (on this host) is dead is held by such an orphan: it
    is taken over (the file is replaced, the orphan keeps the old one) and ``notify`` says so.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:
        yield
        return
    mode = fcntl.LOCK_SH if shared else fcntl.LOCK_EX
    dead_since: float | None = None
    delay = 0.001
    while True:  # polled, not a blocking flock: a holder may die, leaving an orphan, meanwhile
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, mode | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _recorded_holder(fd)
            os.close(fd)
            if holder is None or pid_alive(holder):
                dead_since = None
            elif dead_since is None:
                dead_since = time.monotonic()
            elif time.monotonic() - dead_since >= STALE_AFTER:
                _take_over(path, holder, notify)
                dead_since = None
            time.sleep(delay)
            delay = min(delay * 2, 0.1)
            continue
        if _is_current(fd, path):
            break
        os.close(fd)  # taken over meanwhile: lock the file that is there now
    try:
        if not shared:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}@{socket.gethostname()}\n".encode(), 0)
        yield
    finally:
        if not shared:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)  # a clean release leaves no holder behind
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _recorded_holder(fd: int) -> int | None:
    """The pid recorded in a lock file, when it was recorded on this host."""
    try:
        text = os.pread(fd, 200, 0).decode("ascii", "replace").strip()
    except OSError:
        return None
    pid, _, host = text.partition("@")
    if not pid.isdigit() or host != socket.gethostname():
        return None
    return int(pid)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` (of this machine) still runs."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # someone else's process
    return True


def _is_current(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (st.st_dev, st.st_ino) == (own.st_dev, own.st_ino)


def _take_over(path: Path, holder: int, notify: Callable[[str], None] | None) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:  # another waiter took it over
        return
    try:  # replace the file only if it still names the dead holder
        if _recorded_holder(fd) != holder or not _is_current(fd, path):
            return
        path.unlink()
    except FileNotFoundError:
        return
    finally:
        os.close(fd)
    if notify is not None:
        notify(
            f"{path.name}: the lock's holder (pid {holder}) is dead but a process it started "
            "still holds the lock; taking it over"
        )


# ---------------------------------------------------------------------------------------------
# Worker pools
# ---------------------------------------------------------------------------------------------


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool whose workers are started fresh (``spawn``: a new interpreter, not a
    fork), so they inherit no lock or other open file of this process, and die with this process
    (Linux: ``PR_SET_PDEATHSIG``) rather than wait forever for work if it is killed. (Not
    ``forkserver``: its workers are the server's children, so the parent check cannot work.)"""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    return ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=die_with_parent,
        initargs=(os.getpid(),),
    )


PR_SET_PDEATHSIG = 1


def die_with_parent(parent: int) -> None:
    """Ask the kernel to SIGKILL this process when its parent dies (Linux; elsewhere nothing),
    and exit now if ``parent`` already died."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:
        os._exit(1)


#: One SQLAlchemy engine per database URL in this process (its connection pool), shared by the
#: advisory locks and the participants' table.
_ENGINES: dict[str, Any] = {}


def engine(database: str) -> Any:
    """This process's engine for ``database`` (made on first use)."""
    import sqlalchemy

    found = _ENGINES.get(database)
    if found is None:
        found = _ENGINES[database] = sqlalchemy.create_engine(database, pool_pre_ping=True)
    return found


@contextlib.contextmanager
def advisory_lock(database: str, name: str) -> Iterator[None]:
    """A PostgreSQL session-level advisory lock on ``name``, held on its own connection."""
    import sqlalchemy

    from harness.errors import StoreError

    key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
    try:
        connection = engine(database).connect()
    except sqlalchemy.exc.SQLAlchemyError as exc:
        raise StoreError(f"the Harness database cannot be reached for its lock: {exc}") from exc
    with connection:
        connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
        try:
            yield
        finally:
            connection.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})
            connection.commit()
