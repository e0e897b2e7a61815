"""Baselines, per task kind, not per competition: a tabular baseline works on any tabular
competition from its declaration. Each baseline file reads like airbench: its defaults and its
search space at the top. ``baselines.tune`` is the Optuna core they share.

Registry: ``get_baseline(comp, name)``; every module file directly in ``baselines/<kind>/``
that defines ``BASELINE`` (or a list ``BASELINES``) is registered; a kind may also resolve names
on demand (``find(name)``: vision's ``timm:<architecture>``). Subpackages of a kind (vision's
``engine/``) are machinery, never scanned: they may import torch at the top, baseline files
may not (the core install has no torch; a baseline names what it ``requires`` and the extra
that installs it, and is listed, but refused with that hint, until it is installed).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
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
    build: Callable[..., Any]  # (params, competition, columns, seed, **options) -> estimator
    summary: str = ""
    source: Path | None = field(default=None, compare=False)  # logged with every run
    #: None: scored by k-fold CV (sklearn estimators). A fraction: one seeded held-out slice of
    #: public train, the model reporting per epoch (``fit(x, y, rows=, valid=, report=)``,
    #: ``predict_proba(x, rows=)``).
    holdout: float | None = None
    options: frozenset[str] = frozenset()  # run options ``build`` accepts (device, checkpoint…)
    requires: tuple[str, ...] = ()  # modules it imports when it runs: ("torch", "timm")
    extra: str | None = None  # the pip extra of harness that installs them: "vision"

    def missing(self) -> list[str]:
        """The modules in ``requires`` that this environment cannot import."""
        return [name for name in self.requires if not importable(name)]

    def check_installed(self) -> None:
        """Raise a :class:`HarnessError` naming what to install, if anything is missing."""
        missing = self.missing()
        if missing:
            raise HarnessError(
                f"the {self.name} baseline needs {', '.join(missing)}: {install_hint(self.extra)}"
            )


def importable(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def install_hint(extra: str | None) -> str:
    """The pip command that installs ``extra``: ``pip install -e '.[vision]'`` in a checkout
    (how the README installs harness), else ``pip install 'harness[vision]'``."""
    what = f"[{extra}]" if extra else ""
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file():  # an editable install from a checkout
        where = "." if Path.cwd() == checkout else str(checkout)
        return f"pip install -e '{where}{what}'"
    return f"pip install 'harness{what}'"


KINDS = ("tabular", "text", "vision")


@functools.cache
def baselines() -> dict[tuple[str, str], Baseline]:
    found: dict[tuple[str, str], Baseline] = {}
    for kind in KINDS:
        package = importlib.import_module(f"baselines.{kind}")
        for module in pkgutil.iter_modules(package.__path__):
            if module.ispkg:  # machinery (vision's engine/), not baseline files
                continue
            loaded = importlib.import_module(f"baselines.{kind}.{module.name}")
            declared = [getattr(loaded, "BASELINE", None), *getattr(loaded, "BASELINES", [])]
            for baseline in declared:
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
        name = _default(comp, usable)
    if name not in usable:
        for kind in KINDS:
            find = getattr(importlib.import_module(f"baselines.{kind}"), "find", None)
            found = find(name) if find is not None else None
            if found is not None and comp.task in found.tasks:
                return found
        raise HarnessError(
            f"no baseline '{name}' for {comp.id}{did_you_mean(name, usable)}; "
            f"available: {', '.join(sorted(usable))}"
        )
    return usable[name]


def _default(comp: Competition, usable: dict[str, Baseline]) -> str:
    """The default of the kind that serves ``comp`` (:func:`kind_default`)."""
    for kind in KINDS:
        if comp.task in importlib.import_module(f"baselines.{kind}").TASKS:
            chosen = kind_default(kind)
            if chosen in usable:
                return chosen
    return next(n for n in DEFAULT_ORDER if n in usable)


def kind_default(kind: str) -> str:
    """The baseline a competition of this kind gets without ``--model`` on this machine: the
    kind's own choice by what the machine can run (``default()``: text takes the ensemble on a
    GPU), otherwise its first baseline in DEFAULT_ORDER."""
    choose = getattr(importlib.import_module(f"baselines.{kind}"), "default", None)
    if choose is not None:
        return str(choose())
    return next(n for n in DEFAULT_ORDER if (kind, n) in baselines())


#: `harness baseline <comp>` without --model takes the first of these that applies.
DEFAULT_ORDER = ("gbm", "tfidf-lr", "airnet", "forest", "linear")
