"""Tuning the tabular baselines: scores, wall time, and the per-trial overhead of Optuna's
storage and MLflow tracking.

    .venv/bin/python bench/tune.py [--trials 100] [--overhead 100,1000] [--models gbm]

1. For Titanic and House Prices, in a fresh HARNESS_HOME: `harness.tune(<comp>, trials=N)`
   with the default journal storage, each trial a nested MLflow run; prints the best CV score,
   the public and private scores of the submitted entry, trials finished/pruned, wall time.
2. Overhead: the same loop with a model that costs nothing to fit (a constant predictor), so
   each trial's time is Optuna (sampling, journal storage, per-fold reports) + MLflow (one
   nested run) + the CV loop itself; measured at 100 and 1,000 trials, next to the time of a
   real 5-fold HistGradientBoosting Titanic trial.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def null_baseline() -> Any:
    from harness.baselines import baselines
    from harness.baselines.tabular import is_classification

    def build(params: dict[str, Any], comp: Any, columns: Any, seed: int) -> Any:
        from sklearn.dummy import DummyClassifier, DummyRegressor

        return DummyClassifier() if is_classification(comp) else DummyRegressor()

    linear = baselines()[("tabular", "linear")]
    return dataclasses.replace(linear, name="null", build=build, summary="constant")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--overhead", default="100,1000")
    parser.add_argument("--models", default="gbm")
    parser.add_argument("--competitions", default="titanic,house-prices")
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    import harness
    from harness import baselines

    console = Console(width=160)
    table = Table(
        title=f"harness.tune: {args.trials} trials, 5-fold CV, seed 0, {os.cpu_count()} cores"
    )
    for col in (
        "competition",
        "model",
        "metric",
        "best CV",
        "± std",
        "public",
        "private",
        "complete",
        "pruned",
        "wall s",
        "s/trial",
    ):
        table.add_column(col, justify="left" if col in ("competition", "model") else "right")
    for comp in args.competitions.split(","):
        for model in args.models.split(","):
            home = tempfile.mkdtemp(prefix=f"bench-tune-{comp}-")
            harness.prepare(comp, home=home)
            start = time.perf_counter()
            result = harness.tune(comp, model=model, trials=args.trials, home=home)
            wall = time.perf_counter() - start
            states = [t.state.name for t in result.study.trials]
            entry = result.entry
            table.add_row(
                comp,
                model,
                harness.registry.get_competition(comp).metric.name,
                f"{result.cv_score:.5f}",
                f"{result.cv_std:.5f}",
                f"{entry.public_score:.5f}",
                f"{entry.private_score:.5f}",
                str(states.count("COMPLETE")),
                str(states.count("PRUNED")),
                f"{wall:.0f}",
                f"{wall / args.trials:.2f}",
            )
            console.print(f"{comp}/{model}: best params {result.params}")
    console.print(table)

    # ---- overhead ------------------------------------------------------------------------
    home = tempfile.mkdtemp(prefix="bench-tune-overhead-")
    harness.prepare("titanic", home=home)
    null = null_baseline()
    registry = baselines.baselines()
    patched = {**registry, ("tabular", "null"): null}
    baselines.baselines = lambda: patched  # type: ignore[assignment]
    gbm = harness.tune("titanic", model="gbm", trials=5, home=home, submit=False, study="gbm-ref")
    gbm_trial = statistics.median(t.duration.total_seconds() for t in gbm.study.trials)
    over = Table(title="Per-trial cost with a model that costs nothing to fit (Titanic, 5 folds)")
    for col in ("trials", "wall s", "ms per trial", "of a 5-fold HGB trial"):
        over.add_column(col, justify="right")
    for n in (int(x) for x in args.overhead.split(",")):
        start = time.perf_counter()
        harness.tune("titanic", model="null", trials=n, home=home, submit=False, study=f"null-{n}")
        wall = time.perf_counter() - start
        over.add_row(
            f"{n:,}", f"{wall:.1f}", f"{wall / n * 1000:.1f}", f"{wall / n / gbm_trial:.1%}"
        )
    console.print(over)
    console.print(
        f"A 5-fold HistGradientBoosting Titanic trial (defaults and 4 sampled): median "
        f"{gbm_trial:.2f} s."
    )


if __name__ == "__main__":
    main()
