"""The same measurements on two trees in one run, interleaved: an earlier commit (``--before``,
exported with ``git archive``) and this working tree. For a refactor that must not slow
anything down (issue 11): `harness submit`, and the tuner's own cost per trial.

    .venv/bin/python bench/before_after.py [--before 04a1d62] [--runs 10] [--trials 100]

Each tree runs with ``PYTHONPATH`` set to it (ahead of the venv's editable install), in a
HARNESS_HOME of its own with Titanic prepared:

1. ``harness submit titanic preds.csv`` (random 0/1 labels), ``--runs`` times per tree,
   alternating before/after, after one warm-up submit each (the sqlite store migrated);
2. the tuner's overhead per trial: ``harness.tune`` with a model that costs nothing to fit
   (a constant predictor registered as ``null``: Optuna's sampling and journal storage, five
   per-fold reports, one nested MLflow run per trial), ``--trials`` trials, in a fresh process
   per tree, twice each, alternating;
3. ``harness tune titanic --trials 20 --threads 2`` (gbm, 5-fold CV), twice per tree,
   alternating.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import HARNESS, ROOT, child_env, machine, output

OVERHEAD = """
import dataclasses, sys, time
import harness
from harness import baselines
from harness.baselines.tabular import is_classification

def build(params, comp, columns, seed):
    from sklearn.dummy import DummyClassifier, DummyRegressor
    return DummyClassifier() if is_classification(comp) else DummyRegressor()

registry = baselines.baselines()
linear = registry[("tabular", "linear")]
null = dataclasses.replace(linear, name="null", build=build, summary="constant")
patched = {**registry, ("tabular", "null"): null}
baselines.baselines = lambda: patched
n = int(sys.argv[1])
start = time.perf_counter()
harness.tune("titanic", model="null", trials=n, submit=False, study=f"null-{time.time_ns()}")
print(time.perf_counter() - start)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="04a1d62")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--trials", type=int, default=100)
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    console = Console(width=140)
    tmp = Path(tempfile.mkdtemp(prefix="bench-before-after-"))
    before = tmp / "before"
    before.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", args.before], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(before)], input=archive, check=True)
    trees = {"before": before, "after": ROOT}
    envs = {}
    for name, tree in trees.items():
        env = child_env(tmp / f"home-{name}", PYTHONPATH=str(tree), OMP_NUM_THREADS="1")
        output([HARNESS, "prepare", "titanic"], env)
        envs[name] = env
    ids = (tmp / "home-after/public/titanic/sample_submission.csv").read_text().split()[1:]
    rng = __import__("random").Random(0)
    preds = tmp / "preds.csv"
    preds.write_text(
        "PassengerId,Survived\n" + "".join(f"{r.split(',')[0]},{rng.randint(0, 1)}\n" for r in ids)
    )
    submit = [HARNESS, "submit", "titanic", str(preds), "-m", "bench", "--as", "bench"]

    def timed(cmd: list[str], env: dict[str, str]) -> float:
        start = time.perf_counter()
        output(cmd, env)
        return time.perf_counter() - start

    times: dict[str, dict[str, list[float]]] = {n: {} for n in trees}
    for name in trees:
        timed(submit, envs[name])  # warm-up: the store exists and is migrated
    for _ in range(args.runs):
        for name in trees:
            times[name].setdefault("submit", []).append(timed(submit, envs[name]))
    for _ in range(2):
        for name in trees:
            done = output([sys.executable, "-c", OVERHEAD, str(args.trials)], envs[name])
            per_trial = float(done.stdout.strip().splitlines()[-1]) / args.trials
            times[name].setdefault("overhead", []).append(per_trial * 1000)
    tune = [HARNESS, "tune", "titanic", "--trials", "20", "--threads", "2", "--study"]
    for round in range(2):
        for name in trees:  # a new study each time: a resumed one would not start over
            times[name].setdefault("tune", []).append(timed([*tune, f"b{round}"], envs[name]))

    table = Table(title=f"before = {args.before}, after = this working tree; median (min–max)")
    for column in ("measure", "before", "after", "after / before"):
        table.add_column(column, justify="left" if column == "measure" else "right")
    labels = {
        "submit": f"harness submit titanic, s ({args.runs} runs)",
        "overhead": f"tuner overhead per trial, ms ({args.trials} null trials, 2 runs)",
        "tune": "harness tune titanic --trials 20 --threads 2, s (2 runs)",
    }
    for key, label in labels.items():
        b, a = times["before"][key], times["after"][key]
        table.add_row(
            label,
            f"{statistics.median(b):.3f} ({min(b):.3f}–{max(b):.3f})",
            f"{statistics.median(a):.3f} ({min(a):.3f}–{max(a):.3f})",
            f"{statistics.median(a) / statistics.median(b):.3f}x",
        )
    console.print(table)
    console.print(machine())


if __name__ == "__main__":
    main()
