"""`harness ui`: the MLflow UI over the leaderboard's sqlite store, as one process group that
starts, answers, and stops as a whole.

The processes behind it: with mlflow 3.x (3.17 here), `mlflow ui` starts, all in its process
group (checked with `ps -o pid,ppid,pgid,sid,cmd`):
  python -m uvicorn ... --workers 4 mlflow.server.fastapi_app:app   (the socket's owner)
    + 4 multiprocessing-spawned workers + a multiprocessing resource tracker
  python -m mlflow.server.jobs._job_runner                          (job execution)
    + 7 huey consumers (mlflow.server.jobs._huey_consumer / _periodic_tasks_consumer)
i.e. 15 processes. SIGTERM to the `mlflow ui` process alone is forwarded to uvicorn only; the
huey consumers linger until their watchers see it gone (10-20 s here), so we signal the whole
group. Only the jobs themselves (mlflow.server.jobs.local_executor) run with
start_new_session=True, outside the group; none run unless a job is submitted, but to stop
those too we collect the server's descendants from /proc (by parent pid: this kernel has no
/proc/<pid>/task/*/children) while it runs and right before stopping it, when the tree is still
intact, and signal the ones outside the group by pid (start time checked, against pid reuse).
Time to answer on a busy 2-core machine: 9-20 s over a store with a submission, 12-40 s over an
empty one; creating the tables is ~3 s of it, the rest is 13 processes importing mlflow at once.

Which page to open (read in MLflow 3.17's front-end bundle, mlflow/server/js/build/static/js):
the UI is a hash router; `/experiments/:experimentId/:tabName` with tab `runs` is the runs
table. Whether an experiment opens in the GenAI view (Overview, Traces) or the Model-training
view (the runs) is its `workflowType`: the URL's `workflowType` parameter (`genai` or
`machine_learning`, carried over into the UI's own links), else the last choice of the toggle
kept in the browser's localStorage (`mlflow.workflowType`), else `genai`. (The experiment's
`mlflow.experimentKind` tag, which Harness sets, is what builds without that toggle read.) The
runs table shows only Source, Models and Dataset besides the name until columns are chosen;
`viewStateShareKey=harness` opens the view saved in the experiment's
`mlflow.sharedViewState.harness` tag instead (harness.board.schema.UI_TAGS: the public_score
column), under a line "You're viewing a shared view", which the user may exit or keep.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from harness.board.schema import VIEW_KEY
from harness.errors import HarnessError
from harness.settings import Settings

#: The Model-training view of MLflow's UI and Harness's saved view (see the module docstring).
VIEW = f"workflowType=machine_learning&viewStateShareKey={VIEW_KEY}"


def runs_page(base: str, experiment_id: str | None = None) -> str:
    """The UI's URL under ``base``: an experiment's runs table in the Model-training view, in
    Harness's saved view (its experiment must have :data:`~harness.board.schema.UI_TAGS`), or the
    experiments list without one."""
    from urllib.parse import quote

    base = base.rstrip("/")
    if experiment_id is None:
        return base
    return f"{base}/#/experiments/{quote(experiment_id, safe='')}/runs?{VIEW}"


class _Stop(Exception):
    """Raised by `harness ui`'s signal handler: stop the MLflow server, then exit."""


def _proc_table() -> dict[int, tuple[int, int, bytes, bytes]] | None:
    """pid -> (parent pid, process group, state, start time) of every process; None without
    /proc (not Linux): then only the process group is stopped."""
    if not os.path.isdir("/proc/self"):
        return None
    table: dict[int, tuple[int, int, bytes, bytes]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                data = stat.read()
        except OSError:  # it exited meanwhile
            continue
        # pid (comm) state ppid pgrp session ... starttime (field 22); comm may hold ") ".
        fields = data[data.rfind(b")") + 1 :].split()
        if len(fields) > 19:
            table[int(entry)] = (int(fields[1]), int(fields[2]), fields[0], fields[19])
    return table


def _descendants(root: int, table: dict[int, tuple[int, int, bytes, bytes]]) -> dict[int, bytes]:
    """pid -> start time of each process below root."""
    children: dict[int, list[int]] = {}
    for pid, (ppid, _, _, _) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: dict[int, bytes] = {}
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found[child] = table[child][3]
                stack.append(child)
    return found


def _remember(server: Any, extra: dict[int, bytes]) -> None:
    """Add the server's current descendants to extra, dropping those that are gone."""
    table = _proc_table()
    if table is None or server.poll() is not None:
        return
    for pid in [pid for pid, start in extra.items() if pid not in table or table[pid][3] != start]:
        del extra[pid]
    extra.update(_descendants(server.pid, table))


def _running(server: Any, extra: dict[int, bytes]) -> bool:
    """Whether the server, a member of its process group, or a remembered descendant lives."""
    if server.poll() is None:
        return True
    table = _proc_table()
    if table is None:
        return False
    return any(
        state != b"Z" and (pgid == server.pid or extra.get(pid) == start)
        for pid, (_, pgid, state, start) in table.items()
    )


def _signal(server: Any, extra: dict[int, bytes], signum: int) -> None:
    """signum to the server's process group and to its remembered descendants outside it."""
    import contextlib

    if not hasattr(os, "killpg"):  # Windows: no process groups to signal
        if server.poll() is None:
            server.send_signal(signum)
        return
    table = _proc_table()
    # While the group has a member its id cannot be reused, so this never hits a stranger.
    group_left = table is None or any(pgid == server.pid for _, pgid, _, _ in table.values())
    if server.returncode is None or group_left:
        with contextlib.suppress(OSError):  # gone meanwhile
            os.killpg(server.pid, signum)
    for pid, start in extra.items():
        if table is None or pid not in table:
            continue
        _, pgid, state, now_start = table[pid]
        if now_start == start and pgid != server.pid and state != b"Z":
            with contextlib.suppress(OSError):
                os.kill(pid, signum)


def stop(
    server: Any, extra: dict[int, bytes], hurry: Callable[[], bool], grace: float = 10.0
) -> None:
    """SIGTERM the server and all it started; SIGKILL what is left after grace seconds (or at
    once when hurry() turns true, e.g. on a second Ctrl-C)."""
    import contextlib
    import signal
    import subprocess
    import time

    _remember(server, extra)
    for signum, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        if not _running(server, extra):
            break
        _signal(server, extra, signum)
        deadline = time.monotonic() + wait
        while _running(server, extra) and time.monotonic() < deadline:
            if signum == signal.SIGTERM and hurry():
                break
            time.sleep(0.2)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.wait(timeout=5)


def _check_port(port: int) -> None:
    """A clear error now, rather than a server that fails after a slow start."""
    import errno
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As uvicorn does, so a closed connection's TIME_WAIT doesn't count as "in use".
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                message = f"port {port} on 127.0.0.1 is in use: choose another with --port"
            else:
                message = f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}"
            raise HarnessError(message) from None


def _wait_until_answering(server: Any, port: int, say: Callable[[str], None]) -> None:
    """Poll /health until the server answers; a HarnessError if it exits first."""
    import http.client
    import time
    import urllib.request

    url = f"http://127.0.0.1:{port}/health"
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # never a proxy
    say(
        f"starting the MLflow UI on 127.0.0.1:{port} "
        "(the first start can take a minute on a small machine)…"
    )
    while True:
        code = server.poll()
        if code is not None:
            raise HarnessError(
                f"the MLflow server for 127.0.0.1:{port} exited (code {code}) before answering;"
                " its messages are above"
            )
        try:
            with opener.open(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (OSError, http.client.HTTPException):  # not listening, or its workers not up
            pass
        time.sleep(0.5)


def _watch(server: Any, extra: dict[int, bytes]) -> int:
    """Wait for the server to exit, remembering its descendants; its exit code, shell-style."""
    import subprocess

    while True:
        try:
            code: int = server.wait(timeout=5)
        except subprocess.TimeoutExpired:
            _remember(server, extra)
            continue
        return code if code >= 0 else 128 - code


def serve(
    settings: Settings,
    port: int,
    say: Callable[[str], None],
    *,
    experiment_id: str | None = None,
) -> int:
    """Run the MLflow UI on 127.0.0.1:``port`` over ``settings``' sqlite store until a signal
    (Ctrl-C, SIGTERM, SIGHUP: then 0) or until the server exits (its code, shell-style); say
    the URL once it answers: :func:`runs_page` of ``experiment_id``. Everything it started is
    stopped before this returns."""
    import signal
    import subprocess

    _check_port(port)
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        settings.tracking_uri,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    # The handlers are in place before the server starts, so no signal can leave it orphaned:
    # until the server is known ("armed") a signal is only recorded, and acted on right after.
    received: list[int] = []
    armed = [False]

    def on_signal(signum: int, frame: object) -> None:
        received.append(signum)
        if armed[0]:
            armed[0] = False
            raise _Stop(signum)

    def arm() -> None:
        armed[0] = True
        if received:
            armed[0] = False
            raise _Stop(received[0])

    stop_signals = [signal.SIGINT, signal.SIGTERM]
    if hasattr(signal, "SIGHUP"):
        stop_signals.append(signal.SIGHUP)
    previous = {
        signum: signal.signal(signum, on_signal)
        for signum in stop_signals
        if signal.getsignal(signum) != signal.SIG_IGN  # ignored stays ignored (nohup, `&`)
    }
    server = None
    extra: dict[int, bytes] = {}
    code = 0
    try:
        # Its own session (and so process group): a terminal's Ctrl-C or hang-up reaches only
        # us, and we stop the whole group, never just the first process.
        server = subprocess.Popen(command, stdin=subprocess.DEVNULL, start_new_session=True)
        arm()
        _wait_until_answering(server, port, say)
        url = runs_page(f"http://127.0.0.1:{port}", experiment_id)
        say(f"MLflow UI on {url} (Ctrl-C stops it)")
        code = _watch(server, extra)
    except _Stop:
        code = 0
    finally:
        armed[0] = False
        try:
            if server is not None:
                signals_so_far = len(received)
                stop(server, extra, hurry=lambda: len(received) > signals_so_far)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler if handler is not None else signal.SIG_DFL)
    return code
