"""Benchmark: the goals of "one hall for the four front doors" (DESIGN.md, "The hall"), measured.

Static measures, read from the source of two revisions (``--base``, default the commit before
the hall, and the working tree), by parsing it (``ast``), never by importing it:

- leaderboard modules the front doors import (``harness``, ``harness.api``, ``harness.cli``,
  ``harness.client``, ``harness.server.*``; lazy imports inside functions count);
- rules held in the server: in ``harness/server/*.py``, the places that apply one of the six
  rules the issue names, each found by what it must touch to apply it: a direct MLflow read
  (``search_runs``, ``get_experiment_by_name``, ``.client``), counting what is left today
  (``count_since``), matching a submission id (``.str.startswith``), building the card from
  the records (``nunique``), the own-submissions filter (the "only your own" refusal), the
  Optuna journal's path (``"optuna"``); each counted once per function that holds it;
- error→status maps: functions outside ``harness/errors.py`` that name an error class and an
  HTTP 4xx literal (a status chosen by hand for a class), plus one for the classes' own
  ``status`` attributes where they exist;
- ``if server`` branches outside the one choice per door (the functions ``_board``/``board``
  in ``harness/cli.py`` and ``harness/api.py``);
- import circles among the project's modules (the layer test's graph, ``tests/test_layers``).

Timed, in fresh subprocesses on a temporary home (titanic prepared, 3 submissions):

- warm local ``harness leaderboard titanic`` / ``harness list``: median of ``--runs`` (5) each,
  interleaved, after one warm-up read and past the store's racy window;
- ``harness submit titanic FILE`` / the bare MLflow log floor of ``bench/submit.py`` (the same
  script, on a copy of the same database), median of ``--runs`` each, interleaved.

Run from the repository root::

    .venv/bin/python bench/hall.py                    # about a minute
    .venv/bin/python bench/hall.py --md /tmp/hall.md  # also write the table as Markdown
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import _common as c

BASE = "11f7354"  # the last commit before the hall
DOORS = ("harness/__init__.py", "harness/api.py", "harness/cli.py", "harness/client.py")
SERVER = "harness/server/"
RULES = {
    # (``request.client`` is Starlette's: the caller's address, not MLflow's client)
    "direct MLflow read": re.compile(
        r"search_runs\(|get_experiment_by_name\(|(?<!request)\.client\b"
    ),
    "left today": re.compile(r"count_since\("),
    "id matching": re.compile(r"\.str\.startswith\("),
    "competition card": re.compile(r"\.nunique\("),
    "own-submissions filter": re.compile(r"only your own"),
    "journal path": re.compile(r"[\"']optuna[\"']"),
}
ERRORS = re.compile(
    r"\b(HarnessError|UnknownCompetition|NotPrepared|InvalidName|InvalidSubmission|RuleBroken|"
    r"LimitReached|StoreError|Denied|PageError|UploadTooLarge)\b"
)


def files(rev: str | None) -> dict[str, str]:
    """Every project Python file's text at ``rev`` (None: the working tree)."""
    roots = ("harness", "leaderboard", "baselines", "competitions")
    if rev is None:
        return {
            str(p.relative_to(c.ROOT)): p.read_text(encoding="utf-8")
            for root in roots
            for p in sorted((c.ROOT / root).rglob("*.py"))
        }
    names = subprocess.run(
        ["git", "ls-tree", "-r", "--name-only", rev, "--", *roots],
        cwd=c.ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return {
        n: subprocess.run(
            ["git", "show", f"{rev}:{n}"], cwd=c.ROOT, capture_output=True, text=True, check=True
        ).stdout
        for n in names
        if n.endswith(".py")
    }


def module_of(path: str) -> str:
    parts = Path(path).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


INSIDE = {"harness.board": "leaderboard", "harness.baselines": "baselines"}
INSIDE["harness.competitions"] = "competitions"


def _folder(name: str) -> str:
    """A module's name by its folder: ``harness.board.rules`` is ``leaderboard.rules``."""
    for installed, folder in INSIDE.items():
        if name == installed or name.startswith(installed + "."):
            return folder + name[len(installed) :]
    return name


def imported(text: str) -> set[str]:
    """The modules a file's import statements name (anywhere in it), by their folders."""
    return {_folder(m) for m in _imported(text)}


def _imported(text: str) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
            out.update(f"{node.module}.{a.name}" for a in node.names)
    return out


def innermost(text: str) -> list[str]:
    """Each function's own source, without the functions nested in it (each is its own
    entry): a statement counts in one place only."""
    out = []
    for node in ast.walk(ast.parse(text)):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        own = ast.get_source_segment(text, node) or ""
        for inner in ast.walk(node):
            if inner is not node and isinstance(inner, ast.FunctionDef | ast.AsyncFunctionDef):
                own = own.replace(ast.get_source_segment(text, inner) or "\0", "")
        out.append(own)
    return out


def _is_status(node: ast.AST) -> bool:
    return any(
        isinstance(n, ast.Constant) and isinstance(n.value, int) and 400 <= n.value < 500
        for n in ast.walk(node)
    )


def _own(fn: ast.AST) -> list[ast.AST]:
    """The nodes of a function, but not those of the functions nested in it."""
    out, todo = [], list(ast.iter_child_nodes(fn))
    while todo:
        node = todo.pop()
        out.append(node)
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            todo.extend(ast.iter_child_nodes(node))
    return out


def maps_in(text: str) -> int:
    """Functions that map an error class to an HTTP status by hand: an ``except Error`` whose
    handler names a 4xx status, an ``isinstance(exc, Error)`` test choosing one, or an
    ``(Error, 4xx)`` pair in a table."""
    count = 0
    for fn in ast.walk(ast.parse(text)):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in _own(fn):
            names, body = "", list[ast.AST]()
            if isinstance(node, ast.ExceptHandler) and node.type is not None:
                names, body = ast.unparse(node.type), list(node.body)
            elif isinstance(node, ast.If) and "isinstance(" in ast.unparse(node.test):
                names, body = ast.unparse(node.test), list(node.body)
            elif isinstance(node, ast.Tuple) and len(node.elts) == 2:
                names, body = ast.unparse(node.elts[0]), [node.elts[1]]
            if ERRORS.search(names) and any(_is_status(b) for b in body):
                count += 1
                break
    return count


def static(rev: str | None) -> dict[str, str]:
    src = files(rev)
    modules = {module_of(p) for p in src}
    doors = [p for p in src if p in DOORS or p.startswith(SERVER)]
    reached = sorted(
        {
            m
            for p in doors
            for m in imported(src[p])
            if m.startswith("leaderboard") and m in modules
        }
    )
    short = [m.removeprefix("leaderboard.") for m in reached]
    rules: dict[str, int] = {}
    for p in doors:
        if not p.startswith(SERVER):
            continue
        for fn in innermost(src[p]):
            for name, pattern in RULES.items():
                if pattern.search(fn):
                    rules[name] = rules.get(name, 0) + 1
    maps = sum(
        maps_in(src[p]) for p in src if p.startswith("harness/") and p != "harness/errors.py"
    )
    maps += int(bool(re.search(r"^\s+status = 4\d\d", src.get("harness/errors.py", ""), re.M)))
    branches = 0
    for p in ("harness/cli.py", "harness/api.py"):
        for fn in innermost(src.get(p, "")):
            name = fn.split("(", 1)[0].removeprefix("def ").strip()
            if name in ("_board", "board"):
                continue
            branches += len(re.findall(r"^\s*if (?:not )?server\b", fn, re.M))
    return {
        "modules": f"{len(reached)} ({', '.join(short)})",
        "rules": f"{sum(rules.values())}"
        + (f" ({', '.join(f'{k} ×{v}' for k, v in rules.items())})" if rules else ""),
        "maps": str(maps),
        "branches": str(branches),
    }


def circles() -> int:
    """Import circles in the layer test's graph (``tests/test_layers.py``)."""
    import sys

    c.strip_bench_from_path()
    sys.path.insert(0, str(c.ROOT))
    from tests.test_layers import test_no_import_loops

    try:
        test_no_import_loops()
    except AssertionError as exc:
        return str(exc).count(";") + 1
    return 0


def timed(tmp: Path, runs: int) -> dict[str, tuple[float, float, float]]:
    import sys

    import numpy as np
    import pandas as pd

    sys.path.insert(0, str(c.BENCH))
    from submit import FLOOR

    home = tmp / "home"
    env = c.child_env(home)
    c.run([c.HARNESS, "prepare", "titanic"], env)
    sample = pd.read_csv(home / "public" / "titanic" / "sample_submission.csv")
    preds = []
    for seed in range(3):
        sample["Survived"] = np.random.default_rng(seed).integers(0, 2, len(sample))
        preds.append(tmp / f"preds{seed}.csv")
        sample.to_csv(preds[-1], index=False)
        c.run([c.HARNESS, "submit", "titanic", str(preds[-1]), "--as", f"p{seed}"], env)

    # the floor: a copy of the same database (the same runs)
    floor_dir = tmp / "floor"
    floor_dir.mkdir()
    shutil.copyfile(home / "mlflow.db", floor_dir / "mlflow.db")
    (floor_dir / "floor.py").write_text(FLOOR, encoding="utf-8")
    floor = [c.PYTHON, str(floor_dir / "floor.py"), f"sqlite:///{floor_dir}/mlflow.db"]
    floor.append("harness/titanic")

    # reads: past the racy window, after one warm-up read (which notes the store's state)
    time.sleep(2.5)
    board = [c.HARNESS, "leaderboard", "titanic"]
    listing = [c.HARNESS, "list"]
    c.run(board, env)
    c.run(listing, env)
    times: dict[str, list[float]] = {"board": [], "list": []}
    for _ in range(runs):
        times["board"].append(c.run(board, env))
        times["list"].append(c.run(listing, env))

    submit = [c.HARNESS, "submit", "titanic", str(preds[0]), "-m", "bench", "--as", "bench"]
    c.run(submit, env)
    c.run(floor, env)
    times.update(submit=[], floor=[])
    for _ in range(runs):
        times["submit"].append(c.run(submit, env))
        times["floor"].append(c.run(floor, env))
    return {k: c.summary(v) for k, v in times.items()}


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return "unknown CPU"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--base", default=BASE, help="the revision to compare with")
    parser.add_argument("--md", help="also write the table as Markdown to this file")
    parser.add_argument("--keep", action="store_true", help="keep the temporary home")
    args = parser.parse_args()

    report = c.Report("The hall: the issue's goals, measured")
    before, after = static(args.base), static(None)
    load_before = load_average()
    with c.scratch("bench-hall-", keep=args.keep, console=report.console) as tmp:
        t = timed(tmp, args.runs)
    ratio = t["board"][0] / t["list"][0]
    floor_ratio = t["submit"][0] / t["floor"][0]
    report.note(
        f"Machine: {cpu_model()}, {os.cpu_count()} cores; load average {load_before} "
        f"(before) / {load_average()} (after); {c.revision()}; base {args.base}."
    )
    rows = [
        [
            "leaderboard modules imported by the front doors",
            before["modules"],
            after["modules"],
            "≤ 2",
        ],
        ["rules held in the server", before["rules"], after["rules"], "0"],
        ["error→status maps", before["maps"], after["maps"], "1"],
        [
            "`if server` branches outside the one choice per door",
            before["branches"],
            after["branches"],
            "0",
        ],
        [
            f"warm local `harness leaderboard` / `harness list` (median of {args.runs})",
            "4.9x (issue)",
            f"{ratio:.2f}x ({t['board'][0]:.3f} s / {t['list'][0]:.3f} s)",
            "≤ 1.5x",
        ],
        [
            f"`harness submit` / bare MLflow log floor (median of {args.runs})",
            "1.06x (issue)",
            f"{floor_ratio:.2f}x ({t['submit'][0]:.3f} s / {t['floor'][0]:.3f} s)",
            "≤ 1.06x",
        ],
        ["import circles", "0", str(circles()), "0"],
    ]
    report.table("Goals", ["measure", f"before ({args.base})", "now", "goal"], rows)
    report.save(args.md)


if __name__ == "__main__":
    main()
