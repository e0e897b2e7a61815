"""A tuning study in MLflow and on the terminal: :func:`start` opens the study's parent run,
:class:`TrialTracker` (an Optuna callback) writes each finished trial as a nested run and a
:class:`Progress` line, :func:`finish` closes the parent with the best score, the config that
reproduces it, the baseline's source and Optuna's plots.
"""

from __future__ import annotations

import json
import os
import threading
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.board.runs import StudyRuns
from harness.board.schema import MODEL_TAG, PRUNED_AT_TAG, STATE_TAG, STUDY_TAG, TRIAL_TAG

from harness.competition import Competition

if TYPE_CHECKING:
    import optuna
    from harness.baselines import Baseline


@dataclass(frozen=True)
class Progress:
    """What the per-trial progress line shows."""

    trial: int  # trials finished in this run (1-based)
    trials: int | None  # planned in this run
    value: float | None  # a complete trial's score; None when pruned or failed
    state: str  # "complete", "pruned", "fail"
    best: float  # the best complete trial's score so far (never falls); nan before one
    best_trial: int
    elapsed: float  # seconds since this run started
    timeout: float | None
    number: int = -1  # the trial's number in the study
    pruned_at: str | None = None  # "fold 2 of 5", "epoch 3": where a pruned trial stopped
    threads: int = 1  # the threads this trial could use


#: The prefix of a trial's user attributes that say how its model ran (weight file and sha256,
#: precision, micro-batch, time budget): logged as MLflow params of its run and its entry.
RECORD = "record."


def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    """The best COMPLETE trial (a pruned trial's partial value never counts), or None."""
    import optuna

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    return study.best_trial if complete else None


def start(
    runs: StudyRuns, comp: Competition, study: optuna.Study, baseline: Baseline, **params: Any
) -> str:
    """The study's parent run (RUNNING until :func:`finish`)."""
    name = study.study_name
    return runs.start(
        comp,
        name=f"study {name}",
        tags={STUDY_TAG: name, MODEL_TAG: baseline.name},
        params={"model": baseline.name, **params},
    )


def finish(
    runs: StudyRuns,
    parent: str,
    folder: Path,
    study: optuna.Study,
    baseline: Baseline,
    comp: Competition,
    config: dict[str, Any],
    best_score: float,
) -> list[Path]:
    """Close the parent run with the best score and its artifacts (written to ``folder``, which
    must outlive the submission that logs them too); return the artifacts."""
    artifacts = _artifacts(folder, study, baseline, comp, config)
    runs.end(
        parent,
        metrics={"best_cv_score": best_score, "trials": len(study.trials)},
        artifacts=artifacts,
    )
    return artifacts


class TrialTracker:
    """An Optuna callback: every finished trial becomes a nested MLflow run under the study's
    run, and a progress line. Only a COMPLETE trial has a score: a pruned one keeps Optuna's
    partial value as ``pruned_score`` (never ``cv_score``) on a KILLED run, so sorting trials by
    score in MLflow is honest, and the best shown never falls."""

    def __init__(
        self,
        runs: StudyRuns,
        comp: Competition,
        parent: str,
        overrides: dict[str, Any],
        pruned_at: Callable[[int], str],  # a pruned trial's last step as "fold 2 of 5"
        progress: Callable[[Progress], None] | None,
        trials: int | None,
        timeout: float | None,
        study: optuna.Study,
    ) -> None:
        self.runs, self.comp, self.parent, self.overrides = runs, comp, parent, overrides
        self.describe_step, self.progress = pruned_at, progress
        self.trials, self.timeout = trials, timeout
        self.started = time.monotonic()
        self.done = 0
        self._lock = threading.Lock()  # --jobs: callbacks run in the trials' threads
        leader = best_trial(study)  # a resumed study starts from its best so far
        self.best = (float(leader.values[0]), leader.number) if leader is not None else None
        self._shared: tuple[optuna.Study, int] | None = None

    @property
    def finished(self) -> int:
        """Trials finished in this run: this process's, or every process's once shared."""
        if self._shared is None:
            return self.done
        study, before = self._shared
        return _finished(study) - before

    def share(self, study: optuna.Study) -> None:
        """Other processes run trials of ``study`` too: the progress line counts and ranks
        every trial finished in it since now, not only this process's."""
        self._shared = (study, _finished(study))

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        import optuna

        state = trial.state
        complete = state is optuna.trial.TrialState.COMPLETE
        pruned = state is optuna.trial.TrialState.PRUNED
        metrics = {"duration_s": trial.duration.total_seconds() if trial.duration else 0.0}
        tags = {TRIAL_TAG: str(trial.number), STATE_TAG: state.name}
        if complete and trial.value is not None:
            metrics["cv_score"] = trial.value
            metrics["cv_std"] = trial.user_attrs.get("cv_std", 0.0)
        pruned_at = self._pruned_at(trial) if pruned else None
        if pruned_at is not None:
            tags[PRUNED_AT_TAG] = pruned_at
            if trial.value is not None:  # the mean of the folds (or the epoch) it ran
                metrics["pruned_score"] = trial.value
        if "train_seconds" in trial.user_attrs:
            metrics["train_seconds"] = trial.user_attrs["train_seconds"]
        start = trial.datetime_start.timestamp() if trial.datetime_start else time.time()
        end = trial.datetime_complete.timestamp() if trial.datetime_complete else time.time()
        self.runs.child(
            self.comp,
            self.parent,
            name=f"trial {trial.number}",
            params={**trial.params, **self.overrides, **recorded(trial)},
            metrics=metrics,
            tags=tags,
            start_ms=int(start * 1000),
            end_ms=int(end * 1000),
            status="FINISHED" if complete else "KILLED" if pruned else "FAILED",
        )
        with self._lock:
            self.done += 1
            value = trial.value if complete else None
            if value is not None and (
                self.best is None or self.comp.metric.is_better(value, self.best[0])
            ):
                self.best = (value, trial.number)
            if self.progress is None:
                return
            shown = self.done
            if self._shared is not None:
                shared, before = self._shared
                shown = _finished(shared) - before
                leader = best_trial(shared)
                if leader is not None:
                    self.best = (float(leader.values[0]), leader.number)
            self.progress(
                Progress(
                    trial=shown,
                    trials=self.trials,
                    value=value,
                    state=state.name.lower(),
                    best=float("nan") if self.best is None else self.best[0],
                    best_trial=-1 if self.best is None else self.best[1],
                    elapsed=time.monotonic() - self.started,
                    timeout=self.timeout,
                    number=trial.number,
                    pruned_at=pruned_at,
                    threads=int(trial.user_attrs.get("threads", 1)),
                )
            )

    def _pruned_at(self, trial: optuna.trial.FrozenTrial) -> str | None:
        return None if trial.last_step is None else self.describe_step(trial.last_step)


def recorded(trial: optuna.trial.FrozenTrial) -> dict[str, Any]:
    """How the trial's model ran (:data:`RECORD` attributes), by name."""
    return {k[len(RECORD) :]: v for k, v in trial.user_attrs.items() if k.startswith(RECORD)}


def _finished(study: optuna.Study) -> int:
    import optuna

    done = (
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.PRUNED,
        optuna.trial.TrialState.FAIL,
    )
    return len(study.get_trials(deepcopy=False, states=done))


def _artifacts(
    folder: Path,
    study: optuna.Study,
    baseline: Baseline,
    comp: Competition,
    config: dict[str, Any],
) -> list[Path]:
    """The config and source that reproduce the entry, and Optuna's plots as images."""
    path = folder / "config.json"
    path.write_text(
        json.dumps(
            {"competition": comp.id, "model": baseline.name, **config, "study": study.study_name},
            indent=1,
        )
    )
    paths = [path]
    if baseline.source is not None:
        paths.append(baseline.source)
    paths += _plots(folder, study)
    return paths


def _plots(folder: Path, study: optuna.Study) -> list[Path]:
    os.environ.setdefault("MPLBACKEND", "Agg")

    import matplotlib.pyplot as plt
    from optuna.visualization import matplotlib as vis

    made = []
    for name, draw in (
        ("optimization_history.png", vis.plot_optimization_history),
        ("param_importances.png", vis.plot_param_importances),
    ):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                draw(study)
            plt.gcf().savefig(folder / name, dpi=80, bbox_inches="tight")
            made.append(folder / name)
        except (ValueError, RuntimeError):  # e.g. importances need two finished trials
            pass
        finally:
            plt.close("all")
    return made
