"""Trained models that might lift the CPU sentiment default past NB-SVM (issue 22, item 6):
Howard's NBSVM++ (a linear model on binarised n-grams whose weights are the naive-Bayes
log-count ratios times learned factors, regularised towards plain naive Bayes, trained with
Adam), on word 1-2 grams and on hashed word 1-3 grams; a fastText-style bag of learned n-gram
embeddings; negation marking (words after "not" up to the next punctuation get a NOT_ prefix);
self-training on the slice's own texts with confident predicted labels (as a baseline could on
the test texts); and averages of these, against today's NB-SVM (logistic regression on
NB-scaled word 1-2 grams). Each is scored on a stratified 20% held-out slice of the public train
(seed 0), never the local test.

    OMP_NUM_THREADS=1 python bench/sentiment_more.py --home DIR   # DIR: sentiment prepared
    OMP_NUM_THREADS=1 python bench/sentiment_more.py --home DIR --minilm 1000   # MiniLM's pace
    OMP_NUM_THREADS=1 python bench/sentiment_more.py --home DIR --folds 5   # 5-fold check

One thread; the vectorising and fitting seconds are printed per row.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
from harness.baselines.text.nbsvm import VECTORIZER, LogCountRatio
from harness.baselines.text.nbsvm_blend import nbsvm_pp as train_nbsvm_pp
from harness.baselines.text.nbsvm_blend import negated
from sentiment_features import held_out, public_reviews
from sklearn.feature_extraction.text import CountVectorizer, HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score

TOKEN = VECTORIZER["token_pattern"]


def ratio(x: Any, y: np.ndarray) -> np.ndarray:
    """NB-SVM's naive-Bayes log-count ratios, as the baselines compute them."""
    return np.asarray(LogCountRatio().fit(x, y).ratio_)


def nbsvm_pp(
    a: Any,
    ya: np.ndarray,
    b: Any,
    r: np.ndarray,
    *,
    epochs: int = 2,
    lr: float = 0.02,
    wd: float = 1e-6,
    seed: int = 0,
) -> np.ndarray:
    """Howard's NBSVM++ as ``nbsvm-blend`` trains it, on ``a``; its probabilities on ``b``."""
    from scipy.special import expit

    coef, bias = train_nbsvm_pp(a, ya, r, epochs=epochs, lr=lr, wd=wd, seed=seed)
    return np.asarray(expit(b @ coef + bias))


def fasttext(
    a: Any,
    ya: np.ndarray,
    b: Any,
    *,
    dim: int = 16,
    epochs: int = 3,
    lr: float = 0.01,
    batch: int = 32,
    seed: int = 0,
) -> np.ndarray:
    """fastText-style (Joulin et al. 2016): the mean of learned n-gram embeddings, then a linear
    layer; trained from scratch with Adam on the same binary n-gram ids."""
    import torch

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    bag = torch.nn.EmbeddingBag(a.shape[1], dim, mode="mean", sparse=True)
    torch.nn.init.uniform_(bag.weight, -1 / dim, 1 / dim)
    head = torch.nn.Linear(dim, 1)
    opts = [
        torch.optim.SparseAdam(bag.parameters(), lr=lr),
        torch.optim.Adam(head.parameters(), lr=lr),
    ]

    def logits(x: Any) -> Any:
        ind = torch.as_tensor(x.indices, dtype=torch.int64)
        off = torch.as_tensor(x.indptr[:-1], dtype=torch.int64)
        return head(bag(ind, off)).squeeze(1)

    target = torch.as_tensor(ya, dtype=torch.float32)
    for _ in range(epochs):
        order = rng.permutation(a.shape[0])
        for start in range(0, len(order), batch):
            rows = order[start : start + batch]
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits(a[rows]), target[rows]
            )
            for opt in opts:
                opt.zero_grad()
            loss.backward()
            for opt in opts:
                opt.step()
    with torch.no_grad():
        return torch.sigmoid(logits(b)).numpy()


def minilm_pace(texts: list[str], tokens: int, batch: int = 32) -> float:
    """Seconds per review to embed ``texts`` with the frozen MiniLM of the text extra (mean of
    the last hidden states, truncated to ``tokens``), fp32 on the CPU."""
    import torch
    from harness.baselines.text.transformer import minilm_path
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(minilm_path())
    model = AutoModel.from_pretrained(minilm_path()).eval()
    started = time.time()
    with torch.inference_mode():
        for start in range(0, len(texts), batch):
            encoded = tokenizer(
                texts[start : start + batch],
                truncation=True,
                max_length=tokens,
                padding=True,
                return_tensors="pt",
            )
            hidden = model(**encoded).last_hidden_state
            mask = encoded["attention_mask"].unsqueeze(2)
            (hidden * mask).sum(1) / mask.sum(1)
    return (time.time() - started) / len(texts)


def folds(text: np.ndarray, y: np.ndarray, k: int) -> None:
    """The leading candidates against NB-SVM on k stratified folds of the whole public train:
    each fold's accuracy and AUC, and the mean and spread of each candidate's gain."""
    from sklearn.model_selection import StratifiedKFold

    names = [
        "NB-SVM (today)",
        "NBSVM++",
        "mean NB-SVM + NBSVM++",
        "NBSVM++, negation marks",
        "mean of the four, with and without negation marks",
    ]
    scores: dict[str, list[tuple[float, float]]] = {name: [] for name in names}
    marked = np.array([negated(t) for t in text])
    for train, test in StratifiedKFold(k, shuffle=True, random_state=0).split(text, y):
        got = {}
        for tag, docs in (("", text), ("neg", marked)):
            counts = CountVectorizer(**VECTORIZER)
            a, b = counts.fit_transform(docs[train]), counts.transform(docs[test])
            r = ratio(a, y[train])
            model = LogisticRegression(C=0.1, max_iter=3000).fit(a.multiply(r).tocsr(), y[train])
            got[tag + "lr"] = model.predict_proba(b.multiply(r).tocsr())[:, 1]
            got[tag + "pp"] = nbsvm_pp(a, y[train], b, r, epochs=2)
        for name, p in zip(
            names,
            (
                got["lr"],
                got["pp"],
                (got["lr"] + got["pp"]) / 2,
                got["negpp"],
                (got["lr"] + got["pp"] + got["neglr"] + got["negpp"]) / 4,
            ),
            strict=True,
        ):
            scores[name].append((accuracy_score(y[test], p > 0.5), roc_auc_score(y[test], p)))
    print("| model | accuracy per fold | mean | gain (sd) | AUC per fold | mean | gain (sd) |")
    print("|---|---|---:|---:|---|---:|---:|")
    base = np.array(scores[names[0]])
    for name in names:
        got_ = np.array(scores[name])
        gain = got_ - base
        print(
            f"| {name} | {' '.join(f'{v:.4f}' for v in got_[:, 0])} | {got_[:, 0].mean():.4f} | "
            f"{gain[:, 0].mean():+.4f} ({gain[:, 0].std(ddof=1):.4f}) | "
            f"{' '.join(f'{v:.4f}' for v in got_[:, 1])} | {got_[:, 1].mean():.4f} | "
            f"{gain[:, 1].mean():+.4f} ({gain[:, 1].std(ddof=1):.4f}) |",
            flush=True,
        )


def main() -> None:
    import torch

    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True, type=Path)
    parser.add_argument(
        "--minilm",
        type=int,
        default=0,
        metavar="N",
        help="only time N reviews through frozen MiniLM at 128 and 256 tokens",
    )
    parser.add_argument(
        "--folds",
        type=int,
        default=0,
        metavar="K",
        help="only check the leading candidates on K stratified folds of the public train",
    )
    args = parser.parse_args()
    text, labels = public_reviews(args.home)
    if args.folds:
        folds(text, labels, args.folds)
        return
    xa, xb, ya, yb = held_out(text, labels)
    if args.minilm:
        print("| MiniLM, frozen, fp32, 1 thread | reviews | s per review | 50,000 reviews |")
        print("|---|---:|---:|---:|")
        for tokens in (128, 256):
            pace = minilm_pace(list(xa[: args.minilm]), tokens)
            print(f"| {tokens} tokens | {args.minilm:,} | {pace:.4f} | {50_000 * pace:.0f} s |")
        return
    kept: dict[str, np.ndarray] = {}

    def row(
        name: str,
        p: np.ndarray,
        features: int | str = "",
        vec: float | str = "",
        fit: float | str = "",
    ) -> None:
        kept[name] = p
        vec = f"{vec:.0f}" if isinstance(vec, float) else vec
        fit = f"{fit:.0f}" if isinstance(fit, float) else fit
        features = f"{features:,}" if isinstance(features, int) else features
        print(
            f"| {name} | {features} | {accuracy_score(yb, p > 0.5):.4f} | "
            f"{roc_auc_score(yb, p):.4f} | {vec} | {fit} |",
            flush=True,
        )

    print("| features / model | features kept | accuracy | ROC AUC | vectorise s | fit s |")
    print("|---|---:|---:|---:|---:|---:|")
    sets = {}
    started = time.time()
    counts = CountVectorizer(**VECTORIZER)
    sets["word 1-2"] = (counts.fit_transform(xa), counts.transform(xb), time.time() - started)
    started = time.time()
    hashing = HashingVectorizer(
        ngram_range=(1, 3),
        n_features=2**23,
        alternate_sign=False,
        norm=None,
        binary=True,
        token_pattern=TOKEN,
    )
    ha, hb = hashing.transform(xa), hashing.transform(xb)
    keep = np.flatnonzero(np.asarray(ha.sum(0)).ravel() >= 2)
    sets["hashed word 1-3"] = (ha[:, keep].tocsr(), hb[:, keep].tocsr(), time.time() - started)
    for name, (a, b, vec) in sets.items():
        r = ratio(a, ya)
        started = time.time()
        lr_c = 0.1 if name == "word 1-2" else 0.3
        p = LogisticRegression(C=lr_c, max_iter=3000).fit(a.multiply(r).tocsr(), ya)
        row(
            f"{name}, NB-SVM (LR C={lr_c})",
            p.predict_proba(b.multiply(r).tocsr())[:, 1],
            a.shape[1],
            vec,
            time.time() - started,
        )
        for epochs, lr, wd in ((1, 0.02, 1e-6), (2, 0.02, 1e-6), (3, 0.01, 1e-5)):
            started = time.time()
            p = nbsvm_pp(a, ya, b, r, epochs=epochs, lr=lr, wd=wd)
            row(
                f"{name}, NBSVM++ {epochs} ep lr={lr} wd={wd}",
                p,
                a.shape[1],
                vec,
                time.time() - started,
            )
        if name == "word 1-2":
            for epochs in (2, 4):
                started = time.time()
                p = fasttext(a, ya, b, epochs=epochs)
                row(
                    f"{name}, fastText dim 16 {epochs} ep",
                    p,
                    a.shape[1],
                    vec,
                    time.time() - started,
                )
    base = "word 1-2, NB-SVM (LR C=0.1)"
    plus = "word 1-2, NBSVM++ 2 ep lr=0.02 wd=1e-06"
    a, b, _ = sets["word 1-2"]

    def pair(a: Any, ya: np.ndarray, b: Any) -> tuple[np.ndarray, np.ndarray]:
        r = ratio(a, ya)
        model = LogisticRegression(C=0.1, max_iter=3000).fit(a.multiply(r).tocsr(), ya)
        return model.predict_proba(b.multiply(r).tocsr())[:, 1], nbsvm_pp(a, ya, b, r, epochs=2)

    mean = (kept[base] + kept[plus]) / 2
    for margin in (0.3, 0.4):
        started = time.time()
        sure = np.abs(mean - 0.5) >= margin
        a2 = sp.vstack([a, b[sure]]).tocsr()
        y2 = np.concatenate([ya, (mean[sure] > 0.5).astype(int)])
        p1, p2 = pair(a2, y2, b)
        fit = time.time() - started
        what = f"self-trained on {sure.sum():,} slice texts (|p-0.5| ≥ {margin})"
        row(f"word 1-2, NB-SVM, {what}", p1, a2.shape[1], "", fit)
        row(f"word 1-2, NBSVM++, {what}", p2, a2.shape[1], "", "")
        row(f"mean of the two above ({what})", (p1 + p2) / 2)
    started = time.time()
    counts = CountVectorizer(**VECTORIZER)
    a = counts.fit_transform([negated(t) for t in xa])
    b = counts.transform([negated(t) for t in xb])
    vec = time.time() - started
    started = time.time()
    p1, p2 = pair(a, ya, b)
    row(
        "word 1-2 with negation marks, NB-SVM (LR C=0.1)",
        p1,
        a.shape[1],
        vec,
        time.time() - started,
    )
    row("word 1-2 with negation marks, NBSVM++ 2 ep", p2, a.shape[1], vec, "")
    row("mean of the two above (negation marks)", (p1 + p2) / 2)
    row(
        "mean of the four NB-SVM / NBSVM++ with and without negation marks",
        (p1 + p2 + kept[base] + kept[plus]) / 4,
    )
    names = [n for n in kept if "slice texts" not in n and "negation" not in n]
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            if first == base and "mean" not in second:
                row(f"mean of {first} + {second}", (kept[first] + kept[second]) / 2)
    trio = [
        "word 1-2, NB-SVM (LR C=0.1)",
        "word 1-2, NBSVM++ 2 ep lr=0.02 wd=1e-06",
        "hashed word 1-3, NBSVM++ 1 ep lr=0.02 wd=1e-06",
    ]
    for extra in ("word 1-2, fastText dim 16 2 ep", "word 1-2, fastText dim 16 4 ep"):
        for members in ([*trio[:2], extra], [*trio, extra]):
            row(f"mean of {' + '.join(members)}", np.mean([kept[m] for m in members], axis=0))


if __name__ == "__main__":
    main()
