"""The sandbox holds: each test runs code that tries one escape and fails if it gets out.

Without bubblewrap these tests skip, unless ``HARNESS_REQUIRE_BWRAP=1`` (CI) makes them fail.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from harness import sandbox
from harness.sandbox import Limits, Outcome, SandboxUnavailable

REQUIRED = os.environ.get("HARNESS_REQUIRE_BWRAP") == "1"
needs_bwrap = pytest.mark.skipif(
    not sandbox.available() and not REQUIRED, reason="bubblewrap (bwrap) is not installed"
)


def _run(tmp_path: Path, code: str, **kwargs: object) -> Outcome:
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    script = tmp_path / "code" / "script.py"
    script.parent.mkdir(exist_ok=True)
    script.write_text(code)
    binds = {"code": script.parent, **kwargs.pop("ro_binds", {})}  # type: ignore[dict-item]
    return sandbox.run(
        [sys.executable, "code/script.py"],
        workdir=work,
        ro_binds=binds,
        **kwargs,  # type: ignore[arg-type]
    )


def _processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if marker.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


@needs_bwrap
def test_a_script_reads_its_input_and_writes_its_working_directory(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "test.csv").write_text("id,x\n1,2\n")
    code = (
        "import os, pandas\n"
        "frame = pandas.read_csv('input/test.csv')\n"
        "frame.to_csv('submission.csv', index=False)\n"
        "print(os.getcwd(), os.getuid(), len(frame))\n"
    )
    outcome = _run(tmp_path, code, ro_binds={"input": data})
    assert outcome.ok, outcome.stderr
    assert outcome.stdout.split() == [sandbox.WORKDIR, str(sandbox.UID), "1"]
    assert (tmp_path / "work" / "submission.csv").read_text() == "id,x\n1,2\n"


@needs_bwrap
def test_the_answers_and_harness_home_are_out_of_sight(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "private" / "titanic").mkdir(parents=True)
    answers = home / "private" / "titanic" / "answers.csv"
    answers.write_text("PassengerId,Survived\n892,SECRET-ANSWER\n")
    code = (
        "import os\n"
        f"for path in [{str(answers)!r}, {str(home)!r}, {str(tmp_path)!r}]:\n"
        "    try:\n"
        "        print(path, 'SEEN', open(path).read() if os.path.isfile(path) "
        "else os.listdir(path))\n"
        "    except OSError as error:\n"
        "        print(path, 'hidden', type(error).__name__)\n"
        "print(sorted(os.listdir('/')))\n"
    )
    outcome = _run(tmp_path, code, hidden=[home])
    assert outcome.ok, outcome.stderr
    assert "SECRET-ANSWER" not in outcome.stdout
    assert "SEEN" not in outcome.stdout
    assert outcome.stdout.count("hidden FileNotFoundError") == 3


@needs_bwrap
def test_the_host_environment_is_not_passed_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARNESS_TEST_SECRET", "s3cret-token")
    outcome = _run(tmp_path, "import os; print(sorted(os.environ.items()))")
    assert outcome.ok, outcome.stderr
    assert "s3cret-token" not in outcome.stdout
    assert str(tmp_path) not in outcome.stdout


@needs_bwrap
def test_a_loopback_server_of_the_host_cannot_be_reached(tmp_path: Path) -> None:
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    accepted: list[object] = []

    done = threading.Event()

    def serve() -> None:
        server.settimeout(0.1)
        while not done.is_set():
            with contextlib.suppress(OSError):
                accepted.append(server.accept())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    code = (
        "import socket\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=3)\n"
        "    print('CONNECTED')\n"
        "except OSError as error:\n"
        "    print('refused', type(error).__name__)\n"
    )
    outcome = _run(tmp_path, code)
    done.set()
    thread.join()
    server.close()
    assert outcome.ok, outcome.stderr
    assert "CONNECTED" not in outcome.stdout
    assert accepted == []


@needs_bwrap
def test_an_endless_loop_ends_as_a_time_limit_and_takes_its_children_along(
    tmp_path: Path,
) -> None:
    marker = f"harness-sandbox-test-{uuid.uuid4().hex}"
    code = (
        "import subprocess, sys\n"
        "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)', "
        f"{marker!r}], start_new_session=True)\n"
        "while True:\n"
        "    pass\n"
    )
    start = time.monotonic()
    outcome = _run(tmp_path, code, limits=Limits(wall_seconds=2))
    assert time.monotonic() - start < 2 + 5
    assert outcome.error == "time limit"
    assert outcome.killed == "time"
    deadline = time.monotonic() + 5
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_with(marker) == []


@needs_bwrap
def test_a_30_gb_allocation_ends_as_memory(tmp_path: Path) -> None:
    start = time.monotonic()
    outcome = _run(
        tmp_path,
        "b = bytearray(30 * 2**30)\nprint('ALLOCATED')",
        limits=Limits(memory_bytes=2 << 30),
    )
    assert outcome.error == "memory", (outcome.stdout, outcome.stderr)
    assert "ALLOCATED" not in outcome.stdout
    assert time.monotonic() - start < 10


@needs_bwrap
def test_a_fork_storm_is_contained(tmp_path: Path) -> None:
    marker = f"harness-fork-{uuid.uuid4().hex}"
    code = (
        "import subprocess, sys\n"
        "children = []\n"
        "try:\n"
        "    for _ in range(300):\n"
        "        children.append(subprocess.Popen([sys.executable, '-c', "
        f"'import time; time.sleep(600)', {marker!r}]))\n"
        "except OSError as error:\n"
        "    print('stopped', type(error).__name__)\n"
        "print('started', len(children))\n"
    )
    outcome = _run(tmp_path, code, limits=Limits(processes=24, wall_seconds=60))
    assert outcome.ok, outcome.stderr
    started = int(outcome.stdout.split("started")[1].split()[0])
    assert "stopped" in outcome.stdout
    assert started < 24
    deadline = time.monotonic() + 5
    while _processes_with(marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_with(marker) == []  # the sandbox's children die with it


@needs_bwrap
def test_writes_outside_the_working_directory_fail(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "test.csv").write_text("id\n1\n")
    targets = [
        "/usr/harness-x",
        "/harness-x",
        "input/test.csv",
        "input/new.csv",
        sys.prefix + "/x",
    ]
    code = (
        "import os\n"
        f"for target in {targets!r}:\n"
        "    try:\n"
        "        with open(target, 'w') as f:\n"
        "            f.write('x')\n"
        "        print('WROTE', target)\n"
        "    except OSError as error:\n"
        "        print('refused', target, type(error).__name__)\n"
        "open('mine.txt', 'w').write('ok')\n"
    )
    outcome = _run(tmp_path, code, ro_binds={"input": data})
    assert outcome.ok, outcome.stderr
    assert "WROTE" not in outcome.stdout
    assert outcome.stdout.count("refused") == len(targets)
    assert (data / "test.csv").read_text() == "id\n1\n"
    assert not (data / "new.csv").exists()
    assert (tmp_path / "work" / "mine.txt").read_text() == "ok"


@needs_bwrap
def test_tmp_is_private(tmp_path: Path) -> None:
    name = f"harness-host-{uuid.uuid4().hex}"
    host_file = Path("/tmp") / name
    host_file.write_text("host")
    try:
        code = (
            "import os\n"
            "print(sorted(os.listdir('/tmp')))\n"
            f"open('/tmp/{name}-inside', 'w').write('x')\n"
        )
        outcome = _run(tmp_path, code)
        assert outcome.ok, outcome.stderr
        assert name not in outcome.stdout
        assert not Path(f"/tmp/{name}-inside").exists()
    finally:
        host_file.unlink()


@needs_bwrap
def test_a_bind_that_would_show_a_hidden_folder_is_refused(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / "public").mkdir(parents=True)
    with pytest.raises(ValueError, match="hidden"):
        sandbox.run(
            [sys.executable, "-c", "pass"],
            workdir=tmp_path,
            ro_binds={"input": home / "public"},
            hidden=[home],
        )


def test_a_host_without_bwrap_refuses_to_run_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv(sandbox.BWRAP_ENV, raising=False)
    ran = tmp_path / "ran"
    with pytest.raises(SandboxUnavailable, match="bubblewrap") as caught:
        sandbox.run(["/bin/sh", "-c", f"touch {ran}"], workdir=tmp_path)
    assert caught.value.status == 503
    assert not ran.exists()
