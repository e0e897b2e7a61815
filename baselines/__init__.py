"""Baselines, per task kind, not per competition: a tabular baseline works on any tabular
competition from its declaration. Each baseline file reads like airbench: its defaults and its
search space at the top. ``baselines.tune`` is the Optuna core they share.

Three declarations make the registry, nothing is found by attribute name:

- a **kind** is a folder ``baselines/<kind>/`` whose ``__init__`` exports ``KIND =
  Kind(...)``: the tasks it serves, how it turns a competition's public data into
  :class:`~baselines.data.Data`, its default baseline (or a function choosing one by what the
  machine can run) and, optionally, names it resolves on demand (vision's
  ``timm:<architecture>``). Adding a kind is its folder plus one :class:`~harness.competition.
  Task` value.
- a **baseline** is one file in that folder that registers its ``build`` with :func:`register`
  (the kind, tasks and source file are filled in from where it is declared).
- a baseline scored on a held-out slice builds a :class:`HeldOutModel`.

Subpackages of a kind (vision's ``engine/``) are machinery, never scanned: they may import
torch at the top, baseline files may not (the core install has no torch; a baseline names what
it ``requires`` and the extra that installs it, and is listed, but refused with that hint,
until it is installed).
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import pkgutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from harness.competition import Competition, Task
from harness.errors import HarnessError, did_you_mean

if TYPE_CHECKING:
    import numpy as np
    import optuna
    from harness.baselines.data import Data

#: ``space(trial) -> params``: a define-by-run search space; ``optuna.trial.FixedTrial(
#: defaults)`` replays the defaults through the same function.
SpaceFn = Callable[["optuna.Trial"], dict[str, Any]]
#: ``complexity(params) -> float``: grows with a configuration's capacity to fit noise (leaves
#: per tree over rows per leaf, inverse regularisation); the one-standard-error rule of
#: :meth:`baselines.schemes.KFold.choose` submits the lowest among the near-best trials.
ComplexityFn = Callable[[dict[str, Any]], float]
#: ``build(params, competition, columns, seed, **options) -> estimator``: an sklearn-style
#: estimator for k-fold CV, or a :class:`HeldOutModel` for ``holdout`` baselines.
BuildFn = Callable[..., Any]


class HeldOutModel(Protocol):
    """What a ``holdout`` baseline builds: trained once on ``x[rows]``, it reports class
    probabilities on ``x[valid]`` after every epoch (``report(epoch, proba)``; Optuna prunes
    there) and predicts rows of the whole array (no copies: image sets live on the device)."""

    def fit(
        self,
        x: Any,
        y: np.ndarray,
        *,
        rows: np.ndarray | None = None,
        valid: np.ndarray | None = None,
        report: Callable[[int, np.ndarray], None] | None = None,
    ) -> Any: ...

    def predict_proba(self, x: Any, rows: np.ndarray | None = None) -> np.ndarray: ...


@dataclass(frozen=True)
class Kind:
    """A task kind, declared by ``baselines/<kind>/__init__.py`` as ``KIND``."""

    name: str  # the folder: "tabular", "text", "vision"
    tasks: frozenset[Task]
    load_data: Callable[[Competition, Any], Data]  # (competition, harness.load's data) -> Data
    #: the baseline without --model, or a choice by machine (and competition, when one is
    #: given): ``(competition | None) -> name`` or ``-> (name, why)``, why it applies here
    default: str | Callable[[Competition | None], str | tuple[str, str]]
    find: Callable[[str], Baseline | None] | None = None  # names resolved on demand

    def default_baseline(self, comp: Competition | None = None) -> str:
        return self.default_choice(comp)[0]

    def default_choice(self, comp: Competition | None = None) -> tuple[str, str]:
        """The default baseline here (for ``comp``, if given) and why: ``(name, reason)``."""
        if not callable(self.default):
            return self.default, f"the {self.name} default on every machine"
        chosen = self.default(comp)
        return chosen if isinstance(chosen, tuple) else (chosen, "chosen for this machine")


@dataclass(frozen=True)
class Baseline:
    name: str  # "gbm": submitted as "baseline/gbm" (defaults), "baseline/gbm@<study>" (tuned)
    kind: str  # the folder: "tabular", "vision", "text"
    tasks: frozenset[Task]
    defaults: dict[str, Any]
    space: SpaceFn
    build: BuildFn
    summary: str = ""
    source: Path | None = field(default=None, compare=False)  # logged with every run
    #: None: scored by k-fold CV (sklearn estimators). A fraction: one seeded held-out slice of
    #: public train, ``build`` giving a :class:`HeldOutModel`.
    holdout: float | None = None
    options: frozenset[str] = frozenset()  # run options ``build`` accepts (device, checkpoint…)
    requires: tuple[str, ...] = ()  # modules it imports when it runs: ("torch", "timm")
    extra: str | None = None  # the pip extra of harness that installs them: "vision"
    complexity: ComplexityFn | None = field(default=None, compare=False)  # for the 1-SE rule
    #: ``load_size(competition, settings, --image-size) -> side``: the image tensors to load
    #: when the network's input side is not the side loaded (None: ``--image-size`` itself).
    load_size: Callable[[Competition, Any, int | None], int | None] | None = field(
        default=None, compare=False
    )

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


def declare(
    name: str,
    build: BuildFn,
    *,
    module: str,
    defaults: dict[str, Any],
    space: SpaceFn,
    summary: str,
    holdout: float | None = None,
    options: frozenset[str] = frozenset(),
    requires: tuple[str, ...] = (),
    extra: str | None = None,
    complexity: ComplexityFn | None = None,
    load_size: Callable[[Competition, Any, int | None], int | None] | None = None,
) -> Baseline:
    """A :class:`Baseline` declared in ``module`` (``baselines.<kind>.<file>``): its kind and
    tasks are the folder's, its source the module's file."""
    kind = module.removeprefix(__name__ + ".").split(".")[0]
    declared_in = sys.modules[module]
    return Baseline(
        name=name,
        kind=kind,
        tasks=kind_of(kind).tasks,
        defaults=defaults,
        space=space,
        build=build,
        summary=summary,
        source=Path(declared_in.__file__) if declared_in.__file__ else None,
        holdout=holdout,
        options=options,
        requires=requires,
        extra=extra,
        complexity=complexity,
        load_size=load_size,
    )


_REGISTERED: dict[tuple[str, str], Baseline] = {}


def register(name: str, **declared: Any) -> Callable[[BuildFn], BuildFn]:
    """Register the decorated ``build`` as baseline ``name`` of the kind whose folder holds it
    (keywords as for :func:`declare`: defaults, space, summary, holdout, options…)."""

    def decorate(build: BuildFn) -> BuildFn:
        add(declare(name, build, module=declared.pop("module", build.__module__), **declared))
        return build

    return decorate


def add(baseline: Baseline) -> Baseline:
    """Register a baseline made by a factory (vision's :func:`~baselines.vision.
    image_baseline`, the Transformer presets)."""
    _REGISTERED[(baseline.kind, baseline.name)] = baseline
    return baseline


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


@functools.cache
def kinds() -> dict[str, Kind]:
    """Every kind: the subpackages of ``baselines`` that declare ``KIND``, by name."""
    found = {}
    for module in pkgutil.iter_modules(__path__):
        if module.ispkg:
            declared = getattr(importlib.import_module(f"{__name__}.{module.name}"), "KIND", None)
            if isinstance(declared, Kind):
                found[declared.name] = declared
    return found


def kind_of(name: str) -> Kind:
    kind = importlib.import_module(f"{__name__}.{name}").KIND
    assert isinstance(kind, Kind), f"baselines.{name} declares no KIND"
    return kind


@functools.cache
def baselines() -> dict[tuple[str, str], Baseline]:
    """Every registered baseline by (kind, name): each kind's baseline files are imported."""
    for kind in kinds().values():
        package = importlib.import_module(f"{__name__}.{kind.name}")
        for module in pkgutil.iter_modules(package.__path__):
            if not module.ispkg:  # machinery (vision's engine/) is not scanned
                importlib.import_module(f"{package.__name__}.{module.name}")
    return dict(_REGISTERED)


def for_competition(comp: Competition) -> dict[str, Baseline]:
    """The baselines that can enter ``comp``, by name."""
    return {b.name: b for b in baselines().values() if comp.task in b.tasks}


def default_for(comp: Competition) -> tuple[str, str] | None:
    """``comp``'s default baseline on this machine and why (None: no kind serves it)."""
    for kind in kinds().values():
        if comp.task in kind.tasks:
            return kind.default_choice(comp)
    return None


def get_baseline(comp: Competition, name: str | None = None) -> Baseline:
    """The baseline called ``name`` for ``comp`` (default: its kind's default)."""
    usable = for_competition(comp)
    if not usable:
        raise HarnessError(f"no baseline for {comp.task.value} competitions like '{comp.id}' yet")
    if name is None:
        name = next(k.default_baseline(comp) for k in kinds().values() if comp.task in k.tasks)
    if name not in usable:
        for kind in kinds().values():
            found = kind.find(name) if kind.find is not None else None
            if found is not None and comp.task in found.tasks:
                return found
        raise HarnessError(
            f"no baseline '{name}' for {comp.id}{did_you_mean(name, usable)}; "
            f"available: {', '.join(sorted(usable))}"
        )
    return usable[name]


def load_data(baseline: Baseline, comp: Competition, public: Any) -> Data:
    """``comp``'s public data as ``baseline``'s kind shapes it."""
    return kind_of(baseline.kind).load_data(comp, public)
