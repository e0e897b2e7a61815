"""Run other people's code: in bubblewrap, with no network, a read-only view of the Python
environment and of the folders the caller binds, nothing else of the host, a private ``/tmp``,
resource limits and a wall-clock kill.

One call, :func:`run`::

    outcome = run(["python", "solution.py"], workdir=folder, ro_binds={"input": public},
                  limits=Limits(wall_seconds=600, memory_bytes=4 << 30))

``workdir`` (an empty folder of the host's) is the sandbox's writable working directory, seen
inside as :data:`WORKDIR`; each ``ro_binds`` entry mounts a host path read-only at a path inside
(relative paths land under the working directory). Everything else the code sees is the
system's ``/usr`` and the Python environment, read-only. It runs as uid/gid 65534 in its own
user, PID, network, IPC, UTS and cgroup namespaces, with every capability dropped and no way to
open a user namespace of its own. Limits (``setrlimit``, inherited by every process it starts):
address space, processes, file size, CPU seconds, no core files; a private ``/tmp`` and
``/dev/shm`` of bounded size; the wall-clock limit kills the whole sandbox (its PID namespace
dies with its first process). A host without ``bwrap`` raises :class:`SandboxUnavailable`:
code is never run unsandboxed.

The module is on the base floor: it knows neither competitions nor the leaderboard.
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError

__all__ = [
    "WORKDIR",
    "Limits",
    "Outcome",
    "SandboxUnavailable",
    "available",
    "bwrap_path",
    "run",
]

#: The working directory inside the sandbox.
WORKDIR = "/sandbox"
#: Names the bwrap executable when it is not ``bwrap`` on PATH.
BWRAP_ENV = "HARNESS_BWRAP"
#: The uid and gid the code runs as inside (``nobody``).
UID = 65534
#: How many bytes of each stream's end an :class:`Outcome` keeps.
TAIL_BYTES = 64 * 1024
#: Names of streams' error lines that mean the address-space limit was hit.
_MEMORY_MARKS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory")
#: A child's exit status when bwrap reports it killed by signal N (bwrap exits 128 + N).
_SIGNALLED = 128


class SandboxUnavailable(HarnessError):
    """This host cannot sandbox code (no ``bwrap``, or user namespaces refused): code
    submissions are refused rather than run unsandboxed."""

    status = 503


@dataclass(frozen=True)
class Limits:
    """What one run may use. Sizes in bytes, times in seconds."""

    wall_seconds: float = 600.0  # wall clock, then the whole sandbox is killed
    memory_bytes: int = 4 << 30  # address space of each process (RLIMIT_AS)
    processes: int = 256  # processes and threads alive at once (RLIMIT_NPROC, per sandbox)
    file_bytes: int = 1 << 30  # largest file it may write (RLIMIT_FSIZE)
    tmp_bytes: int = 512 << 20  # size of the private /tmp and of /dev/shm (each a tmpfs)
    cpu_seconds: int | None = None  # CPU time of each process (RLIMIT_CPU); None: wall + 5

    def __post_init__(self) -> None:
        for name in ("wall_seconds", "memory_bytes", "processes", "file_bytes", "tmp_bytes"):
            if not getattr(self, name) > 0:
                raise ValueError(f"Limits.{name} must be > 0, got {getattr(self, name)!r}")

    @property
    def cpu(self) -> int:
        return self.cpu_seconds or math.ceil(self.wall_seconds) + 5


@dataclass(frozen=True)
class Outcome:
    """How a run ended. ``killed`` is the limit that ended it (``"time"``, ``"memory"``,
    ``"file size"``) or None; ``returncode`` the code's exit status (negative: the signal that
    ended it; None when the wall clock killed it)."""

    returncode: int | None
    killed: str | None
    stdout: str  # the last TAIL_BYTES of each stream, decoded with replacement
    stderr: str
    seconds: float  # wall seconds from start to end, sandbox start-up included

    @property
    def ok(self) -> bool:
        return self.killed is None and self.returncode == 0

    @property
    def error(self) -> str | None:
        """The error's kind, as a participant may see it: ``time limit``, ``memory``, ``file
        size``, ``exit code N`` (``signal N``), or None when the run succeeded."""
        if self.killed is not None:
            return "time limit" if self.killed == "time" else self.killed
        if self.returncode == 0:
            return None
        if self.returncode is not None and self.returncode < 0:
            return f"signal {-self.returncode}"
        return f"exit code {self.returncode}"


def bwrap_path() -> str | None:
    """The ``bwrap`` executable this host has (``HARNESS_BWRAP`` names another), or None."""
    path = os.environ.get(BWRAP_ENV) or shutil.which("bwrap")
    return path if path and os.access(path, os.X_OK) else None


def available() -> bool:
    return bwrap_path() is not None


def python_binds() -> list[Path]:
    """The folders the running Python needs, read-only: its prefix, the base installation and
    every site-packages folder on ``sys.path`` (a venv may reach another through a .pth)."""
    found = [Path(sys.prefix), Path(sys.base_prefix)]
    for entry in sys.path:
        if entry and Path(entry).name in ("site-packages", "dist-packages"):
            found.append(Path(entry))
    resolved: list[Path] = []
    for path in found:
        for p in {path.absolute(), path.resolve()}:
            if p.is_dir() and not any(p == r or p.is_relative_to(r) for r in resolved):
                resolved = [r for r in resolved if not r.is_relative_to(p)] + [p]
    return sorted(resolved)


def _inside(target: str) -> str:
    return target if target.startswith("/") else f"{WORKDIR}/{target}"


def _as_root() -> bool:
    return os.geteuid() == 0


def _command(
    argv: Sequence[str],
    *,
    bwrap: str,
    workdir: Path,
    ro_binds: Mapping[str, Path],
    limits: Limits,
    env: Mapping[str, str],
    chdir: str = WORKDIR,
) -> list[str]:
    limit_args = [
        f"--as={limits.memory_bytes}",
        f"--nproc={limits.processes}",
        f"--fsize={limits.file_bytes}",
        f"--cpu={limits.cpu}",
        "--core=0",
    ]
    prlimit = shutil.which("prlimit") or "/usr/bin/prlimit"
    cmd = [prlimit, *limit_args, "--", bwrap]
    cmd += ["--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts"]
    cmd += ["--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    if _as_root():
        # Root's processes ignore RLIMIT_NPROC, and a user namespace would keep the code root
        # outside it: bwrap (root, no user namespace) builds the view, then setpriv drops to
        # the real uid 65534 with no capability left, so the process limit holds.
        cmd += ["--cap-add", "CAP_SETUID,CAP_SETGID,CAP_SETPCAP"]
    else:  # an unprivileged host user: a user namespace, in which it is uid 65534
        cmd += ["--unshare-user", "--uid", str(UID), "--gid", str(UID), "--disable-userns"]
        cmd += ["--cap-drop", "ALL"]
    cmd += ["--ro-bind", "/usr", "/usr"]
    for name in ("bin", "lib", "lib64", "lib32", "sbin"):
        host = Path("/") / name
        if host.is_symlink():
            cmd += ["--symlink", os.readlink(host), f"/{name}"]
        elif host.is_dir():
            cmd += ["--ro-bind", str(host), f"/{name}"]
    made: set[str] = {"/", "/usr", "/tmp", "/proc", "/dev", WORKDIR}

    def parents(target: str) -> list[str]:
        out = []
        for parent in reversed(Path(target).parents):
            if str(parent) not in made:  # bwrap would make it 0700: uid 65534 could not pass
                made.add(str(parent))
                out += ["--perms", "0755", "--dir", str(parent)]
        made.add(target)
        return out

    # /proc, /dev and the private /tmp first: bwrap mounts in order, so a Python environment
    # that lives under /tmp (a CI checkout's venv) is bound on top of the tmpfs, not hidden by it
    cmd += ["--proc", "/proc", "--dev", "/dev"]
    cmd += ["--size", str(limits.tmp_bytes), "--perms", "1777", "--tmpfs", "/dev/shm"]
    cmd += ["--size", str(limits.tmp_bytes), "--perms", "1777", "--tmpfs", "/tmp"]
    for path in python_binds():
        cmd += [*parents(str(path)), "--ro-bind", str(path), str(path)]
    cmd += ["--bind", str(workdir), WORKDIR]
    for target, source in ro_binds.items():
        inside = _inside(target)
        cmd += [*parents(inside), "--ro-bind", str(Path(source).absolute()), inside]
    cmd += ["--chdir", chdir, "--clearenv"]
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    cmd.append("--")
    if _as_root():
        setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
        cmd += [setpriv, f"--reuid={UID}", f"--regid={UID}", "--clear-groups"]
        cmd += ["--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--"]
    return [*cmd, *argv]


def default_env() -> dict[str, str]:
    """What the code's environment holds unless the caller says otherwise: the Python
    environment's ``bin`` first on PATH, a home and caches inside the sandbox, one thread per
    numerical library unless the host set more."""
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin",
        "HOME": WORKDIR,
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONUNBUFFERED": "1",
        "MPLCONFIGDIR": "/tmp/matplotlib",
        "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
        "MKL_NUM_THREADS": os.environ.get("MKL_NUM_THREADS", "1"),
        "OPENBLAS_NUM_THREADS": os.environ.get("OPENBLAS_NUM_THREADS", "1"),
        "HF_HUB_OFFLINE": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }


def _tail(path: Path) -> str:
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        size = f.tell()
        f.seek(max(0, size - TAIL_BYTES))
        return f.read().decode("utf-8", errors="replace")


def run(
    argv: Sequence[str],
    *,
    workdir: Path,
    ro_binds: Mapping[str, Path] | None = None,
    limits: Limits | None = None,
    env: Mapping[str, str] | None = None,
    hidden: Sequence[Path] = (),
    chdir: str = WORKDIR,
) -> Outcome:
    """Run ``argv`` in the sandbox, its working directory ``workdir`` (writable, seen inside as
    :data:`WORKDIR`), and return how it ended. ``ro_binds`` maps paths inside (relative: under
    the working directory) to host paths shown read-only. ``env`` is added to
    :func:`default_env` (the host's environment is not passed). ``hidden`` names host folders
    that must stay out of sight (``HARNESS_HOME``): a bind that would show one is a bug
    (ValueError), never run. ``chdir``: the directory the code starts in (a path inside;
    default the working directory). Raises :class:`SandboxUnavailable` without ``bwrap``."""
    bwrap = bwrap_path()
    if bwrap is None:
        raise SandboxUnavailable(
            "this host cannot run submitted code: bubblewrap (bwrap) is not installed "
            "(Debian: apt-get install bubblewrap); code is never run unsandboxed"
        )
    limits = limits or Limits()
    workdir = Path(workdir).absolute()
    if not workdir.is_dir():
        raise ValueError(f"sandbox working directory {workdir} is not a folder")
    if _as_root():  # the code runs as uid 65534: its working directory is its own
        os.chown(workdir, UID, UID)
    binds = dict(ro_binds or {})
    shown = [workdir, *(Path(p).absolute() for p in binds.values()), *python_binds()]
    for secret in (Path(h).absolute() for h in hidden):
        for path in shown:
            if path == secret or path.is_relative_to(secret) or secret.is_relative_to(path):
                raise ValueError(f"the sandbox would show {path}, which holds hidden {secret}")
    cmd = _command(
        argv,
        bwrap=bwrap,
        workdir=workdir,
        ro_binds=binds,
        limits=limits,
        env={**default_env(), **(env or {})},
        chdir=_inside(chdir),
    )
    with tempfile.TemporaryDirectory(prefix="harness-sandbox-") as logs:
        out_path, err_path = Path(logs) / "stdout", Path(logs) / "stderr"
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            start = time.monotonic()
            proc = subprocess.Popen(
                cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True
            )
            timed_out = False
            try:
                returncode: int | None = proc.wait(timeout=limits.wall_seconds)
            except subprocess.TimeoutExpired:
                timed_out = True
            except BaseException:  # Ctrl-C: the sandbox ends with its caller
                _kill(proc)
                raise
            if timed_out:
                _kill(proc)
                returncode = None
            seconds = time.monotonic() - start
        stdout, stderr = _tail(out_path), _tail(err_path)
    if returncode is not None and returncode > _SIGNALLED:
        returncode = -(returncode - _SIGNALLED)  # bwrap passes a signal on as 128 + N
    return Outcome(
        returncode=returncode,
        killed=_killed(timed_out, returncode, stderr),
        stdout=stdout,
        stderr=stderr,
        seconds=seconds,
    )


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the sandbox's process group (prlimit → bwrap): its first process inside dies
    with bwrap (--die-with-parent), and its PID namespace with that process."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _killed(timed_out: bool, returncode: int | None, stderr: str) -> str | None:
    if timed_out or returncode == -signal.SIGXCPU:
        return "time"
    if returncode == -signal.SIGXFSZ:
        return "file size"
    if returncode != 0 and any(mark in stderr[-4096:] for mark in _MEMORY_MARKS):
        return "memory"
    return None
