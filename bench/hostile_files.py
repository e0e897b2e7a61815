"""Benchmark: hostile submissions against `harness validate titanic FILE` (a subprocess each).

- a header of 10^4, 10^5, 10^6 columns (PassengerId, Survived and junk columns; the sample's 179
  rows below it): wall time and exit code;
- peak RSS (``getrusage(RUSAGE_CHILDREN).ru_maxrss``, one fresh subprocess per file) on a 1 GB
  CSV of repeated valid rows, and on the normal 179-row file for comparison.

Goals (from the issue): a 10^5-column header in ≤ 1 s of validation; ≤ 500 MB peak for 1 GB.

Run from the repository root::

    .venv/bin/python bench/hostile_files.py
    .venv/bin/python bench/hostile_files.py --big-gb 0.3 --md /tmp/hostile.md
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time

from _common import HARNESS, Report, child_env, machine, output, revision, scratch

HEADER = b"PassengerId,Survived"


def _child_peak_mb(cmd: list[str], env: dict[str, str]) -> tuple[float, int, float, str]:
    """Run ``cmd`` in a fresh interpreter that reports its child's peak RSS."""
    probe = (
        "import resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "t = time.perf_counter() - t\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(peak, done.returncode, t)\n"
        "print((done.stderr or done.stdout).strip()[:200])\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe, *cmd], env=env, capture_output=True, text=True
    )
    first, _, message = done.stdout.partition("\n")
    peak_kb, rc, wall = first.split()
    return int(peak_kb) / 1024, int(rc), float(wall), message.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--big-gb", type=float, default=1.0, help="size of the big CSV in GB")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--md", help="also write the tables as Markdown to this file")
    args = parser.parse_args()

    report = Report("Hostile submission files")
    report.note(f"{machine()}; {revision()}")
    with scratch("harness-hostile-", keep=args.keep, console=report.console) as tmp:
        home = tmp / "home"
        env = child_env(home, OMP_NUM_THREADS="1")
        output([HARNESS, "prepare", "titanic"], env)
        sample = home / "public" / "titanic" / "sample_submission.csv"
        if not sample.exists():
            sample = next(home.rglob("sample_submission.csv"))
        body = sample.read_bytes().split(b"\n", 1)[1]

        rows = []
        for n in (10**4, 10**5, 10**6):
            path = tmp / f"wide_{n}.csv"
            junk = b",".join(b"c%d" % i for i in range(n))
            path.write_bytes(HEADER + b"," + junk + b"\n" + body)
            start = time.perf_counter()
            done = subprocess.run(
                [HARNESS, "validate", "titanic", str(path)], env=env, capture_output=True
            )
            wall = time.perf_counter() - start
            rows.append((f"header of {n:,} columns", f"{wall:.2f}", done.returncode, "-"))
            path.unlink()

        big = tmp / "big.csv"
        block = body * max(1, (8 << 20) // len(body))
        target = int(args.big_gb * 1e9)
        with open(big, "wb") as f:
            f.write(HEADER + b"\n")
            written = 0
            while written < target:
                part = block[: target - written]
                f.write(part)
                written += len(part)
        for label, path in (
            (f"{big.stat().st_size / 1e9:.1f} GB CSV", big),
            ("179-row CSV", sample),
        ):
            peak, rc, wall, message = _child_peak_mb(
                [HARNESS, "validate", "titanic", str(path)], env
            )
            rows.append((label, f"{wall:.2f}", rc, f"{peak:,.0f}"))
            report.note(f"{label}: {message}")
        big.unlink()

    report.table(
        "`harness validate titanic FILE` (one subprocess each)",
        ["file", "wall s", "exit", "peak RSS MB"],
        rows,
    )
    report.save(args.md)


if __name__ == "__main__":
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    main()
