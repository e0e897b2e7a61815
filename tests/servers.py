"""Real servers on loopback for the hosted-mode tests: PostgreSQL (Debian's package: `.ci/run`
installs it), `mlflow server` on a PostgreSQL backend store, and `harness serve`; and the
Chromium the browser tests drive. Each is a
real subprocess, started on a free port and stopped afterwards.

Without PostgreSQL on the machine the tests that need it skip, unless
``HARNESS_REQUIRE_POSTGRES=1`` (CI sets it), when they fail instead.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
#: Debian's Chromium (`.ci/run` installs it), as the browser tests and bench/pages.py drive it
#: through Playwright's ``executable_path``: never a browser download.
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args} exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _pg_bindir() -> Path | None:
    found = shutil.which("pg_config")
    if found:
        out = subprocess.run([found, "--bindir"], capture_output=True, text=True)
        folder = Path(out.stdout.strip())
        if (folder / "initdb").exists():
            return folder
    for folder in sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True):
        if Path(folder, "initdb").exists():
            return Path(folder)
    return None


class Postgres:
    """A PostgreSQL server on 127.0.0.1 in a temporary folder; ``url(db)`` makes a database."""

    def __init__(self) -> None:
        self.bindir = _pg_bindir()
        if self.bindir is None:
            message = "PostgreSQL is not installed (.ci/run installs Debian's postgresql)"
            if os.environ.get("HARNESS_REQUIRE_POSTGRES") == "1":
                pytest.fail(message)
            pytest.skip(message)
        self.root = Path(tempfile.mkdtemp(prefix="harness-pg-"))
        self.root.chmod(0o755)
        self.port = free_port()
        self.user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: use its own account
            shutil.chown(self.root, "postgres", "postgres")
            self.user = ["runuser", "-u", "postgres", "--"]
        data = self.root / "data"
        self._run("initdb", "-D", str(data), "-U", "harness", "--auth=trust", "-E", "UTF8")
        self.proc = subprocess.Popen(
            [
                *self.user,
                str(self.bindir / "postgres"),
                "-D",
                str(data),
                "-p",
                str(self.port),
                "-k",
                str(self.root),
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "max_connections=200",
                "-c",
                "fsync=off",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.root / "log", "wb"),  # noqa: SIM115
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                self._connect("postgres").close()
                break
            except Exception:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError((self.root / "log").read_text()[-2000:]) from None
                time.sleep(0.3)

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run(
            [*self.user, str(self.bindir / tool), *args], check=True, capture_output=True
        )

    def _connect(self, db: str):  # type: ignore[no-untyped-def]
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user="harness", dbname=db)

    def url(self, db: str) -> str:
        """A new, empty database ``db`` and its SQLAlchemy URL."""
        conn = self._connect("postgres")
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{db}"')
            cur.execute(f'CREATE DATABASE "{db}"')
        conn.close()
        return f"postgresql://harness@127.0.0.1:{self.port}/{db}"

    def close(self) -> None:
        stop(self.proc)
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def mlflow_server(backend: str, artifacts: Path) -> Iterator[str]:
    """`mlflow server` on a backend store (PostgreSQL here), artifacts proxied; its URL."""
    port = free_port()
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}
    cmd = [
        str(BIN / "mlflow"),
        "server",
        "--backend-store-uri",
        backend,
        "--artifacts-destination",
        str(artifacts),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "2",
    ]
    with _serving(cmd, env, port, "/health", timeout=180) as url:
        yield url


@contextlib.contextmanager
def harness_serve(env: dict[str, str], *extra: str, workers: int = 1) -> Iterator[str]:
    """`harness serve` with ``env`` (HARNESS_HOME, MLFLOW_TRACKING_URI, …); its URL."""
    port = free_port()
    cmd = [str(BIN / "harness"), "serve", "--port", str(port), "--workers", str(workers), *extra]
    with _serving(cmd, env, port, "/api/health", timeout=120) as url:
        yield url


@contextlib.contextmanager
def _serving(
    cmd: list[str], env: dict[str, str], port: int, health: str, *, timeout: float
) -> Iterator[str]:
    """Run a server until the block ends; its stderr goes to a file (a pipe nobody reads would
    block it once full), whose tail a failed start reports."""
    with tempfile.TemporaryFile() as log:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            try:
                wait_http(url + health, proc, timeout=timeout)
            except RuntimeError as exc:
                log.seek(0)
                tail = log.read()[-2000:].decode(errors="replace")
                raise RuntimeError(f"{exc}\n{tail}") from None
            yield url
        finally:
            stop(proc)
