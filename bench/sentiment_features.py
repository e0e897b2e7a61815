"""Which classical features might lift the CPU sentiment default (issue 22, item 6): NB-weighted
word n-grams (1-2 as today, 1-3), character n-grams, TF-IDF, and their probability averages,
each scored on a stratified 20% held-out slice of the public train (never the local test).

    python bench/sentiment_features.py --home DIR   # DIR: a HARNESS_HOME with sentiment prepared

One thread (OMP_NUM_THREADS=1); vectorising time and fitting time are printed per row.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from harness.baselines.text import clean
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split

TOKEN = r"(?u)\b\w+\b|[!?]"


def ratio(x: Any, y: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    p = alpha + np.asarray(x[y == 1].sum(0)).ravel()
    q = alpha + np.asarray(x[y != 1].sum(0)).ravel()
    return np.log((p / p.sum()) / (q / q.sum()))


def public_reviews(home: Path) -> tuple[np.ndarray, np.ndarray]:
    """The public train's reviews (lower case, HTML breaks as spaces) and their labels."""
    train = pd.read_csv(home / "public" / "sentiment" / "train.csv")
    return train["review"].map(clean).to_numpy(), train["sentiment"].to_numpy()


def held_out(text: np.ndarray, labels: np.ndarray) -> list[np.ndarray]:
    """The stratified 20% slice (seed 0) every sentiment bench judges on: xa, xb, ya, yb."""
    return list(train_test_split(text, labels, test_size=0.2, random_state=0, stratify=labels))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, type=Path)
    args = parser.parse_args()
    xa, xb, ya, yb = held_out(*public_reviews(args.home))
    kept: dict[str, np.ndarray] = {}

    def run(name: str, vectorizer: Any, cs: list[float], nb: bool = True) -> None:
        started = time.time()
        a, b = vectorizer.fit_transform(xa), vectorizer.transform(xb)
        vectorised = time.time() - started
        if nb:
            r = ratio(a, ya)
            a, b = a.multiply(r).tocsr(), b.multiply(r).tocsr()
        for c in cs:
            started = time.time()
            p = LogisticRegression(C=c, max_iter=3000).fit(a, ya).predict_proba(b)[:, 1]
            kept[f"{name} C={c}"] = p
            print(
                f"| {name} | {c} | {a.shape[1]:,} | {accuracy_score(yb, p > 0.5):.4f} | "
                f"{roc_auc_score(yb, p):.4f} | {vectorised:.0f} | {time.time() - started:.0f} |",
                flush=True,
            )

    print("| features | C | features kept | accuracy | ROC AUC | vectorise s | fit s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    words = {"min_df": 2, "binary": True, "token_pattern": TOKEN}
    run(
        "word 1-2, binary, NB (today)",
        CountVectorizer(ngram_range=(1, 2), max_features=1_000_000, **words),
        [0.1, 0.3],
    )
    run(
        "word 1-3, binary, NB",
        CountVectorizer(ngram_range=(1, 3), max_features=2_000_000, **words),
        [0.1, 0.3, 1.0],
    )
    chars = TfidfVectorizer(
        analyzer="char_wb", ngram_range=(2, 5), min_df=3, sublinear_tf=True, max_features=1_000_000
    )
    run("char_wb 2-5, TF-IDF", chars, [3.0, 10.0], nb=False)
    tfidf = TfidfVectorizer(
        ngram_range=(1, 3),
        min_df=2,
        sublinear_tf=True,
        token_pattern=TOKEN,
        max_features=2_000_000,
    )
    run("word 1-3, TF-IDF", tfidf, [10.0, 30.0], nb=False)
    for word in ("word 1-3, binary, NB C=0.3", "word 1-3, binary, NB C=1.0"):
        for members in (
            (word, "char_wb 2-5, TF-IDF C=10.0"),
            (word, "char_wb 2-5, TF-IDF C=10.0", "word 1-3, TF-IDF C=30.0"),
        ):
            p = np.mean([kept[m] for m in members], axis=0)
            print(
                f"| mean of {' + '.join(members)} | | | {accuracy_score(yb, p > 0.5):.4f} | "
                f"{roc_auc_score(yb, p):.4f} | | |"
            )


if __name__ == "__main__":
    main()
