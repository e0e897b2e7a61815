"""Frozen EfficientNet-Lite0 features on CIFAR-10, held out from the public train: which pooled
stages, which input side and how many training images buy how much accuracy for ``lite0-lr``'s
logistic regression (issue 22). Never the local test.

    .venv/bin/python bench/cifar_features.py --home DIR [--train 4000] [--held 2000]
        [--side 128] [--stages 0,1,3,4] [--C 0.003,0.01] [--iterations 100] [--md FILE]

``--home`` is a HARNESS_HOME where cifar10 is prepared. A seeded permutation of the public
train gives ``--train`` training images and ``--held`` held-out ones; their features are
extracted once (``harness.baselines.vision.engine.backbones.extract`` with the head and the
average- and max-pooled outputs of the last stages), then each row of the table is the head
alone or with the last N stages (``--stages``) and one C. Prints the images per second of the
extraction and the load average.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _common import Report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--train", type=int, default=4000)
    parser.add_argument("--held", type=int, default=2000)
    parser.add_argument("--side", type=int, default=128)
    parser.add_argument("--stages", default="0,1,3,4")
    parser.add_argument("--C", default="0.003,0.01")
    parser.add_argument("--iterations", type=int, default=100)
    parser.add_argument("--md", type=Path)
    args = parser.parse_args()

    import warnings

    from harness.baselines.vision.engine.backbones import backbone, extract
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    tensors = args.home / "public" / "cifar10" / "tensors"
    images = np.load(tensors / "train_32px.npy", mmap_mode="r")
    labels = np.load(tensors / "train_labels.npy")
    order = np.random.default_rng(0).permutation(len(images))
    train = np.sort(order[: args.train])
    held = np.sort(order[args.train : args.train + args.held])
    net, _ = backbone("lite0")
    counts = sorted(int(n) for n in args.stages.split(","))
    most = max(counts)
    one = np.asarray(images[:1])
    width = {n: extract(net, one, args.side, stages=n).shape[1] for n in counts}
    started = time.perf_counter()
    found = extract(net, np.asarray(images[np.concatenate([train, held])]), args.side, stages=most)
    rate = len(found) / (time.perf_counter() - started)
    head = width[0] if 0 in width else extract(net, one, args.side).shape[1]
    rows = []
    for n in counts:
        # after the head come the last ``most`` stages in network order: the last n are its tail
        x = np.hstack([found[:, :head], found[:, found.shape[1] - (width[n] - head) :]])
        for c in (float(v) for v in args.C.split(",")):
            model = make_pipeline(
                StandardScaler(), LogisticRegression(C=c, max_iter=args.iterations)
            )
            began = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(x[: len(train)], labels[train])
            seconds = time.perf_counter() - began
            accuracy = float((model.predict(x[len(train) :]) == labels[held]).mean())
            name = "head only" if n == 0 else f"head + last {n} stage{'s' if n > 1 else ''}"
            rows.append([name, x.shape[1], f"{c:g}", f"{accuracy:.4f}", f"{seconds:.1f}"])
    report = Report("CIFAR-10 held out: lite0-lr's features")
    report.table(
        f"lite0 features at {args.side} px ({rate:.0f} images/s), {args.train:,} train / "
        f"{args.held:,} held out, {args.iterations} L-BFGS iterations",
        ["features", "dims", "C", "held-out accuracy", "fit s"],
        rows,
    )
    report.note("load average: " + " ".join(Path("/proc/loadavg").read_text().split()[:3]))
    report.save(str(args.md) if args.md else None)


if __name__ == "__main__":
    main()
