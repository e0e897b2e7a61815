"""Find competitions by name: every package under ``competitions/`` plus the entry-point group
``harness.competitions``, so another distribution can add its own without touching this one::

    [project.entry-points."harness.competitions"]
    my-comp = "my_package.my_comp:COMPETITION"
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from importlib.metadata import entry_points

from harness.competition import Competition
from harness.errors import UnknownCompetition

ENTRY_POINT_GROUP = "harness.competitions"


@functools.cache
def competitions() -> dict[str, Competition]:
    """Every registered competition by id, in id order."""
    import competitions as package

    found: dict[str, Competition] = {}
    for module in pkgutil.iter_modules(package.__path__):
        if module.ispkg:
            _add(found, importlib.import_module(f"{package.__name__}.{module.name}").COMPETITION)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        loaded = ep.load()
        _add(found, getattr(loaded, "COMPETITION", loaded))
    return dict(sorted(found.items()))


def _add(found: dict[str, Competition], comp: object) -> None:
    if not isinstance(comp, Competition):
        raise TypeError(f"expected a Competition, got {type(comp).__name__}")
    if comp.id in found:
        raise ValueError(f"competition id '{comp.id}' is registered twice")
    found[comp.id] = comp


def get_competition(name: str) -> Competition:
    """The competition called ``name`` (any case; an underscore may stand for a dash)."""
    registered = competitions()
    key = name.strip().lower()
    comp = registered.get(key) or registered.get(key.replace("_", "-"))
    if comp is None:
        raise UnknownCompetition(name, registered)
    return comp
