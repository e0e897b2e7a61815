"""`harness tune titanic --trials 20` alone and beside a CPU-bound process, with the per-trial
thread cap (the default: free cores // jobs, measured before each trial) and without it
(``--threads <all cores>``, what every trial used before the cap: OpenMP's default).

    .venv/bin/python bench/tune_shared.py [--trials 20] [--timeout 240]

Each row: a fresh HARNESS_HOME with Titanic prepared, the CLI command as a user types it, the
wall time, trials finished in it, and the threads the trials used. "beside a CPU-bound
process": one busy Python loop (one core) runs for the whole command. A row whose command hits
``--timeout`` (Optuna's: no new trial starts after it) shows how many trials it finished.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time

from _common import HARNESS, child_env, machine, output, revision, scratch

HOG = "while True: pass"


def one(trials: int, timeout: float, threads: int | None, hog: bool) -> dict[str, object]:
    with scratch("bench-tune-shared-", keep=False, console=None) as tmp:
        env = child_env(tmp / "home")
        output([HARNESS, "prepare", "titanic"], env)
        command = [HARNESS, "tune", "titanic", "--trials", str(trials)]
        command += ["--timeout", str(timeout)]
        if threads is not None:
            command += ["--threads", str(threads)]
        busy = subprocess.Popen([sys.executable, "-c", HOG]) if hog else None
        try:
            start = time.perf_counter()
            done = output(command, env)
            wall = time.perf_counter() - start
        finally:
            if busy is not None:
                busy.kill()
                busy.wait()
    lines = [line for line in done.stderr.splitlines() if line.startswith("trial ")]
    used = sorted({int(m) for m in re.findall(r"(\d+) threads?", "\n".join(lines))})
    cv = re.search(r"CV ([0-9.]+)", done.stdout)
    return {
        "trials": len(lines),
        "wall": wall,
        "threads": ",".join(map(str, used)),
        "cv": cv.group(1) if cv else "-",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--timeout", type=float, default=240.0)
    args = parser.parse_args()

    from harness.baselines.cpu import cores
    from rich.console import Console
    from rich.table import Table

    console = Console(width=140)
    table = Table(
        title=f"harness tune titanic --trials {args.trials} --timeout {args.timeout:g} "
        f"(gbm, 5-fold CV)"
    )
    for column in ("threads per trial", "machine", "trials done", "wall s", "s / trial", "used"):
        table.add_column(column, justify="right" if column != "machine" else "left")
    table.add_column("best CV")
    for threads, label in ((None, "capped (default)"), (cores(), f"{cores()} (no cap)")):
        for hog in (False, True):
            row = one(args.trials, args.timeout, threads, hog)
            per = float(row["wall"]) / max(1, int(row["trials"]))  # type: ignore[arg-type]
            table.add_row(
                label,
                "beside 1 busy process" if hog else "alone",
                str(row["trials"]),
                f"{row['wall']:.1f}",
                f"{per:.2f}",
                str(row["threads"]),
                str(row["cv"]),
            )
            console.print(f"[dim]{label}, {'beside a busy process' if hog else 'alone'}: done")
    console.print(table)
    console.print(f"{machine()}; {revision()}")


if __name__ == "__main__":
    main()
