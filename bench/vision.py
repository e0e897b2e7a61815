"""The vision baselines, measured: CIFAR-10 speed and accuracy over seeds, the Dogs vs Cats
presets side by side, and `tune cifar10` wall time with GPU utilisation. One call does it all,
so a lent GPU's 30 minutes go to measuring (see ../shared/GPU.md for carrying data there).

    python bench/vision.py --raw DIR [--seeds 5] [--device cuda]
                           [--parts cifar,resnet18,profile,dogs,tune]
                           [--trials 20] [--tiny] [--md FILE]

``--raw DIR`` holds the publishers' archives (``python ../shared/data/make_raw.py DIR``).

CIFAR-10 timing follows the reference (airbench94_muon): CUDA-synchronised wall time from the
first training step to the end of the TTA evaluation on the 10,000 test images, excluding
compilation (a warm-up run compiles first; its time is reported apart) and the one-off upload of
the data to the GPU. Accuracy is on the whole local test (public + private rows), which is
IMDB-style the publisher's test set; settings were chosen without looking at it.

``--tiny`` runs everything with a tiny network, one epoch and a slice of the data, so the
script itself can be checked on a CPU; its figures mean nothing.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from _common import Report, machine, strip_bench_from_path

strip_bench_from_path()

import numpy as np  # noqa: E402

REFERENCE = {"cifar10": (0.907, 1.85), "resnet18": (0.855, 156.0), "dogs": (0.948, 0.166, 35.0)}


class GpuSampler:
    """Mean GPU utilisation from ``nvidia-smi`` sampled every 200 ms while it runs."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._stop = threading.Event()

    def __enter__(self) -> GpuSampler:
        cmd = ["nvidia-smi", "--query-gpu=utilization.gpu", "--format=csv,noheader,nounits"]

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    out = subprocess.run(cmd, capture_output=True, text=True, timeout=5).stdout
                    self.samples.append(float(out.split()[0]))
                except (OSError, ValueError, IndexError, subprocess.SubprocessError):
                    return
                self._stop.wait(0.2)

        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def mean(self) -> float | None:
        return statistics.mean(self.samples) if self.samples else None


def answers(home: Path, comp: str) -> Any:
    import pandas as pd

    return pd.read_csv(home / "private" / comp / "answers.csv")


def run_once(
    baseline: Any, comp: Any, data: Any, params: dict[str, Any], seed: int, device: str
) -> tuple[Any, float, float]:
    """Train on all public train; returns the model, training seconds and TTA-eval seconds."""
    import torch

    model = baseline.build(params, comp, data.columns, seed, device=device)
    model.fit(data.x_train, data.y_train)
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    started = time.perf_counter()
    proba = model.predict_proba(data.x_test)
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    return (model, proba), model.train_seconds, time.perf_counter() - started


def load(comp_id: str, home: Path, size: int | None = None) -> tuple[Any, Any]:
    from harness.baselines.vision import load_data

    import harness
    from harness.registry import get_competition

    comp = get_competition(comp_id)
    return comp, load_data(comp, harness.load(comp_id, home=home, size=size))


def cifar(report: Report, home: Path, args: argparse.Namespace, model_name: str) -> None:
    from harness.baselines import get_baseline
    from harness.baselines.vision.engine import on_device

    comp, data = load("cifar10", home)
    baseline = get_baseline(comp, model_name)
    params = dict(baseline.defaults)
    if args.tiny:
        params.update(epochs=1.0, batch_size=256, compile=False)
    truth = answers(home, "cifar10").set_index("id").loc[data.test_ids, "label"].to_numpy()
    names = np.asarray(data.columns)
    upload = time.perf_counter()
    device = baseline.build(params, comp, data.columns, 0, device=args.device).device
    on_device(data.x_train, device)
    upload = time.perf_counter() - upload
    rows = []
    warm = time.perf_counter()  # compiles (when the recipe compiles), not counted
    run_once(baseline, comp, data, params, 1000, args.device)
    warm = time.perf_counter() - warm
    seeds = 1 if model_name == "resnet18" else args.seeds
    for seed in range(seeds):
        (_, proba), train_s, eval_s = run_once(baseline, comp, data, params, seed, args.device)
        accuracy = float((names[proba.argmax(1)] == truth).mean())
        rows.append((seed, accuracy, train_s, eval_s, train_s + eval_s))
    accs, totals = [r[1] for r in rows], [r[4] for r in rows]
    table = [(s, f"{a:.4f}", f"{t:.2f}", f"{e:.2f}", f"{total:.2f}") for s, a, t, e, total in rows]
    ref_acc, ref_s = REFERENCE["cifar10" if model_name == "airnet" else "resnet18"]
    table.append(
        (
            "mean",
            f"{statistics.mean(accs):.4f}",
            "",
            "",
            f"{statistics.mean(totals):.2f}",
        )
    )
    report.table(
        f"CIFAR-10 {model_name}: {params['epochs']} epochs, batch {params['batch_size']}, "
        f"device {args.device}",
        ["seed", "test accuracy", "train s", "TTA eval s", "timed span s"],
        table,
    )
    report.note(
        f"{model_name}: mean {statistics.mean(accs):.4f} in {statistics.mean(totals):.2f} s "
        f"(reference {ref_acc:.3f} in {ref_s} s: ratio {statistics.mean(totals) / ref_s:.2f}x); "
        f"warm-up run incl. compile {warm:.1f} s; upload to device {upload:.2f} s"
    )


def profile(report: Report, home: Path, args: argparse.Namespace) -> None:
    """Where one AirNet run's time goes: torch.profiler's top operators by device time."""
    from harness.baselines import get_baseline
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as profiler

    comp, data = load("cifar10", home)
    baseline = get_baseline(comp, "airnet")
    params = dict(baseline.defaults)
    if args.tiny:
        params.update(epochs=1.0, batch_size=256, compile=False)
    run_once(baseline, comp, data, params, 1000, args.device)  # warm-up: compile, upload
    activities = [ProfilerActivity.CPU]
    if args.device == "cuda":
        activities.append(ProfilerActivity.CUDA)
    with profiler(activities=activities) as prof:
        run_once(baseline, comp, data, params, 0, args.device)
    key = "self_cuda_time_total" if args.device == "cuda" else "self_cpu_time_total"
    report.code(
        f"profile of one AirNet run on {args.device} (top operators by {key})",
        prof.key_averages().table(sort_by=key, row_limit=15, max_name_column_width=60),
    )


def dogs(report: Report, home: Path, args: argparse.Namespace) -> None:
    from harness.baselines import get_baseline
    from sklearn.metrics import log_loss

    size = 32 if args.tiny else 128
    comp, data = load("dogs-vs-cats", home, size)
    if args.tiny:
        data = replace(data, x_train=data.x_train[:400], y_train=data.y_train[:400])
    truth = answers(home, "dogs-vs-cats").set_index("id").loc[data.test_ids, "label"].to_numpy()
    rows = []
    for name in ("airnet",) if args.tiny else ("resnet26d", "airnet"):
        baseline = get_baseline(comp, name)
        params = dict(baseline.defaults)
        if args.tiny:
            params.update(epochs=1.0, batch_size=64, compile=False)
        (model, proba), train_s, eval_s = run_once(baseline, comp, data, params, 0, args.device)
        p = np.clip(proba[:, 1], 1e-15, 1 - 1e-15)
        rows.append(
            (
                name,
                f"{float(((p > 0.5) == truth).mean()):.4f}",
                f"{log_loss(truth, p, labels=[0, 1]):.4f}",
                f"{model.temperature:.2f}",
                f"{train_s:.1f}",
                f"{eval_s:.2f}",
            )
        )
    report.table(
        f"Dogs vs Cats at {size} px, 6k train / 2k local test, from scratch, {args.device}",
        ["model", "accuracy", "log loss", "temperature", "train s", "TTA eval s"],
        rows,
    )
    acc, loss, secs = REFERENCE["dogs"]
    report.note(f"reference recipe (another split): accuracy {acc}, log loss {loss} in {secs} s")


def tune(report: Report, home: Path, args: argparse.Namespace) -> None:
    import harness

    overrides = {"epochs": 1.0, "batch_size": 512} if args.tiny else None
    with GpuSampler() as gpu:
        started = time.perf_counter()
        result = harness.tune(
            "cifar10",
            model="airnet",
            trials=args.trials,
            device=args.device,
            home=home,
            overrides=overrides,
        )
        wall = time.perf_counter() - started
    trials = result.study.trials
    pruned = sum(t.state.name == "PRUNED" for t in trials)
    train = sum(float(t.user_attrs.get("train_seconds", 0.0)) for t in trials)
    busy = "n/a (no nvidia-smi)" if gpu.mean is None else f"{gpu.mean:.0f}%"
    report.table(
        f"harness tune cifar10 --trials {args.trials} (airnet, device {args.device})",
        ["trials", "pruned", "wall s", "sum of train s", "GPU busy", "best holdout", "public"],
        [
            (
                len(trials),
                pruned,
                f"{wall:.1f}",
                f"{train:.1f}",
                busy,
                f"{result.cv_score:.4f}",
                f"{result.entry.public_score:.4f}",
            )
        ],
    )
    report.note(f"best params: {result.params}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--raw", required=True, help="folder with the publishers' archives")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--parts", default="cifar,dogs,tune")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--tiny", action="store_true", help="check the script on a CPU")
    parser.add_argument("--md")
    args = parser.parse_args()
    parts = set(args.parts.split(","))

    import harness

    if args.tiny:  # a tiny AirNet, so the script can be checked on a CPU in a minute or two
        from harness.baselines.vision import airnet

        airnet.WIDTHS = (8, 16, 16)
    report = Report("Vision baselines")
    report.note(f"machine: {machine()}")
    if args.device == "cuda":
        import torch

        report.note(f"GPU: {torch.cuda.get_device_name()}, torch {torch.__version__}")
    raw = Path(args.raw)
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        if parts & {"cifar", "resnet18", "profile", "tune"}:
            started = time.perf_counter()
            harness.prepare("cifar10", raw / "cifar-10-python.tar.gz", home=home)
            report.note(f"prepared cifar10 in {time.perf_counter() - started:.1f} s")
            if args.tiny:
                shrink(home, "cifar10", 2000)
        if "cifar" in parts:
            cifar(report, home, args, "airnet")
        if "resnet18" in parts:
            cifar(report, home, args, "resnet18")
        if "profile" in parts:
            profile(report, home, args)
        if "dogs" in parts:
            harness.prepare("dogs-vs-cats", raw / "dogs-vs-cats.zip", home=home)
            dogs(report, home, args)
        if "tune" in parts:
            tune(report, home, args)
    report.save(args.md)


def shrink(home: Path, comp: str, keep: int) -> None:
    """--tiny: keep the first ``keep`` train images in the tensor caches (the loader's input)."""
    for path in (home / "public" / comp / "tensors").glob("train_*.npy"):
        np.save(path, np.load(path)[:keep])
    labels = home / "public" / comp / "tensors" / "train_labels.npy"
    np.save(labels, np.load(labels)[:keep])


if __name__ == "__main__":
    main()
