"""Shared helpers for the benchmark scripts: timing, environments, tables, profiles.

Not a benchmark itself. The scripts put ``bench/`` first on ``sys.path`` (Python does that for
``python bench/<name>.py``), import this module, and print their tables with :class:`Report`,
which can also write them as Markdown (``--md FILE``) for ``RESULTS.md``.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
BIN = Path(sys.executable).parent  # the venv's bin/, where the `harness` script lives
PYTHON = sys.executable
HARNESS = str(BIN / "harness")


@contextlib.contextmanager
def scratch(prefix: str, *, keep: bool, console: Any) -> Iterator[Path]:
    """A temporary folder for one benchmark, removed afterwards unless ``keep``."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield tmp
    finally:
        if keep:
            console.print(f"[dim]kept {tmp}[/dim]")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def bench_home(given: str | None, prefix: str, *, keep: bool, console: Any) -> Iterator[Path]:
    """A HARNESS_HOME for one benchmark: ``given`` as is, else a temporary one, removed
    afterwards unless ``keep``."""
    if given:
        yield Path(given).absolute()
        return
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield tmp / "home"
    finally:
        if keep:
            console.print(f"[dim]kept {tmp / 'home'}[/dim]")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def recording(console: Any) -> Any:
    """The progress bar of a setup that records many runs (``with recording(c) as bar:``)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    columns = (BarColumn(), MofNCompleteColumn(), TimeRemainingColumn())
    return Progress("recording", *columns, console=console, transient=True)


def titanic_store(home: Path) -> tuple[Any, Any, dict[str, str]]:
    """Titanic, the default sqlite store's settings in ``home``, and the env for subprocesses."""
    from harness.registry import get_competition
    from harness.settings import Settings

    home.mkdir(parents=True, exist_ok=True)
    settings = Settings.resolve(home, f"sqlite:///{home}/mlflow.db")
    return get_competition("titanic"), settings, child_env(home)


def strip_bench_from_path() -> None:
    """Drop ``bench/`` from ``sys.path``, so no script there can shadow a package."""
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != BENCH]


def child_env(home: Path | None = None, **extra: str) -> dict[str, str]:
    """The environment for subprocesses: telemetry off, our HARNESS_HOME, the default store."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MLFLOW_TRACKING_URI", "HARNESS_PARTICIPANT", "HARNESS_HOME")
    }
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    env["PYTHONDONTWRITEBYTECODE"] = env.get("PYTHONDONTWRITEBYTECODE", "")
    if home is not None:
        env["HARNESS_HOME"] = str(home)
    env.update(extra)
    return {k: v for k, v in env.items() if v != ""}


def run(cmd: Sequence[str], env: dict[str, str], *, cwd: Path | None = None) -> float:
    """Run ``cmd`` to completion; return its wall time in seconds. Raise if it fails."""
    start = time.perf_counter()
    done = subprocess.run(list(cmd), env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return elapsed


def output(cmd: Sequence[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``, capturing stdout and stderr; raise with both if it fails."""
    done = subprocess.run(list(cmd), env=env, text=True, capture_output=True)
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done


def repeat(fn: Callable[[], Any], n: int) -> list[float]:
    """Wall times of ``n`` calls of ``fn`` (a subprocess runner returns its own time)."""
    out = []
    for _ in range(n):
        start = time.perf_counter()
        value = fn()
        out.append(value if isinstance(value, float) else time.perf_counter() - start)
    return out


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    value = fn()
    return time.perf_counter() - start, value


def summary(samples: Sequence[float]) -> tuple[float, float, float]:
    return statistics.median(samples), min(samples), max(samples)


def fmt_s(seconds: float | None, digits: int = 3) -> str:
    return "-" if seconds is None else f"{seconds:.{digits}f}"


def machine() -> str:
    import mlflow
    import pandas

    return (
        f"{os.cpu_count()}-core CPU ({platform.machine()}), Python "
        f"{platform.python_version()}, mlflow {mlflow.__version__}, "
        f"pandas {pandas.__version__}"
    )


def revision() -> str:
    """The commit measured, and whether the library differs from it (bench/ aside).

    ``BENCH_REVISION`` overrides it, for runs on an exported tree (``git archive``), which has
    no ``.git``; the one-minute load average follows, since other work on the machine shows
    in the timings.
    """
    load = f"load average {os.getloadavg()[0]:.2f} at start"
    if os.environ.get("BENCH_REVISION"):
        return f"{os.environ['BENCH_REVISION']}; {load}"
    return f"{_git_revision()}; {load}"


def _git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            text=True,
            capture_output=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", ".", ":!bench"],
            cwd=ROOT,
            text=True,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "commit unknown"
    return f"commit {head}" + (" with uncommitted changes" if dirty.strip() else "")


class Report:
    """Tables printed with rich as they come, and kept for an optional Markdown copy."""

    def __init__(self, title: str) -> None:
        from rich.console import Console

        self.console = Console(highlight=False, width=None if sys.stdout.isatty() else 150)
        self.title = title
        self.parts: list[str] = [f"## {title}", ""]

    def note(self, text: str) -> None:
        self.console.print(text, markup=False)
        self.parts += [text, ""]

    def table(
        self,
        title: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        right: Sequence[bool] | None = None,
    ) -> None:
        from rich.table import Table
        from rich.text import Text

        right = right or [i > 0 for i in range(len(columns))]
        table = Table(title=Text(title), title_justify="left")
        for name, r in zip(columns, right, strict=True):
            table.add_column(name, justify="right" if r else "left")
        for row in rows:
            table.add_row(*(Text(str(c)) for c in row))
        self.console.print(table)
        self.parts += [
            f"**{title}**",
            "",
            "| " + " | ".join(columns) + " |",
            "|" + "|".join("---:" if r else "---" for r in right) + "|",
        ]
        self.parts += [
            "| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |" for row in rows
        ]
        self.parts.append("")

    def code(self, title: str, text: str) -> None:
        self.console.print(title, style="bold", markup=False)
        self.console.print(text, markup=False, highlight=False)
        self.parts += [f"**{title}**", "", "```", text.rstrip(), "```", ""]

    def save(self, path: str | None) -> None:
        if path:
            Path(path).write_text("\n".join(self.parts) + "\n", encoding="utf-8")
            self.console.print(f"[dim]Markdown written to {path}[/dim]")


# ---------------------------------------------------------------------------------------------
# Profiles
# ---------------------------------------------------------------------------------------------


def importtime_groups(stderr: str, top: int = 12) -> tuple[float, list[tuple[str, float, int]]]:
    """Parse ``-X importtime`` output: total import seconds, and self time by top-level package.

    Self times add up to the total without double counting, so grouping them by the first
    component of the module name says which distributions the imports pay for.
    """
    by_pkg: dict[str, float] = defaultdict(float)
    count: dict[str, int] = defaultdict(int)
    total = 0.0
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, self_us, _cum, name = _importtime_fields(line)
        pkg = name.strip().split(".")[0]
        by_pkg[pkg] += self_us / 1e6
        count[pkg] += 1
        total += self_us / 1e6
    ranked = sorted(by_pkg.items(), key=lambda kv: -kv[1])[:top]
    return total, [(pkg, secs, count[pkg]) for pkg, secs in ranked]


def _importtime_fields(line: str) -> tuple[str, float, float, str]:
    body = line.removeprefix("import time:")
    self_us, cum_us, name = body.split("|", 2)
    return "", float(self_us), float(cum_us), name


def importtime_top(stderr: str, top: int = 10) -> list[tuple[str, float, float]]:
    """The imports with the largest cumulative time among the ones the program asked for
    itself (top level, or one level down), as (module, cumulative s, self s)."""
    rows = []
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        _, self_us, cum_us, name = _importtime_fields(line)
        depth = (len(name) - len(name.lstrip(" "))) // 2
        if depth <= 1:
            rows.append((name.strip(), cum_us / 1e6, self_us / 1e6))
    return sorted(rows, key=lambda r: -r[1])[:top]


def profile_text(
    prof: cProfile.Profile | str | Path, sort: str, limit: int, *restrict: str
) -> str:
    """pstats' table for ``prof`` (a profile or a dump file), sorted by ``sort``; ``restrict``
    are pstats' regex filters on "file:line(function)", applied before ``limit``."""
    buf = io.StringIO()
    stats = pstats.Stats(str(prof) if isinstance(prof, str | Path) else prof, stream=buf)
    stats.sort_stats(sort).print_stats(*restrict, limit)
    text = buf.getvalue()
    # keep the header line of the table and the rows, not pstats' preamble
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls")), 0)
    total = next((ln.strip() for ln in lines if "function calls" in ln), "")
    return shorten_paths("\n".join([total, *lines[start:]]).rstrip())


def shorten_paths(text: str) -> str:
    """Paths relative to the repository, site-packages or the standard library."""
    import re
    import sysconfig

    text = text.replace(str(ROOT) + "/", "")
    text = re.sub(r"\S*/site-packages/", "", text)
    return text.replace(sysconfig.get_paths()["stdlib"] + "/", "")
