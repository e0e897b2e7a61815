"""Every tabular baseline with its defaults (no search) on the two embedded competitions:
5-fold CV on the public train, then the local test's public and private scores of the entry it
submits, and the wall time of ``harness.baseline`` (fit of 5 folds + refit + submit).

    .venv/bin/python bench/tabular_defaults.py [--models linear,forest,gbm,lgbm]

These are the figures each baseline file's ``measured:`` line quotes.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from _common import machine, revision

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="linear,forest,gbm,lgbm")
    parser.add_argument("--competitions", default="titanic,house-prices")
    args = parser.parse_args()

    from rich.console import Console
    from rich.table import Table

    import harness
    from harness.registry import get_competition

    console = Console(width=140)
    table = Table(title="harness.baseline(<competition>, model=<m>): defaults, 5-fold CV, seed 0")
    for column in ("competition", "model", "metric", "CV", "± std", "public", "private", "wall s"):
        table.add_column(column, justify="left" if column in ("competition", "model") else "right")
    for comp in args.competitions.split(","):
        home = tempfile.mkdtemp(prefix=f"bench-baselines-{comp}-")
        harness.prepare(comp, home=home)
        for model in args.models.split(","):
            start = time.perf_counter()
            result = harness.baseline(comp, model=model, home=home)
            wall = time.perf_counter() - start
            table.add_row(
                comp,
                model,
                get_competition(comp).metric.name,
                f"{result.cv_score:.5f}",
                f"{result.cv_std:.5f}",
                f"{result.entry.public_score:.5f}",
                f"{result.entry.private_score:.5f}",
                f"{wall:.1f}",
            )
    console.print(table)
    console.print(f"{machine()}; {revision()}")


if __name__ == "__main__":
    main()
