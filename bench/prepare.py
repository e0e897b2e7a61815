"""Prepare the three media competitions from the publishers' archives, and load CIFAR-10.

Rebuilds the archives from ../shared/data with its make_raw.py (unless --raw names a folder
that has them), then for each competition runs `harness prepare <id> --raw <archive>` in a
fresh subprocess, timed from the parent, with its peak memory (max RSS of the process tree,
from /usr/bin/time). Then times `harness.load("cifar10")` plus reading every train pixel, and
the one-off 128 px Dogs vs Cats tensor cache, each in a fresh process.

    .venv/bin/python bench/prepare.py [--raw /tmp/raw] [--runs 3]

Goals (issue 3): each prepare ≤ 30 s and ≤ 2 GB on the 2-core machine; loading the CIFAR-10
train tensors ≤ 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
HARNESS = str(Path(PYTHON).with_name("harness"))
SHARED = ROOT.parent / "shared" / "data"
ARCHIVES = {
    "cifar10": "cifar-10-python.tar.gz",
    "dogs-vs-cats": "dogs-vs-cats.zip",
    "sentiment": "aclImdb_v1.tar.gz",
}
LOAD_CIFAR = """
import time, numpy as np
t = time.perf_counter()
import harness
data = harness.load("cifar10")
x = np.ascontiguousarray(data.x_train); y = np.asarray(data.y_train)
print(time.perf_counter() - t, x.shape, int(x.sum() % 1000), y.shape)
"""
DOGS_CACHE = """
import time
t = time.perf_counter()
import harness
data = harness.load("dogs-vs-cats", size=128)
print(time.perf_counter() - t, data.x_train.shape, data.x_test.shape)
"""


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (KB) and stdout of ``cmd``."""
    start = time.perf_counter()
    done = subprocess.run(
        ["/usr/bin/time", "-f", "%M", *cmd], env=env, capture_output=True, text=True
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{cmd} failed:\n{done.stdout}\n{done.stderr}")
    return wall, int(done.stderr.strip().splitlines()[-1]), done.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--raw", type=Path, help="folder with the publishers' archives")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    console = Console()
    raw = args.raw or Path(tempfile.mkdtemp(prefix="bench-raw-"))
    if not all((raw / name).is_file() for name in ARCHIVES.values()):
        console.print(f"building the publishers' archives in {raw} …")
        subprocess.run([PYTHON, str(SHARED / "make_raw.py"), str(raw), *ARCHIVES], check=True)
    env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"}

    table = Table(
        title=f"harness prepare <id> --raw <archive>: median of {args.runs} "
        f"({os.cpu_count()} cores)"
    )
    for col in ("competition", "archive MB", "wall s (median)", "min", "max", "peak RSS MB"):
        table.add_column(col, justify="left" if col == "competition" else "right")
    homes = {}
    for comp, archive in ARCHIVES.items():
        walls, rss = [], []
        for _ in range(args.runs):
            home = Path(tempfile.mkdtemp(prefix=f"bench-{comp}-"))
            wall, peak, _ = timed(
                [HARNESS, "prepare", comp, "--raw", str(raw / archive), "--home", str(home)], env
            )
            walls.append(wall)
            rss.append(peak)
            homes[comp] = home
        mb = (raw / archive).stat().st_size / 1e6
        table.add_row(
            comp,
            f"{mb:.0f}",
            f"{statistics.median(walls):.1f}",
            f"{min(walls):.1f}",
            f"{max(walls):.1f}",
            f"{max(rss) / 1024:.0f}",
        )
    console.print(table)

    loads = []
    for _ in range(max(args.runs, 5)):
        env_home = {**env, "HARNESS_HOME": str(homes["cifar10"])}
        _, _, out = timed([PYTHON, "-c", LOAD_CIFAR], env_home)
        loads.append(float(out.split()[0]))
    console.print(
        f"harness.load('cifar10') + reading all 50,000 train images into memory: "
        f"median {statistics.median(loads):.3f} s (min {min(loads):.3f}, "
        f"max {max(loads):.3f}) over {len(loads)} fresh processes, imports included"
    )
    wall, peak, out = timed(
        [PYTHON, "-c", DOGS_CACHE], {**env, "HARNESS_HOME": str(homes["dogs-vs-cats"])}
    )
    console.print(
        f"dogs-vs-cats 128 px tensor cache, made once: {float(out.split()[0]):.1f} s, "
        f"peak RSS {peak / 1024:.0f} MB"
    )


if __name__ == "__main__":
    main()
