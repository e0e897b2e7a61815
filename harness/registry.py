"""Find competitions by name: every package under ``competitions/`` plus the entry-point group
``harness.competitions``, so another distribution can add its own without touching this one::

    [project.entry-points."harness.competitions"]
    my-comp = "my_package.my_comp:COMPETITION"

A built-in competition that fails to import is a bug in this repository and raises. An entry
point that fails (it does not import, is not a :class:`Competition`, or repeats an id already
registered) is someone else's package: it is skipped with one ``warning: …`` line on stderr per
process, so every other competition keeps working; :func:`skipped_entry_points` lists them.

A third source is the data home: the competitions a host made from a folder of files
(`harness create`, :mod:`harness.competitions.folder`), in ``HARNESS_HOME/competitions/``. They
are read on every call (a competition created meanwhile is found), and one that repeats an id
already registered is skipped with a warning, as an entry point is.
"""

from __future__ import annotations

import functools
import importlib
import os
import pkgutil
import sys
from importlib.metadata import EntryPoint, entry_points

from harness.competition import Competition
from harness.errors import UnknownCompetition

ENTRY_POINT_GROUP = "harness.competitions"

_skipped: dict[str, str] = {}  # entry point -> why it was skipped, each reported once
_repeated: set[str] = set()  # created competitions skipped for a repeated id, reported once


def competitions(home: str | os.PathLike[str] | None = None) -> dict[str, Competition]:
    """Every registered competition by id, in id order: the built-in ones, other packages'
    and those created in ``home`` (default ``HARNESS_HOME``)."""
    from harness.competitions.folder import created
    from harness.settings import Settings

    found = dict(_installed())
    for comp in created(Settings.resolve(home).home):
        if comp.id in found:
            where = f"{comp.embedded_raw.parent if comp.embedded_raw else comp.id}"
            if where not in _repeated:
                _repeated.add(where)
                print(
                    f"warning: the competition created in {where} repeats the id '{comp.id}' "
                    "of one already registered; skipped",
                    file=sys.stderr,
                )
            continue
        found[comp.id] = comp
    return dict(sorted(found.items()))


@functools.cache
def _installed() -> dict[str, Competition]:
    """The built-in competitions and other packages' (read once per process)."""
    import harness.competitions as package

    found: dict[str, Competition] = {}
    for module in pkgutil.iter_modules(package.__path__):
        if module.ispkg:
            _add(found, importlib.import_module(f"{package.__name__}.{module.name}").COMPETITION)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        try:
            loaded = ep.load()
            _add(found, getattr(loaded, "COMPETITION", loaded))
        except Exception as exc:  # any failure of another package's code, SyntaxError too
            _skip(ep, exc)
    return dict(sorted(found.items()))


competitions.cache_clear = _installed.cache_clear  # type: ignore[attr-defined]


def skipped_entry_points() -> dict[str, str]:
    """The entry points :func:`competitions` skipped (``'name = module:attr'``) and why."""
    _installed()
    return dict(_skipped)


def _add(found: dict[str, Competition], comp: object) -> None:
    if not isinstance(comp, Competition):
        raise TypeError(f"expected a Competition, got {type(comp).__name__}")
    if comp.id in found:
        raise ValueError(f"competition id '{comp.id}' is registered twice")
    found[comp.id] = comp


def _skip(ep: EntryPoint, exc: Exception) -> None:
    where = f"{ep.name} = {ep.value}"
    dist = getattr(ep, "dist", None)
    source = f" (from {dist.name} {dist.version})" if dist is not None else ""
    why = " ".join(f"{type(exc).__name__}: {exc}".split())  # one line, whatever the message
    if where not in _skipped:
        print(
            f"warning: competition entry point '{where}'{source} failed to load: {why}; skipped",
            file=sys.stderr,
        )
    _skipped[where] = why


def get_competition(name: str, home: str | os.PathLike[str] | None = None) -> Competition:
    """The competition called ``name`` (any case; an underscore may stand for a dash), among
    those of :func:`competitions` (``home``: where created ones are)."""
    registered = competitions(home)
    key = name.strip().lower()
    comp = registered.get(key) or registered.get(key.replace("_", "-"))
    if comp is None:
        raise UnknownCompetition(name, registered)
    return comp
