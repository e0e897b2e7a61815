"""The Optuna core every baseline shares, shaped like Optuna's own ``Study.optimize``: resolve
the baseline and its settings, load the public data, optimise (a seeded TPE sampler with the
baseline's defaults as trial 0, median pruning, a scheme of :mod:`baselines.schemes` as the
objective, :mod:`baselines.tracking` writing every trial to MLflow), pick the winner (k-fold
schemes: the one-standard-error rule), then submit its test predictions through
:mod:`leaderboard.submit`: as participant ``baseline/<model>`` for the defaults, and
``baseline/<model>@<study>`` for a study's pick, so that both show on the board.

Studies resume: a journal file in HARNESS_HOME by default, any Optuna storage URL for many
workers. The private answers are never read here: the only data is the public files.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from harness.baselines import Baseline, get_baseline, load_data
from harness.baselines import tracking as track
from harness.baselines.cpu import CpuShare
from harness.baselines.data import Data
from harness.baselines.schemes import FOLDS, KFold, Scheme, scheme
from harness.baselines.tracking import Progress

from harness.competition import Competition
from harness.errors import HarnessError, Interrupted
from harness.settings import Settings

if TYPE_CHECKING:
    import optuna
    from harness.board.submit import SubmissionResult

__all__ = ["FOLDS", "Progress", "TuneResult", "study_storage", "tune"]


@dataclass(frozen=True)
class TuneResult:
    study: optuna.Study
    baseline: Baseline
    cv_score: float  # the submitted trial's (the 1-SE pick, not always the best)
    cv_std: float  # of its per-fold scores
    params: dict[str, Any]
    seconds: float
    submission: SubmissionResult | None
    cv_se: float = 0.0  # standard error of cv_score (std / √folds)
    trial: int = 0  # the submitted trial's number
    best_score: float = float("nan")  # the study's raw best, which the 1-SE rule may pass over
    #: The check of the study's pick against the defaults on fresh folds (KFold.confirmed):
    #: trial, folds, pick, defaults, gain, gain_se, kept ("pick" or "defaults"); None: none ran
    confirmation: dict[str, Any] | None = None

    @property
    def entry(self) -> Any:
        return None if self.submission is None else self.submission.entry


def tune(
    comp: Competition,
    settings: Settings,
    *,
    model: str | None = None,
    trials: int | None = 20,
    timeout: float | None = None,
    jobs: int = 1,
    threads: int | None = None,
    study_name: str | None = None,
    storage: str | None = None,
    seed: int = 0,
    folds: int = FOLDS,
    repeats: int | None = None,
    fixed: bool = False,
    submit: bool = True,
    progress: Callable[[Progress], None] | None = None,
    overrides: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
) -> TuneResult:
    """Tune ``model`` on ``comp`` (``fixed``: run its defaults once, no search).

    ``folds`` × ``repeats`` k-fold CV (``repeats`` None: 3 on fewer than 5,000 rows, else 1;
    see :mod:`baselines.schemes`).

    ``threads`` caps each trial's threads (default: the free cores // ``jobs``, measured
    before every trial, see :mod:`baselines.cpu`). ``overrides`` pin hyperparameters
    (``{"epochs": 5}``) in every trial; ``options`` are run settings the baseline declares
    (``device``, ``checkpoint``, ``image_size``…)."""
    from harness.board.runs import StudyRuns

    baseline, overrides, options, data, scorer = _scorer(
        comp,
        settings,
        model,
        overrides,
        options,
        seed=seed,
        folds=folds,
        repeats=repeats,
        share=CpuShare(jobs, threads),
    )
    study = _study(comp, settings, baseline, study_name, storage, seed, fixed)
    runs = StudyRuns(settings)
    parent = track.start(
        runs,
        comp,
        study,
        baseline,
        folds=len(scorer.splits),
        seed=seed,
        storage=storage or "journal (HARNESS_HOME)",
    )
    tracker = track.TrialTracker(
        runs, comp, parent, overrides, scorer.pruned_at, progress, trials, timeout, study
    )
    ctrl_c: list[int] = []  # a Ctrl-C may surface as another error (mid-write): still an interrupt
    running_before, since = _running(study), dt.datetime.now()  # Optuna's naive local time
    restore = _note_ctrl_c(ctrl_c)
    try:
        # On the journal, k-fold trials run in processes (the winner is refitted here); a
        # held-out scheme keeps its leader's test predictions in memory, so it keeps threads.
        if jobs > 1 and storage is None and not fixed and isinstance(scorer, KFold):
            spec = {
                "competition": comp.id,
                "settings": settings,
                "model": model,
                "overrides": overrides,
                "options": {k: v for k, v in options.items() if k != "settings"},
                "seed": seed,
                "folds": folds,
                "repeats": repeats,
                "threads": threads,
                "study": study.study_name,
                "parent": parent,
            }
            _optimize_in_processes(study, scorer, tracker, trials, timeout, jobs, spec)
        else:
            _optimize(study, scorer, tracker, trials, timeout, jobs, storage)
    except BaseException as exc:
        if not isinstance(exc, KeyboardInterrupt) and not ctrl_c:
            runs.end(parent, status="KILLED")
            raise
        # Ctrl-C may land mid-write (a trial's run, where a store error can wrap it); the study
        # run is then left RUNNING, which no view counts, rather than a second error hiding
        # what was kept.
        with contextlib.suppress(Exception):
            runs.end(parent, status="KILLED")
        _fail_orphans(study, running_before, since)
        raise Interrupted(_interrupted(study, tracker.finished, resumable=not fixed)) from None
    finally:
        restore()
    best = scorer.choose(study)
    if best is None:
        runs.end(parent, status="FAILED")
        raise HarnessError(
            f"study '{study.study_name}': no trial completed (all pruned or failed)"
        )
    params = scorer.best_params(best)
    confirmation = getattr(scorer, "confirmation", None)
    seconds = time.monotonic() - tracker.started
    with tempfile.TemporaryDirectory() as tmp:
        config = {
            "params": params,
            "seed": seed,
            "folds": len(scorer.splits),
            "trial": best.number,
            "cv_se": float(best.user_attrs.get("cv_se", 0.0)),
            "confirmation": confirmation,
        }
        artifacts = track.finish(
            runs, parent, Path(tmp), study, baseline, comp, config, float(best.values[0])
        )
        submission = (
            _submit(comp, settings, baseline, data, scorer, best, params, artifacts, study, fixed)
            if submit
            else None
        )
    return TuneResult(
        study=study,
        baseline=baseline,
        cv_score=float(best.values[0]),
        cv_std=float(best.user_attrs.get("cv_std", 0.0)),
        params=params,
        seconds=seconds,
        submission=submission,
        cv_se=float(best.user_attrs.get("cv_se", 0.0)),
        trial=best.number,
        best_score=float(study.best_value),
        confirmation=confirmation,
    )


def _scorer(
    comp: Competition,
    settings: Settings,
    model: str | None,
    overrides: dict[str, Any] | None,
    options: dict[str, Any] | None,
    *,
    seed: int,
    folds: int,
    repeats: int | None,
    share: CpuShare,
) -> tuple[Baseline, dict[str, Any], dict[str, Any], Data, Scheme]:
    """The baseline, its pinned hyperparameters and run options (checked), its data and the
    scheme that scores its trials: what a study's every process builds the same way."""
    from harness.data.loading import load

    baseline, overrides, options = _resolve(comp, settings, model, overrides, options)
    size = options.get("image_size")
    if baseline.load_size is not None:
        size = baseline.load_size(comp, settings, size)
    data = load_data(baseline, comp, load(comp, settings, size=size))
    scorer = scheme(
        baseline,
        comp,
        data,
        seed=seed,
        folds=folds,
        repeats=repeats,
        overrides=overrides,
        options=options,
        share=share,
    )
    return baseline, overrides, options, data, scorer


def _resolve(
    comp: Competition,
    settings: Settings,
    model: str | None,
    overrides: dict[str, Any] | None,
    options: dict[str, Any] | None,
) -> tuple[Baseline, dict[str, Any], dict[str, Any]]:
    """The baseline (installed), its pinned hyperparameters and its run options, checked."""
    baseline = get_baseline(comp, model)
    baseline.check_installed()
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    options = {k: v for k, v in (options or {}).items() if v is not None}
    if "progress" not in baseline.options:  # a line per epoch, for the models that have epochs
        options.pop("progress", None)
    for given, accepted in (
        (options, baseline.options | {"settings"}),
        (overrides, set(baseline.defaults)),
    ):  # refuse settings this baseline would ignore, naming them
        unknown = sorted(set(given) - accepted)
        if unknown:
            flags = ", ".join("--" + name.replace("_", "-") for name in unknown)
            verb = "does" if len(unknown) == 1 else "do"
            raise HarnessError(f"{flags} {verb} not apply to the {baseline.name} baseline")
    if "settings" in baseline.options:  # e.g. the ensemble, to find its members' studies
        options["settings"] = settings
    return baseline, overrides, options


def _study(
    comp: Competition,
    settings: Settings,
    baseline: Baseline,
    name: str | None,
    storage: str | None,
    seed: int,
    fixed: bool,
) -> optuna.Study:
    """The study, new or resumed, with the baseline's defaults queued as its first trial."""
    import optuna

    # A failed trial's error is raised by `optimize` itself; Optuna's own warning would print
    # its traceback a second time (and one for Ctrl-C).
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    maximize = comp.metric.greater_is_better
    study = optuna.create_study(
        study_name=name or f"{comp.id}-{baseline.name}" + ("-defaults" if fixed else ""),
        storage=None if fixed else study_storage(settings, comp, storage),
        direction="maximize" if maximize else "minimize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=_pruner(),
        load_if_exists=True,
    )
    with warnings.catch_warnings():  # experimental since Optuna 3.2, and stable in use
        warnings.simplefilter("ignore")
        study.set_metric_names([comp.metric.name])  # optuna-dashboard shows "accuracy"
    if not study.trials:
        study.enqueue_trial(baseline.defaults, skip_if_exists=True)
    return study


def _pruner() -> Any:
    import optuna

    return optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)


def _optimize_in_processes(
    study: optuna.Study,
    scorer: Scheme,
    tracker: track.TrialTracker,
    trials: int | None,
    timeout: float | None,
    jobs: int,
    spec: dict[str, Any],
) -> None:
    """``jobs`` processes on one journal study: this one and ``jobs - 1`` spawned workers
    (:func:`_worker`), each claiming its next trial under a file lock until the study holds
    this run's ``trials`` more (:func:`baselines.workers.optimize_claimed`). Threads would
    share one interpreter lock: on House Prices 2 threads kept 1.3 cores busy."""
    import multiprocessing
    import queue

    import optuna
    from harness.baselines.workers import counted, optimize_claimed

    waiting = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)))
    total = None if trials is None else counted(study) - waiting + trials
    tracker.share(study)
    context = multiprocessing.get_context("spawn")  # no fork of a process holding locks
    errors = context.Queue()
    workers = [
        context.Process(
            target=_worker,
            args=({**spec, "started": tracker.started}, i, total, timeout, errors),
            daemon=True,
        )
        for i in range(1, jobs)
    ]
    for worker in workers:
        worker.start()
    failed: list[str] = []

    def check() -> None:  # before each claim here, and at the end: a failed worker stops all
        with contextlib.suppress(queue.Empty):
            while True:
                failed.append(errors.get_nowait())
        dead = [w for w in workers if w.exitcode not in (0, None)]
        if failed or dead:
            reason = failed[0] if failed else f"exit code {dead[0].exitcode}"
            raise HarnessError(f"a tuning worker process failed: {reason}")

    ok = False
    try:
        optimize_claimed(
            study,
            scorer.objective,
            tracker,
            claim=_claim_lock(spec["settings"], spec["competition"]),
            total=total,
            timeout=timeout,
            started=tracker.started,
            check=check,
        )
        ok = True
    finally:
        _stop(workers, wait=ok)
    check()


def _running(study: Any) -> set[int]:
    import optuna

    running = (optuna.trial.TrialState.RUNNING,)
    return {t.number for t in study.get_trials(deepcopy=False, states=running)}


def _fail_orphans(study: Any, before: set[int], since: dt.datetime) -> None:
    """After an interrupt, when every process of this command has stopped: the trials it
    started that are still RUNNING (a Ctrl-C that landed inside Optuna's ask or tell, a worker
    killed at the last resort) are told failed, or they would count as running forever."""
    import optuna

    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        started = trial.datetime_start
        if trial.number not in before and started is not None and started >= since:
            with contextlib.suppress(Exception):  # told meanwhile: nothing left to do
                study.tell(trial.number, state=optuna.trial.TrialState.FAIL)


def _note_ctrl_c(noted: list[int]) -> Callable[[], None]:
    """Note each Ctrl-C in ``noted`` (then raise KeyboardInterrupt, as Python does) while
    tuning, where Python's own handler is set and this is the main thread; return what restores
    the handler."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    previous = signal.getsignal(signal.SIGINT)
    if previous is not signal.default_int_handler:  # ignored (nohup, `&`) or the host's own
        return lambda: None

    def note(signum: int, frame: Any) -> None:
        noted.append(signum)
        raise KeyboardInterrupt

    def restore() -> None:
        signal.signal(signal.SIGINT, previous)

    signal.signal(signal.SIGINT, note)
    return restore


def _stop(workers: list[Any], *, wait: bool) -> None:
    """Wait for the workers to finish their trials (``wait``), else interrupt them: each
    ends its running trial and claims no more; one still in its trial after 30 s is terminated
    (its SIGTERM handler tells the trial failed) and killed if even that takes 30 s more."""
    import os
    import signal

    for worker in workers:
        if not wait and worker.is_alive() and worker.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker.pid, signal.SIGINT)
    for worker in workers:
        worker.join(None if wait else 30)
        if worker.is_alive():
            worker.terminate()
            worker.join(30)
        if worker.is_alive():
            worker.kill()
            worker.join()


def _claim_lock(settings: Settings, competition: str) -> Callable[[], Any]:
    from harness.files import file_lock

    path = journal_path(settings, competition).with_suffix(".claims.lock")
    return lambda: file_lock(path)


def _worker(
    spec: dict[str, Any],
    index: int,
    total: int | None,
    timeout: float | None,
    errors: Any,
) -> None:
    """One spawned worker of :func:`_optimize_in_processes`: the same data, scheme and study
    as the parent, its own sampler seed, its trials tracked under the parent's MLflow run."""
    import signal

    stopping: list[int] = []

    def stop_after_this_trial(signum: int, frame: Any) -> None:
        stopping.append(signum)  # Ctrl-C, or the parent's _stop: end the trial, claim no more

    def check() -> None:
        if stopping:
            raise SystemExit(130)

    def fail_this_trial(signum: int, frame: Any) -> None:
        stopping.append(signum)  # the parent's last resort: the trial is told failed, not left
        raise SystemExit(130)  # RUNNING (optimize_claimed tells it on the way out)

    signal.signal(signal.SIGINT, stop_after_this_trial)
    signal.signal(signal.SIGTERM, fail_this_trial)
    try:
        import optuna
        from harness.baselines.workers import optimize_claimed
        from harness.board.runs import StudyRuns

        from harness.registry import get_competition

        optuna.logging.set_verbosity(optuna.logging.ERROR)
        settings: Settings = spec["settings"]
        comp = get_competition(spec["competition"])
        _, overrides, _, _, scorer = _scorer(
            comp,
            settings,
            spec["model"],
            spec["overrides"],
            spec["options"],
            seed=spec["seed"],
            folds=spec["folds"],
            repeats=spec["repeats"],
            share=CpuShare(1, spec["threads"]),
        )
        study = optuna.load_study(
            study_name=spec["study"],
            storage=study_storage(settings, comp, None),
            sampler=optuna.samplers.TPESampler(seed=spec["seed"] + index),  # not the same picks
            pruner=_pruner(),
        )
        tracker = track.TrialTracker(
            StudyRuns(settings),
            comp,
            spec["parent"],
            overrides,
            scorer.pruned_at,
            None,
            None,
            timeout,
            study,
        )
        optimize_claimed(
            study,
            scorer.objective,
            tracker,
            claim=_claim_lock(settings, comp.id),
            total=total,
            timeout=timeout,
            started=spec["started"],  # the parent's: one machine, one monotonic clock
            check=check,
        )
    except (KeyboardInterrupt, SystemExit):
        raise SystemExit(130 if stopping else 0) from None
    except BaseException as exc:
        errors.put(str(exc) or type(exc).__name__)
        raise SystemExit(1) from None


def _optimize(
    study: optuna.Study,
    scorer: Scheme,
    tracker: track.TrialTracker,
    trials: int | None,
    timeout: float | None,
    jobs: int,
    storage: str | None = None,
) -> None:
    import optuna
    from harness.baselines.workers import is_shared, optimize_shared

    if trials is not None and is_shared(storage):  # --trials is the shared study's total
        assert storage is not None
        optimize_shared(
            study,
            scorer.objective,
            tracker,
            storage=storage,
            trials=trials,
            timeout=timeout,
            started=tracker.started,
        )
        return

    # Enqueued trials run one at a time first: two threads can otherwise both pop the same
    # waiting trial from an RDB storage (SQLite has no row locks) and one fails to `tell` it.
    waiting = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)))
    first = 0 if jobs == 1 else waiting if trials is None else min(waiting, trials)
    if first:
        study.optimize(scorer.objective, n_trials=first, timeout=timeout, callbacks=[tracker])
    left = None if trials is None else trials - first
    if left is None or left > 0:
        spent = time.monotonic() - tracker.started
        remaining = None if timeout is None else max(0.0, timeout - spent)
        study.optimize(
            scorer.objective, n_trials=left, timeout=remaining, n_jobs=jobs, callbacks=[tracker]
        )


def study_storage(settings: Settings, comp: Competition, storage: str | None) -> Any:
    """Any Optuna storage URL; by default an append-only journal file in HARNESS_HOME, which
    several processes on one machine can share (SQLite is for one machine too, and slower)."""
    import optuna
    from harness.baselines.workers import is_shared, rdb_storage

    if storage and is_shared(storage):  # workers starting at once must not race the schema
        return rdb_storage(storage)
    if storage:
        return storage
    path = journal_path(settings, comp.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    from optuna.storages.journal import JournalFileBackend

    return optuna.storages.JournalStorage(JournalFileBackend(str(path)))


def journal_path(settings: Settings, competition: str) -> Path:
    """The default study storage's file: one journal per competition in HARNESS_HOME."""
    return settings.optuna_journal(competition)


def _interrupted(study: optuna.Study, done: int, *, resumable: bool) -> str:
    import optuna

    if not resumable:
        return "interrupted: nothing was submitted"
    states = [t.state for t in study.get_trials(deepcopy=False)]
    complete = states.count(optuna.trial.TrialState.COMPLETE)
    pruned = states.count(optuna.trial.TrialState.PRUNED)
    return (
        f"interrupted: {done} trial{'s' if done != 1 else ''} finished in this run; study "
        f"'{study.study_name}' keeps {complete} complete and {pruned} pruned. Run the same "
        "command again to continue it (a study of the same name resumes)."
    )


def _submit(
    comp: Competition,
    settings: Settings,
    baseline: Baseline,
    data: Data,
    scorer: Scheme,
    best: optuna.trial.FrozenTrial,
    params: dict[str, Any],
    artifacts: list[Path],
    study: optuna.Study,
    fixed: bool,
) -> SubmissionResult:
    """The winner's test predictions as ``baseline/<model>``'s submission (a fixed run of the
    defaults) or ``baseline/<model>@<study>``'s (a study's pick), CV score beside."""
    import pandas as pd
    from harness.board.submit import submit

    predictions = scorer.test_predictions(best)
    if data.labels is not None:
        predictions = np.asarray(data.labels, dtype=object)[np.asarray(predictions, dtype=int)]
    frame = pd.DataFrame({comp.id_column: data.test_ids, comp.target_columns[0]: predictions})
    score, trials = float(best.values[0]), len(study.trials)
    se = float(best.user_attrs.get("cv_se", 0.0))
    what = f"{trials} trial{'s' if trials > 1 else ''}, trial {best.number} submitted"
    check = getattr(scorer, "confirmation", None)
    if check and check["kept"] == "defaults":
        what += f"; trial {check['trial']} no better on fresh folds"
    return submit(
        comp,
        settings,
        frame,
        message=f"{baseline.name}: CV {score:.5f} ± {se:.5f} SE ({what})",
        participant=participant(baseline, study, fixed=fixed),
        kind="baseline",
        params={**params, **track.recorded(best)},
        metrics={
            "cv_score": score,
            "cv_std": float(best.user_attrs.get("cv_std", 0.0)),
            "cv_se": se,
            **{k: float(v) for k, v in best.user_attrs.items() if k == "train_seconds"},
        },
        artifacts=artifacts,
    )


#: What a participant name may hold (leaderboard.submit's alphabet); anything else becomes "-".
_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 ._-/@+:")


def participant(baseline: Baseline, study: optuna.Study, *, fixed: bool) -> str:
    """``baseline/gbm`` for the defaults, ``baseline/gbm@<study>`` for a study's pick: distinct
    entries, so a tuned model never hides behind the default one (the board keeps each
    participant's best public entry)."""
    name = f"baseline/{baseline.name}"
    if fixed:
        return name
    study_name = "".join(c if c in _NAME_OK else "-" for c in study.study_name)
    return f"{name}@{study_name}"[:64]
