"""The GPU defaults exercised on the CPU at their real size: each recipe's network, at its real
batch and input size, on the real prepared data, for a few training steps and one
test-time-augmented prediction, so shapes, memory and data paths are checked before a GPU ever
runs them. The memory column is the engine's estimate for the *whole* batch (what a GPU must
hold: `baselines/vision/engine/memory.py`); the CPU runs it in the micro-batches that fit here.

    .venv/bin/python bench/gpu_recipes.py --home DIR [--steps 2] [--only airnet,resnet26d,minilm]
        [--md FILE]

``--home``: a HARNESS_HOME where cifar10, dogs-vs-cats and sentiment are prepared. Each recipe
runs in its own process (its peak RSS is its own). The ensemble is not run here: its members
are (MiniLM below, NB-SVM on the CPU ladder, bench/ladder.py), and it adds a rank average.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from _common import Report, revision

#: name -> (competition, baseline, image side or None)
RECIPES = {
    "airnet": ("cifar10", "airnet", 32),
    "resnet26d": ("dogs-vs-cats", "resnet26d", 128),
    "minilm": ("sentiment", "minilm", None),
}


def one_image(name: str, home: Path, steps: int) -> dict[str, Any]:
    import numpy as np
    import torch
    from harness.baselines import get_baseline, load_data
    from harness.baselines.vision import engine
    from harness.baselines.vision.engine.memory import footprint
    from harness.baselines.vision.shared import make_recipe

    from harness.data.loading import load
    from harness.registry import get_competition
    from harness.settings import Settings

    competition, model, side = RECIPES[name]
    comp, settings = get_competition(competition), Settings.resolve(home)
    baseline = get_baseline(comp, model)
    data = load_data(baseline, comp, load(comp, settings, size=side))
    recipe = replace(make_recipe(dict(baseline.defaults)), compile=False, epochs=1.0)
    x, y = data.x_train, data.y_train
    rows = np.arange(steps * recipe.batch_size)  # exactly `steps` batches
    started = time.perf_counter()
    sample = np.asarray(x[:2000])
    net = baseline.build(baseline.defaults, comp, data.columns, 0, device="cpu").make_net(
        len(data.columns), sample, None
    )
    need = footprint(net, int(x.shape[1]), 0)
    whole = need.fixed + recipe.batch_size * need.train_per_image
    trained = engine.train(net, x, y, recipe, device=torch.device("cpu"), rows=rows)
    proba = engine.predict_proba(
        trained.model, data.x_test, recipe, device=torch.device("cpu"),
        rows=np.arange(min(256, len(data.x_test))), batch_size=trained.eval_chunk,
    )  # fmt: skip
    assert proba.shape == (min(256, len(data.x_test)), len(data.columns))
    assert np.isfinite(proba).all()
    return {
        "recipe": name,
        "data": f"{competition} {x.shape[1]} px, {len(x):,} train",
        "batch": recipe.batch_size,
        "steps": steps,
        "micro-batch here": trained.micro_batch,
        "precision here": trained.precision,
        "s a step here": f"{trained.seconds / steps:.1f}",
        "whole batch needs": f"{whole / 2**30:.1f} GB",
        "wall": f"{time.perf_counter() - started:.0f} s",
    }


def one_text(name: str, home: Path, steps: int) -> dict[str, Any]:
    import numpy as np
    from harness.baselines import get_baseline, load_data

    from harness.data.loading import load
    from harness.registry import get_competition
    from harness.settings import Settings

    competition, model, _ = RECIPES[name]
    comp, settings = get_competition(competition), Settings.resolve(home)
    baseline = get_baseline(comp, model)
    baseline.check_installed()
    data = load_data(baseline, comp, load(comp, settings))
    params = dict(baseline.defaults)
    rows = np.arange(steps * int(params["batch_size"]))
    params["epochs"] = 1.0  # over `steps` batches of rows
    started = time.perf_counter()
    estimator = baseline.build(params, comp, data.columns, 0, device="cpu")
    estimator.fit(data.x_train, data.y_train, rows=rows)
    trained = estimator.train_seconds
    proba = estimator.predict_proba(data.x_test, rows=np.arange(64))
    assert proba.shape == (64, 2) and np.isfinite(proba).all()
    from harness.baselines.cpu import size_text
    from harness.baselines.vision.engine.memory import sequence_footprint

    need = sequence_footprint(estimator.model_, int(params["max_length"]))
    whole = need.fixed + int(params["batch_size"]) * need.train_per_image
    return {
        "recipe": name,
        "data": f"{competition} {params['max_length']} tokens, {len(data.x_train):,} train",
        "batch": params["batch_size"],
        "steps": steps,
        "micro-batch here": estimator.record.get("micro_batch", params["batch_size"]),
        "precision here": "fp32",
        "s a step here": f"{trained / steps:.1f}",
        "whole batch needs": size_text(whole),
        "wall": f"{time.perf_counter() - started:.0f} s",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", required=True)
    parser.add_argument("--steps", type=int, default=2)
    parser.add_argument("--only", default=",".join(RECIPES))
    parser.add_argument("--md")
    parser.add_argument("--one", help=argparse.SUPPRESS)  # a child: one recipe, JSON out
    args = parser.parse_args()
    home = Path(args.home).resolve()
    if args.one:
        run = one_text if RECIPES[args.one][2] is None else one_image
        print("RESULT " + json.dumps(run(args.one, home, args.steps)), flush=True)
        return
    report = Report("The GPU recipes on the CPU, at their real size")
    report.note(f"{revision()}")
    rows = []
    for name in args.only.split(","):
        load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        child = subprocess.Popen(
            [sys.executable, __file__, "--home", str(home), "--steps", str(args.steps),
             "--one", name],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        assert child.stdout is not None
        out = child.stdout.read()
        _, _, usage = os.wait4(child.pid, 0)
        line = next((s for s in out.splitlines() if s.startswith("RESULT ")), None)
        if line is None:
            rows.append([name, f"failed: {out[-400:]!r}", "", "", "", "", "", "", "", "", ""])
            continue
        found = json.loads(line.removeprefix("RESULT "))
        peak = f"{usage.ru_maxrss / 1024**2:.2f} GB"
        rows.append([*found.values(), peak, load_before])
    report.table(
        "each GPU default, a few steps at its real batch on the real data (CPU)",
        ["recipe", "data", "batch", "steps", "micro-batch here", "precision here",
         "s a step here", "whole batch needs", "wall", "peak RSS", "load before"],
        rows,
    )  # fmt: skip
    report.save(args.md)


if __name__ == "__main__":
    main()
