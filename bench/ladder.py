"""The ladder on this machine: ``harness baseline <competition>`` as a new user types it, for
each competition of the learner's climb, with its wall time (start-up included), peak resident
memory (the child's rusage, as ``/usr/bin/time -v`` reports it) and the public score it got.

    .venv/bin/python bench/ladder.py --home DIR [--only dogs-vs-cats,sentiment]
        [--extra "cifar10:--minutes 10"] [--md FILE]

``--home`` is a HARNESS_HOME where the competitions are prepared (see the README's "Using it"
lines; a competition that is not prepared there is listed as such, not run). ``--extra
"<competition>:<flags>"`` adds a row with those flags. The CPU model and the load average
before and after each run are printed beside the table: timings on a busy machine are
conservative.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import time
from pathlib import Path

from _common import HARNESS, Report, child_env, revision

LADDER = ("titanic", "house-prices", "digit-recognizer", "cifar10", "dogs-vs-cats", "sentiment")
SCORE = re.compile(r"submitted as (\S+): public score ([-\d.eE]+)")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return "unknown CPU"


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def prepared(home: Path, competition: str) -> bool:
    return (home / "public" / competition).is_dir()


def run_one(home: Path, competition: str, flags: list[str]) -> dict[str, str]:
    """One ``harness baseline`` in a child process: wall time, peak RSS, public score."""
    cmd = [HARNESS, "baseline", competition, *flags]
    shown = " ".join(["harness", "baseline", competition, *map(shlex.quote, flags)])
    before = load()
    started = time.perf_counter()
    child = subprocess.Popen(
        cmd,
        env=child_env(home, HARNESS_PARTICIPANT="ladder"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    assert child.stdout is not None
    out = child.stdout.read()
    _, status, usage = os.wait4(child.pid, 0)  # this child's own peak, not the bench's
    child.returncode = os.waitstatus_to_exitcode(status)
    child.stdout.close()
    wall = time.perf_counter() - started
    peak_kb = usage.ru_maxrss
    found = SCORE.search(out)
    default = found.group(1).removeprefix("baseline/") if found else "-"
    score = found.group(2) if found else f"failed (exit {child.returncode}): {out[-300:]!r}"
    return {
        "competition": competition,
        "default here": default,
        "public score": score,
        "wall": f"{wall:.0f} s",
        "peak RSS": f"{peak_kb / 1024**2:.2f} GB",
        "load before/after": f"{before} / {load()}",
        "command": shown,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, help="HARNESS_HOME with the data prepared")
    parser.add_argument("--only", help="comma-separated competitions (default: the ladder)")
    parser.add_argument("--extra", action="append", default=[], help='"<competition>:<flags>"')
    parser.add_argument("--md", help="also write the table as Markdown")
    args = parser.parse_args()
    home = Path(args.home).resolve()
    chosen = [c for c in args.only.split(",") if c] if args.only is not None else list(LADDER)
    runs: list[tuple[str, list[str]]] = [(c, []) for c in chosen]
    for extra in args.extra:
        competition, _, flags = extra.partition(":")
        runs.append((competition, shlex.split(flags)))

    report = Report("The ladder on this CPU: `harness baseline <competition>`")
    report.note(f"{cpu_model()}, {os.cpu_count()} cores; {revision()}")
    rows = []
    for competition, flags in runs:
        if not prepared(home, competition):
            rows.append([competition, "-", f"not prepared in {home}", "", "", load(), ""])
            continue
        found = run_one(home, competition, flags)
        rows.append(list(found.values()))
        report.console.print(f"{competition}: {found}", markup=False)
    report.table(
        "harness baseline <competition> (wall time with start-up; peak RSS of the process)",
        ["competition", "default here", "public score", "wall", "peak RSS", "load", "command"],
        rows,
        right=[False, False, True, True, True, False, False],
    )
    report.save(args.md)


if __name__ == "__main__":
    main()
