"""Tuning workers on several machines, one study: on a PostgreSQL Optuna storage, ``--trials
N`` is the *study's* total, and N trials finish however many workers share it — none lost,
none doubled. ``harness tune --jobs N`` on one machine runs its trials in N processes the same
way, claimed under a file lock beside the study's journal (:func:`optimize_claimed`): threads
share one interpreter lock, and a scikit-learn boosting fit spends half its time in Python.

Optuna's own cap (``MaxTrialsCallback``) is checked after a trial ends, so workers that start
at the same moment overshoot it. Here a worker claims each trial under a PostgreSQL advisory
lock (the count of live and finished trials, then ``study.ask``, as one step), runs it outside
the lock and tells the result. A failed trial frees its slot for another attempt; a pruned one
counts, as a finished trial.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Any

COUNTED = ("COMPLETE", "PRUNED", "RUNNING", "WAITING")


def is_shared(storage: Any) -> bool:
    """Whether ``storage`` is a PostgreSQL URL (the only storage this module coordinates)."""
    return isinstance(storage, str) and storage.startswith(("postgresql:", "postgresql+"))


def rdb_storage(url: str) -> Any:
    """Optuna's RDB storage on ``url``, made under an advisory lock: Optuna creates its tables
    and enum types on first use, and workers that start together would race to (PostgreSQL:
    "type studydirection already exists")."""
    import optuna

    from harness.files import advisory_lock

    with advisory_lock(url, "optuna-schema"):
        return optuna.storages.RDBStorage(url)


def optimize_shared(
    study: Any,
    objective: Callable[[Any], float],
    callback: Callable[[Any, Any], None],
    *,
    storage: str,
    trials: int,
    timeout: float | None,
    started: float,
) -> int:
    """Run trials until the study holds ``trials`` counted ones (or ``timeout`` passes);
    return how many this worker ran."""
    from harness.files import advisory_lock

    return optimize_claimed(
        study,
        objective,
        callback,
        claim=lambda: advisory_lock(storage, f"optuna-study\n{study.study_name}"),
        total=trials,
        timeout=timeout,
        started=started,
    )


def counted(study: Any) -> int:
    """The study's trials that count toward a total: finished, pruned, running or queued."""
    return sum(1 for t in study.get_trials(deepcopy=False) if t.state.name in COUNTED)


def optimize_claimed(
    study: Any,
    objective: Callable[[Any], float],
    callback: Callable[[Any, Any], None],
    *,
    claim: Callable[[], AbstractContextManager[Any]],
    total: int | None,
    timeout: float | None,
    started: float,
    check: Callable[[], None] | None = None,
) -> int:
    """Claim (under ``claim``, a lock every worker of the study takes), run and tell trials
    until the study holds ``total`` counted ones (None: no cap) or ``timeout`` passes since
    ``started``; return how many this worker ran. ``check`` runs before each claim (it raises
    to stop: another worker failed)."""
    import optuna

    ran = 0
    while timeout is None or time.monotonic() - started < timeout:
        if check is not None:
            check()
        trial = None
        try:
            with claim():
                if total is not None and counted(study) >= total:
                    break
                trial = study.ask()
            value = objective(trial)
        except optuna.TrialPruned:
            assert trial is not None
            frozen = study.tell(trial, state=optuna.trial.TrialState.PRUNED)
        except BaseException:  # Ctrl-C too: a trial left RUNNING would count forever
            if trial is not None:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            raise
        else:
            frozen = study.tell(trial, value)
        ran += 1
        callback(study, frozen)
    return ran
