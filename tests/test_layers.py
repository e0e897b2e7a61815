"""The architecture, checked: every module belongs to one floor, imports only from its own floor
or the ones below (lazy imports inside functions count; ``if TYPE_CHECKING:`` blocks, which
only name types, do not), and no chain of imports loops back to where it started.

    base          harness.competition, metrics, errors, settings, files, sandbox
    data          harness.data.*          (prepare, read, validate, score)
    competitions  competitions.*          (declarations and their prepare functions)
    catalog       harness.registry        (finds competitions, built in and from other packages)
    leaderboard   leaderboard.*           (record, read, rank; a study's runs)
    baselines     baselines.*             (models, kinds, the tuner)
    authoring     harness.authoring.*     (create from a folder; other platforms' bundles)
    roof          harness (the package), harness.api, harness.cli, harness.mlflow_ui
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("harness", "competitions", "leaderboard", "baselines")
FLOORS: list[tuple[str, tuple[str, ...]]] = [
    (
        "base",
        (
            "harness.competition",
            "harness.metrics",
            "harness.errors",
            "harness.settings",
            "harness.files",
            "harness.sandbox",
        ),
    ),
    ("data", ("harness.data",)),
    ("competitions", ("harness.competitions",)),
    ("catalog", ("harness.registry",)),
    ("leaderboard", ("harness.board",)),
    ("baselines", ("harness.baselines",)),
    ("authoring", ("harness.authoring",)),
    ("roof", ("harness.api", "harness.cli", "harness.mlflow_ui", "harness")),
]


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            # installed inside harness (setup.py): harness.board, harness.baselines, …
            inside = name.replace("leaderboard", "board", 1)
            found[name if package == "harness" else f"harness.{inside}"] = path
    return found


MODULES = _modules()


def _floor(module: str) -> int:
    best, level = -1, -1
    for index, (_, prefixes) in enumerate(FLOORS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best:
                best, level = len(prefix), index
    assert level >= 0, f"{module} belongs to no floor: add it to FLOORS"
    return level


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(name: str, path: Path) -> set[str]:
    """The project modules ``name`` imports, anywhere in it but type-checking blocks."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in MODULES else base)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return {m for m in found if m in MODULES and m != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def test_every_module_has_a_floor() -> None:
    for name in MODULES:
        _floor(name)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_imports_from_a_floor_above_it(name: str) -> None:
    mine = _floor(name)
    upward = sorted(m for m in GRAPH[name] if _floor(m) > mine)
    assert upward == [], f"{name} ({FLOORS[mine][0]}) imports from above: " + ", ".join(
        f"{m} ({FLOORS[_floor(m)][0]})" for m in upward
    )


def test_no_import_loops() -> None:
    loops: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def walk(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(GRAPH[node]):
            if state.get(nxt) == 1:
                loops.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                walk(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(GRAPH):
        if node not in state:
            walk(node)
    assert loops == [], "import loops: " + "; ".join(" -> ".join(loop) for loop in loops)


def test_the_checker_sees_lazy_imports_and_skips_type_only_ones() -> None:
    assert "harness.board.submit" in GRAPH["harness.baselines.tune"]  # inside _submit
    assert "harness.board.submit" not in GRAPH["harness.api"] or _floor("harness.api") == 6
    assert "harness.data.loading" not in GRAPH["harness.baselines.vision"]  # TYPE_CHECKING


#: The front doors (DESIGN.md, "The hall"): the notebook API, the CLI, the HTTP API and the
#: pages, with the hosted participant's client. They reach the leaderboard through the board
#: service only (and the schema's names, such as ``KEEP``).
DOORS = ("harness", "harness.api", "harness.cli", "harness.client", "harness.server")
HALL = {"harness.board.service", "harness.board.schema"}


def _is_door(module: str) -> bool:
    if module.startswith(("harness.board", "harness.baselines", "harness.competitions")):
        return False
    return module == "harness" or any(
        module == d or module.startswith(d + ".") for d in DOORS if d != "harness"
    )


def test_the_front_doors_call_only_the_board_service() -> None:
    reached = {
        door: sorted(m for m in GRAPH[door] if m.startswith("harness.board") and m not in HALL)
        for door in MODULES
        if _is_door(door)
    }
    assert {d: m for d, m in reached.items() if m} == {}
    used = {m for door in MODULES if _is_door(door) for m in GRAPH[door]}
    assert len({m for m in used if m.startswith("harness.board")}) <= 2
