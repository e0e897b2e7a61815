"""Do the tabular baselines hold up on data they never saw? For each model on Titanic and House
Prices: its CV on the local public train (± standard error), the local test's scores of the
entry it submits, and a nested-CV estimate on all of Kaggle's labelled train (outer folds the
model, or the tuner, never sees), with the gap between what CV promised and what the outer
folds gave.

    .venv/bin/python bench/nested_cv.py [--models linear,forest,gbm,lgbm,ensemble]
        [--tuned gbm --trials 20] [--outer 5] [--md FILE]

- "CV ± SE": ``harness.baseline`` (defaults) on the local public train: the scheme's own CV
  (before issue 16: 5 folds; after: 3 × 5 on small data), SE = std / √folds.
- "local test": the submitted entry's public and private scores (Kaggle's test labels are not
  on this machine: these are the local split's held-out rows, scored by ``harness submit``).
- "nested": Kaggle's train.csv (891 / 1,460 labelled rows) in ``--outer`` seeded folds; in
  each, the model's defaults (or, for ``--tuned`` models, an in-memory study of ``--trials``
  trials on the outer-train rows alone, its pick refitted there) predict the outer fold, and
  every outer row is scored (House Prices' outliers too). "inner CV" = the CV on each
  outer-train that the pick was made on (for defaults: their own CV there); "gap" = inner CV
  less the outer score, signed so that positive is optimism (CV promised more than the unseen
  rows gave), the local CV standing in where the inner CV was skipped (``--no-inner``).

Runs against whatever tree is on ``PYTHONPATH`` (the before/after of RESULTS.md §15 ran it on a
``git worktree`` of the previous commit too): it falls back to a 5-fold CV and the raw best
trial where the scheme has no repeats or one-standard-error rule.
"""

from __future__ import annotations

import argparse
import inspect
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")


NO_CHECK = False  # --no-check: skip the fresh-fold check of a study's pick


def raw_train(competition: str) -> Any:
    import pandas as pd

    from harness.registry import get_competition

    comp = get_competition(competition)
    assert comp.embedded_raw is not None
    return comp, pd.read_csv(comp.embedded_raw / "train.csv")


def scheme_for(baseline: Any, comp: Any, data: Any, seed: int) -> Any:
    from harness.baselines.cpu import CpuShare
    from harness.baselines.schemes import scheme

    settings: dict[str, Any] = {
        "seed": seed,
        "folds": 5,
        "overrides": {},
        "options": {},
        "share": CpuShare(1),
    }
    if "repeats" in inspect.signature(scheme_class()).parameters:
        settings["repeats"] = None
    return scheme(baseline, comp, data, **settings)


def scheme_class() -> Any:
    from harness.baselines.schemes import KFold

    return KFold.__init__


def search(baseline: Any, comp: Any, data: Any, trials: int, seed: int) -> tuple[Any, Any]:
    """An in-memory study as ``harness tune`` runs it (TPE, defaults first, median pruning);
    returns (scorer, the trial it submits)."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    scorer = scheme_for(baseline, comp, data, seed)
    if NO_CHECK and hasattr(scorer, "confirmed"):  # the 1-SE pick as it is (before the check)
        scorer.confirmed = lambda pick: True
    study = optuna.create_study(
        direction="maximize" if comp.metric.greater_is_better else "minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1),
    )
    study.enqueue_trial(baseline.defaults)
    study.optimize(scorer.objective, n_trials=trials)
    chosen = scorer.choose(study) if hasattr(scorer, "choose") else study.best_trial
    return scorer, chosen


def nested(
    comp: Any, frame: Any, model: str, *, outer: int, trials: int, seed: int, inner: bool
) -> dict:
    """Outer-fold scores of ``model`` (tuned when ``trials`` > 1) on Kaggle's labelled train,
    and (``inner``, always when tuned) the CV on each outer-train that the pick was made on."""
    from harness.baselines import get_baseline, load_data
    from harness.baselines.data import predict
    from sklearn.model_selection import KFold, StratifiedKFold

    from harness.data.loading import Tables

    baseline = get_baseline(comp, model)
    target = comp.target_columns[0]
    kind = StratifiedKFold if comp.task.is_classification else KFold
    splitter = kind(outer, shuffle=True, random_state=seed)
    scores, promised, versus, kept, checked = [], [], [], 0, []
    sign = 1.0 if comp.metric.greater_is_better else -1.0

    def outer_score(params: dict, data: Any, held: Any) -> float:
        estimator = baseline.build(params, comp, data.columns, seed)
        estimator.fit(data.x_train, data.y_train)
        return float(
            comp.metric.fn(held[target].to_numpy(), predict(comp, estimator, data.x_test))
        )

    for fit_rows, held_rows in splitter.split(frame, frame[target]):
        train = frame.iloc[fit_rows].reset_index(drop=True)
        held = frame.iloc[held_rows].reset_index(drop=True)
        tables = Tables(train, held.drop(columns=[target]), held.iloc[:0])
        data = load_data(baseline, comp, tables)
        if trials > 1 or inner:
            scorer, chosen = search(baseline, comp, data, trials, seed)
            params = scorer.best_params(chosen)
            check = getattr(scorer, "confirmation", None)
            if check:  # the 1-SE pick was not the defaults: checked on fresh folds
                checked.append(check["kept"])
            promised.append(float(chosen.values[0]))
        else:
            params = baseline.defaults
        scores.append(outer_score(params, data, held))
        if trials > 1:  # the same outer fold scored by the defaults: tuned − defaults, paired
            same = params == baseline.defaults
            kept += same
            versus.append(
                0.0 if same else sign * (scores[-1] - outer_score(baseline.defaults, data, held))
            )
    mean = float(np.mean(scores))
    return {
        "outer": mean,
        "outer_se": float(np.std(scores, ddof=1) / np.sqrt(len(scores))),
        "inner": float(np.mean(promised)) if promised else None,
        "versus": versus,  # per outer fold, tuned − defaults (positive: tuning helped)
        "kept": kept,  # outer folds where the study submitted the defaults
        "checked": checked,  # per fresh-fold check run: what it kept ("pick" / "defaults")
    }


def local(competition: str, model: str, home: str, trials: int) -> dict:
    """CV (± SE) and the local test's scores of what ``harness.baseline`` / ``tune`` submits."""
    import harness

    if trials > 1:
        result = harness.tune(competition, model=model, trials=trials, home=home)
    else:
        result = harness.baseline(competition, model=model, home=home)
    folds = len(result.study.trials[0].intermediate_values) or 5
    se = getattr(result, "cv_se", None) or result.cv_std / np.sqrt(max(1, folds - 1))
    return {
        "cv": result.cv_score,
        "se": float(se),
        "folds": folds,
        "public": result.entry.public_score,
        "private": result.entry.private_score,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="linear,forest,gbm,lgbm,ensemble")
    parser.add_argument("--tuned", default="", help="models also tuned: gbm,linear")
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--outer", type=int, default=5)
    parser.add_argument(
        "--no-inner",
        default="ensemble",
        help="defaults whose CV on each outer-train is skipped (the gap then uses the local CV)",
    )
    parser.add_argument("--competitions", default="titanic,house-prices")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--md", help="also write the tables as Markdown to this file")
    parser.add_argument(
        "--no-check", action="store_true", help="submit the 1-SE pick unchecked (as before)"
    )
    args = parser.parse_args()
    global NO_CHECK
    NO_CHECK = args.no_check

    from _common import Report, machine, revision
    from harness.baselines import baselines

    import harness

    report = Report("Nested CV: does each tabular baseline hold up? (`bench/nested_cv.py`)")
    known = {name for _, name in baselines()}
    columns = (
        "competition",
        "model",
        "CV ± SE (folds)",
        "local test public / private",
        f"nested {args.outer}-fold outer ± SE",
        "inner CV (outer-train)",
        "gap CV − outer",
        "tuned − defaults per outer fold: worst / mean (defaults kept; by the fresh-fold check)",
        "wall s",
    )
    rows = []
    for competition in args.competitions.split(","):
        comp, frame = raw_train(competition)
        home = tempfile.mkdtemp(prefix=f"bench-nested-{competition}-")
        harness.prepare(competition, home=home)
        sign = 1.0 if comp.metric.greater_is_better else -1.0
        runs = [(m, 1) for m in args.models.split(",") if m in known]
        runs += [(m, args.trials) for m in args.tuned.split(",") if m and m in known]
        for model, trials in runs:
            start = time.perf_counter()
            here = local(competition, model, home, trials)
            skip = model in args.no_inner.split(",")
            out = nested(
                comp, frame, model, outer=args.outer, trials=trials, seed=args.seed, inner=not skip
            )
            wall = time.perf_counter() - start
            promised = out["inner"] if out["inner"] is not None else here["cv"]
            label = model if trials == 1 else f"{model}, tuned {trials} trials"
            rows.append(
                (
                    competition,
                    label,
                    f"{here['cv']:.4f} ± {here['se']:.4f} ({here['folds']})",
                    f"{here['public']:.4f} / {here['private']:.4f}",
                    f"{out['outer']:.4f} ± {out['outer_se']:.4f}",
                    "-" if out["inner"] is None else f"{out['inner']:.4f}",
                    f"{sign * (promised - out['outer']):+.4f}",
                    "-"
                    if not out["versus"]
                    else f"{min(out['versus']):+.4f} / {np.mean(out['versus']):+.4f} "
                    f"({out['kept']} of {args.outer}; "
                    f"{out['checked'].count('defaults')} of {len(out['checked'])} checked)",
                    f"{wall:.0f}",
                )
            )
            report.console.print(rows[-1], markup=False)
    report.table(
        f"defaults (and --tuned models) on the local split and in nested CV, seed {args.seed}",
        columns,
        rows,
        right=[False, False, *([True] * (len(columns) - 2))],
    )
    report.note(f"{machine()}; {revision()}; tree {Path(harness.__file__).parents[1]}")
    report.save(args.md)


if __name__ == "__main__":
    main()
