"""`harness create` on a 100,000-row table, and each round trip (export → import) per format.

Builds a seeded table (100,000 labelled rows: an id, 8 numeric and 2 text features, a 0/1
label) as a host's folder in two layouts (train alone; train + test.csv + solution.csv), then
times, each in a fresh `harness` process as a host runs it (start-up included):

- `harness create` with a metric by name (accuracy), for both layouts;
- `harness create` with a metric file in Kaggle's signature (run twice in the sandbox: on the
  answers and on the sample);
- `harness export --format F` then `harness import` of the exported bundle, for each format.

    .venv/bin/python bench/create.py [--rows 100000] [--runs 3]

Goal (issue 25): `harness create` on a 100,000-row table ≤ 10 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HARNESS = str(Path(sys.executable).with_name("harness"))
GOAL_S = 10.0

METRIC = """
import pandas as pd


class ParticipantVisibleError(Exception):
    pass


def score(solution: pd.DataFrame, submission: pd.DataFrame, row_id_column_name: str) -> float:
    return float((solution["label"].to_numpy() == submission["label"].to_numpy()).mean())
"""


def table(folder: Path, rows: int, *, split: bool) -> Path:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    x = rng.normal(size=(rows, 8)).round(6)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(8)])
    frame.insert(0, "id", np.arange(1, rows + 1))
    frame["city"] = rng.choice(["north", "south", "east", "west"], rows)
    frame["plan"] = rng.choice(["basic", "plus", "pro"], rows)
    frame["label"] = (x[:, 0] + 0.5 * x[:, 1] + rng.normal(size=rows) > 0).astype(int)
    folder.mkdir(parents=True)
    (folder / "description.md").write_text("# Bench\n\nA seeded table.\n")
    (folder / "metric.py").write_text(METRIC)
    if not split:
        frame.to_csv(folder / "train.csv", index=False)
        return folder
    cut = int(rows * 0.8)
    frame.iloc[:cut].to_csv(folder / "train.csv", index=False)
    frame.iloc[cut:].drop(columns=["label"]).to_csv(folder / "test.csv", index=False)
    frame.iloc[cut:][["id", "label"]].to_csv(folder / "solution.csv", index=False)
    return folder


def timed(args: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    done = subprocess.run([HARNESS, *args], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"harness {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="harness-bench-create-"))
    results: list[tuple[str, list[float], str]] = []
    try:
        alone = table(tmp / "alone", args.rows, split=False)
        split = table(tmp / "split", args.rows, split=True)
        env = {**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true", "OMP_NUM_THREADS": "1"}
        env.pop("MLFLOW_TRACKING_URI", None)
        cases = [
            ("create, train alone (test cut), accuracy", alone, ["--metric", "accuracy",
             "--target", "label"]),
            ("create, train + test + solution, accuracy", split, ["--metric", "accuracy"]),
            ("create, train + test + solution, metric file", split,
             ["--metric-file", str(split / "metric.py"), "--higher-is-better"]),
        ]  # fmt: skip
        for name, folder, extra in cases:
            times = []
            for run in range(args.runs):
                env["HARNESS_HOME"] = str(tmp / f"home-{len(results)}-{run}")
                times.append(timed(["create", "bench", "--from", str(folder), *extra], env))
            goal = "yes" if statistics.median(times) <= GOAL_S else "NO"
            results.append((name, times, f"≤ {GOAL_S:g} s: {goal}"))
        env["HARNESS_HOME"] = str(tmp / "home-0-0")  # the train-alone competition
        for fmt in ("kaggle", "hf", "codabench"):
            exports, imports = [], []
            for run in range(args.runs):
                out = tmp / f"{fmt}-{run}" / ("bundle.zip" if fmt == "codabench" else "bundle")
                out.parent.mkdir()
                exports.append(timed(["export", "bench", "--format", fmt, "--out", str(out)], env))
                imports.append(timed(["import", str(out), "--id", f"bench-{fmt}-{run}"], env))
            results.append((f"round trip {fmt}: export", exports, ""))
            results.append((f"round trip {fmt}: import", imports, ""))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"harness create and round trips, {args.rows:,} rows, {args.runs} runs each "
          f"(wall seconds of a fresh `harness` process; {os.cpu_count()} cores)")  # fmt: skip
    width = max(len(r[0]) for r in results)
    print(f"{'step':<{width}}  {'median':>7}  {'min':>6}  {'max':>6}  goal")
    for name, times, goal in results:
        print(
            f"{name:<{width}}  {statistics.median(times):7.2f}  {min(times):6.2f}  "
            f"{max(times):6.2f}  {goal}"
        )
    with open("/proc/loadavg") as f:
        print(f"load average while measured: {f.read().strip()}")


if __name__ == "__main__":
    main()
