"""Handwritten digits (issue 17): every pixel baseline's defaults on ``digits`` (embedded), and
the CPU CNN on ``digit-recognizer`` prepared from MNIST's IDX files when a copy is given.

    .venv/bin/python bench/digits.py [--models cnn,logistic,svc,hgb] [--seeds 0,1,2]
        [--mnist DIR_WITH_THE_FOUR_IDX_FILES] [--mnist-models cnn] [--mnist-epochs 3]
        [--threads N] [--md FILE]

Each row is ``harness.baseline(<competition>, model=<m>)``, the call behind ``harness baseline
<competition> --model <m>``: CV on public train (k folds, or the CNN's held-out tenth), then the
entry it submits, scored on the local test's public and private halves; "local test" is both
halves together (the accuracy over all test rows). Wall time is the whole call: loading, CV,
the refit or the held-out run, predicting and submitting (MLflow included).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import Report, machine, revision

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


def _row(comp: str, model: str, seed: int, home: str, threads: int, **extra: Any) -> list[Any]:
    import pandas as pd

    import harness

    overrides = {"epochs": extra.pop("epochs")} if "epochs" in extra else None
    options = {"device": "cpu"} if model == "cnn" else {}
    start = time.perf_counter()
    result = harness.baseline(
        comp, model=model, seed=seed, home=home, threads=threads, overrides=overrides, **options
    )
    wall = time.perf_counter() - start
    entry = result.entry
    usage = pd.read_csv(Path(home) / "private" / comp / "answers.csv")["Usage"]
    public = float((usage == "Public").mean())
    local = entry.public_score * public + entry.private_score * (1 - public)
    command = f"harness baseline {comp} --model {model}" + (
        f" --epochs {overrides['epochs']:g}" if overrides else ""
    )
    return [
        command,
        seed,
        f"{result.cv_score:.4f}",
        f"{entry.public_score:.4f}",
        f"{entry.private_score:.4f}",
        f"{local:.4f}",
        f"{wall:.1f}",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="cnn,logistic,svc,hgb")
    parser.add_argument("--seeds", default="0,1,2", help="seeds of the CNN runs on digits")
    parser.add_argument("--mnist", metavar="DIR", help="a folder holding MNIST's IDX files")
    parser.add_argument("--mnist-models", default="cnn")
    parser.add_argument("--mnist-epochs", type=float, default=3.0)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--md", metavar="FILE", help="also write the tables as Markdown")
    args = parser.parse_args()

    import harness

    report = Report("Handwritten digits (issue 17, `bench/digits.py`)")
    report.note(f"{machine()}; {revision()}; {args.threads} thread(s) per run")
    columns = ["command", "seed", "CV", "public", "private", "local test", "wall s"]
    right = [False, True, True, True, True, True, True]

    home = tempfile.mkdtemp(prefix="bench-digits-")
    start = time.perf_counter()
    harness.prepare("digits", home=home)
    report.note(f"harness prepare digits: {time.perf_counter() - start:.1f} s (in-process)")
    rows = []
    for model in args.models.split(","):
        seeds = [int(s) for s in args.seeds.split(",")] if model == "cnn" else [0]
        for seed in seeds:
            rows.append(_row("digits", model, seed, home, args.threads))
            report.console.print(" | ".join(map(str, rows[-1])), markup=False)
    report.table("digits (1,347 train / 450 test), defaults", columns, rows, right=right)

    if args.mnist:
        home = tempfile.mkdtemp(prefix="bench-mnist-")
        start = time.perf_counter()
        harness.prepare("digit-recognizer", Path(args.mnist), home=home)
        report.note(
            f"harness prepare digit-recognizer --raw {args.mnist}: "
            f"{time.perf_counter() - start:.1f} s (in-process)"
        )
        rows = []
        for model in args.mnist_models.split(","):
            extra = {"epochs": args.mnist_epochs} if model == "cnn" else {}
            rows.append(_row("digit-recognizer", model, 0, home, args.threads, **extra))
            report.console.print(" | ".join(map(str, rows[-1])), markup=False)
        report.table(
            "digit-recognizer from the IDX files (60,000 train / 10,000 test)",
            columns,
            rows,
            right=right,
        )
    report.save(args.md)


if __name__ == "__main__":
    main()
