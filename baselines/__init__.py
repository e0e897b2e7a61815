"""Baselines, per task kind, not per competition: a tabular baseline works on any tabular
competition from its declaration. Each baseline file reads like airbench: its defaults and its
search space at the top. ``baselines.tune`` is the Optuna core they share.

Registry: ``get_baseline(task, name)``; every module in ``baselines/<kind>/`` that defines
``BASELINE`` is registered.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.competition import Competition, Task
from harness.errors import HarnessError, did_you_mean

if TYPE_CHECKING:
    import optuna

#: ``space(trial) -> params``: a define-by-run search space; ``optuna.trial.FixedTrial(
#: defaults)`` replays the defaults through the same function.
SpaceFn = Callable[["optuna.Trial"], dict[str, Any]]


@dataclass(frozen=True)
class Baseline:
    name: str  # "gbm": submitted as participant "baseline/gbm"
    kind: str  # the folder: "tabular", "vision", "text"
    tasks: frozenset[Task]
    defaults: dict[str, Any]
    space: SpaceFn
    build: Callable[..., Any]  # (params, competition, seed) -> an unfitted estimator
    summary: str = ""
    source: Path | None = field(default=None, compare=False)  # logged with every run


KINDS = ("tabular", "text")


@functools.cache
def baselines() -> dict[tuple[str, str], Baseline]:
    found: dict[tuple[str, str], Baseline] = {}
    for kind in KINDS:
        package = importlib.import_module(f"baselines.{kind}")
        for module in pkgutil.iter_modules(package.__path__):
            loaded = importlib.import_module(f"baselines.{kind}.{module.name}")
            baseline = getattr(loaded, "BASELINE", None)
            if isinstance(baseline, Baseline):
                found[(kind, baseline.name)] = baseline
    return found


def for_competition(comp: Competition) -> dict[str, Baseline]:
    """The baselines that can enter ``comp``, by name."""
    return {b.name: b for b in baselines().values() if comp.task in b.tasks}


def get_baseline(comp: Competition, name: str | None = None) -> Baseline:
    """The baseline called ``name`` for ``comp`` (default: the first in DEFAULT_ORDER)."""
    usable = for_competition(comp)
    if not usable:
        raise HarnessError(f"no baseline for {comp.task.value} competitions like '{comp.id}' yet")
    if name is None:
        name = next(n for n in DEFAULT_ORDER if n in usable)
    if name not in usable:
        raise HarnessError(
            f"no baseline '{name}' for {comp.id}{did_you_mean(name, usable)}; "
            f"available: {', '.join(sorted(usable))}"
        )
    return usable[name]


#: `harness baseline <comp>` without --model takes the first of these that applies.
DEFAULT_ORDER = ("gbm", "tfidf-lr", "forest", "linear")
