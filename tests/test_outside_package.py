"""A competition from another distribution, found through the ``harness.competitions``
entry-point group exactly as pip installs it (a package plus its ``*.dist-info``), used through
the real CLI in a subprocess; and entry points that fail to load, skipped with one warning.

The package is README's "Writing a competition" example, taken from README.md itself (its
``pyproject.toml`` and ``club_comp/__init__.py``), so this file proves the README.
"""

from __future__ import annotations

import csv
import os
import random
import re
import subprocess
import sys
import tomllib
import types
from collections.abc import Callable
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

import harness.registry as registry

README = Path(__file__).parents[1] / "README.md"
BROKEN_MODULE = "harness_test_module_that_is_not_installed"
BROKEN_WARNING = (
    "warning: competition entry point 'broken-comp = broken_comp:COMPETITION'"
    " (from broken-comp 0.1) failed to load: ModuleNotFoundError: No module named"
    f" '{BROKEN_MODULE}'; skipped"
)
FEATURES = ("member_id", "age", "plan", "visits", "years")


def _readme_block(marker: str, language: str) -> str:
    """The fenced ``language`` block that follows ``marker`` in README.md."""
    text = README.read_text(encoding="utf-8")
    found = re.search(re.escape(marker) + rf"\s*```{language}\n(.*?)```", text, re.DOTALL)
    assert found, f"README.md has no ```{language} block after {marker}"
    return found.group(1)


def _install(site: Path, name: str, version: str, package: str, code: str, points: dict) -> None:
    """What pip leaves in site-packages: the package and its dist-info with the entry points."""
    (site / package).mkdir(parents=True)
    (site / package / "__init__.py").write_text(code, encoding="utf-8")
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n", encoding="utf-8"
    )
    lines = "".join(f"{key} = {value}\n" for key, value in points.items())
    (info / "entry_points.txt").write_text(f"[{registry.ENTRY_POINT_GROUP}]\n{lines}")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """README's club_comp, installed the way pip would from README's pyproject.toml."""
    site = tmp_path_factory.mktemp("site")
    project = tomllib.loads(_readme_block("`pyproject.toml`:", "toml"))["project"]
    points = project["entry-points"][registry.ENTRY_POINT_GROUP]
    assert points == {"club-churn": "club_comp:COMPETITION"}
    code = _readme_block("<!-- example: club_comp -->", "python")
    _install(site, project["name"], project["version"], "club_comp", code, points)
    return site


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second installed package whose competition imports a module nobody installed."""
    site = tmp_path_factory.mktemp("broken-site")
    code = f"import {BROKEN_MODULE}\n"
    points = {"broken-comp": "broken_comp:COMPETITION"}
    _install(site, "broken-comp", "0.1", "broken_comp", code, points)
    return site


def _raw(folder: Path, *, drop_label: bool = False, stray_label: bool = False) -> Path:
    """The teacher's raw files: 60 labelled members, 40 test members, their labels apart."""
    rng = random.Random(0)
    rows = []
    for member in range(1, 101):
        visits, years = rng.randint(0, 20), rng.randint(0, 15)
        left = int(visits + years / 2 + rng.gauss(0, 3) < 9)
        plan = rng.choice(["basic", "family", "premium"])
        rows.append({"member_id": member, "age": rng.randint(18, 80), "plan": plan,
                     "visits": visits, "years": years, "left": left})  # fmt: skip
    train, test = rows[:60], rows[60:]
    labels = [{"member_id": r["member_id"], "left": r["left"]} for r in test]
    if drop_label:
        labels = [r for r in labels if r["member_id"] not in (64, 77)]
    if stray_label:
        labels.append({"member_id": 999, "left": 1})
    folder.mkdir(parents=True)
    for name, table, columns in (
        ("train.csv", train, (*FEATURES, "left")),
        ("test.csv", test, FEATURES),
        ("test_labels.csv", labels, ("member_id", "left")),
    ):
        with (folder / name).open("w", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, columns, extrasaction="ignore")
            writer.writeheader()
            writer.writerows(table)
    return folder


def _harness(home: Path, *sites: Path) -> Callable[..., subprocess.CompletedProcess[str]]:
    """The real CLI in a subprocess: a fresh HARNESS_HOME, ``sites`` on PYTHONPATH."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_TRACKING", "HARNESS"))}
    env.update(
        HARNESS_HOME=str(home),
        PYTHONPATH=os.pathsep.join(map(str, sites)),
        MLFLOW_DISABLE_TELEMETRY="true",
        OMP_NUM_THREADS="1",
    )

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "harness.cli", *args],
            capture_output=True,
            text=True,
            env=env,
            cwd=home.parent,
            timeout=300,
        )

    return run


def _ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _predictions(public: Path, target: Path, *, bad: bool = False) -> Path:
    """A rule of thumb: members who rarely come leave. ``bad``: a row short and a label 2."""
    with (public / "test.csv").open(encoding="utf-8") as f:
        members = list(csv.DictReader(f))
    rows = [(m["member_id"], int(int(m["visits"]) < 6)) for m in members]
    if bad:
        rows = [(rows[0][0], 2), *rows[1:-1]]
    target.write_text("member_id,left\n" + "".join(f"{i},{y}\n" for i, y in rows))
    return target


def test_an_outside_package_is_a_competition_like_any_other(site: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    harness = _harness(home, site)
    raw = _raw(tmp_path / "data")

    listed = harness("list")
    assert "club-churn" in _ok(listed) and "titanic" in listed.stdout
    assert "warning" not in listed.stderr

    prepared = _ok(harness("prepare", "club-churn", "--raw", str(raw)))
    assert "club-churn prepared from" in prepared and "60 train rows, 40 test rows" in prepared
    public = home / "public" / "club-churn"
    assert sorted(p.name for p in public.iterdir()) == [
        "description.md",
        "sample_submission.csv",
        "test.csv",
        "train.csv",
    ]
    assert "left" not in (public / "test.csv").read_text().splitlines()[0]
    answers = (home / "private" / "club-churn" / "answers.csv").read_text().splitlines()
    assert answers[0] == "member_id,left,Usage" and len(answers) == 41

    described = _ok(harness("describe", "club-churn"))
    assert "leave the club" in described and "member_id" in described

    preds = _predictions(public, tmp_path / "preds.csv")
    submitted = _ok(harness("submit", "club-churn", str(preds), "--as", "alice", "-m", "rule"))
    assert re.search(r"alice's submission scored 0\.\d{5} on the public leaderboard", submitted)

    board = _ok(harness("leaderboard", "club-churn"))
    assert "Club churn: who leaves this year?: public leaderboard (accuracy" in board
    assert "alice" in board

    bad = harness(
        "submit", "club-churn", str(_predictions(public, tmp_path / "bad.csv", bad=True))
    )
    assert bad.returncode == 1
    assert bad.stderr.startswith("Error: ") and "bad.csv: 1 id missing (first: 100)" in bad.stderr
    assert "'left' must be one of 0, 1" in bad.stderr, bad.stderr

    trained = _ok(harness("baseline", "club-churn", "--model", "linear"))
    assert re.search(r"club-churn: linear CV 0\.\d{5}", trained), trained
    assert "submitted as baseline/linear: public score" in trained
    assert "baseline/linear" in _ok(harness("leaderboard", "club-churn"))


def test_a_broken_entry_point_beside_it_is_skipped_with_one_warning(
    site: Path, broken_site: Path, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    harness = _harness(home, site, broken_site)
    raw = _raw(tmp_path / "data")
    public = home / "public" / "club-churn"
    commands = [
        ("list",),
        ("describe", "titanic"),
        ("prepare", "club-churn", "--raw", str(raw)),
        ("validate", "club-churn", str(public / "sample_submission.csv")),
        ("submit", "club-churn", str(public / "sample_submission.csv"), "--as", "bob"),
        ("leaderboard", "club-churn"),
    ]
    out = {}
    for args in commands:
        done = harness(*args)
        assert done.returncode == 0, (args, done.stdout + done.stderr)
        assert done.stderr.count(BROKEN_WARNING) == 1, (args, done.stderr)
        assert "Traceback" not in done.stderr
        out[args[0]] = done.stdout
    assert "club-churn" in out["list"] and "broken" not in out["list"]
    assert "Titanic - Machine Learning from Disaster" in out["describe"]
    assert "bob" in out["leaderboard"]


@pytest.mark.parametrize(
    ("mistake", "message"),
    [
        (
            {"stray_label": True},
            "test_labels.csv: 1 unknown id(s) in the test labels (first: 999)",
        ),
        ({"drop_label": True}, "test_labels.csv: 2 unlabelled id(s) in the test labels (first: "),
    ],
)
def test_prepare_refuses_test_labels_that_do_not_match_the_test(
    site: Path, tmp_path: Path, mistake: dict, message: str
) -> None:
    home = tmp_path / "home"
    done = _harness(home, site)(
        "prepare", "club-churn", "--raw", str(_raw(tmp_path / "data", **mistake))
    )
    assert done.returncode == 1
    assert done.stderr.startswith(f"Error: {message}"), done.stderr
    if mistake.get("drop_label"):
        assert "(first: 64, 77)" in done.stderr
    assert not (home / "public" / "club-churn").exists()
    assert not (home / "private" / "club-churn").exists()


# ----------------------------------------------------------------------------------------------
# The registry itself, in process: what is skipped, what is said, what still raises
# ----------------------------------------------------------------------------------------------
@pytest.fixture
def fresh_registry(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(registry, "_skipped", {})
    registry.competitions.cache_clear()
    yield registry
    registry.competitions.cache_clear()


def test_every_kind_of_broken_entry_point_is_skipped_and_reported_once(
    fresh_registry: types.ModuleType,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "harness_test_bad_syntax.py").write_text("COMPETITION = (\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    group = registry.ENTRY_POINT_GROUP
    points = [
        EntryPoint("missing", f"{BROKEN_MODULE}:COMPETITION", group),
        EntryPoint("syntax", "harness_test_bad_syntax:COMPETITION", group),
        EntryPoint("not-one", "os.path:join", group),
        EntryPoint("twin", "harness.competitions.titanic:COMPETITION", group),
    ]
    monkeypatch.setattr(registry, "entry_points", lambda group: points)

    found = registry.competitions()
    assert {"titanic", "house-prices"} <= set(found)
    assert registry.get_competition("titanic").id == "titanic"
    err = capsys.readouterr().err.splitlines()
    syntax = err.pop(1)  # the wording of a SyntaxError is Python's
    assert syntax.startswith(
        "warning: competition entry point 'syntax = harness_test_bad_syntax:COMPETITION' failed"
        " to load: SyntaxError: "
    )
    assert syntax.endswith("(harness_test_bad_syntax.py, line 1); skipped")
    assert err == [
        "warning: competition entry point 'missing = "
        f"{BROKEN_MODULE}:COMPETITION' failed to load: ModuleNotFoundError: No module named"
        f" '{BROKEN_MODULE}'; skipped",
        "warning: competition entry point 'not-one = os.path:join' failed to load: TypeError:"
        " expected a Competition, got function; skipped",
        "warning: competition entry point 'twin = harness.competitions.titanic:COMPETITION' failed"
        " to load: ValueError: competition id 'titanic' is registered twice; skipped",
    ]
    assert set(registry.skipped_entry_points()) == {
        f"missing = {BROKEN_MODULE}:COMPETITION",
        "syntax = harness_test_bad_syntax:COMPETITION",
        "not-one = os.path:join",
        "twin = harness.competitions.titanic:COMPETITION",
    }

    registry.competitions.cache_clear()  # loading again in the same process: no second warning
    assert registry.competitions().keys() == found.keys()
    assert capsys.readouterr().err == ""


def test_a_builtin_competition_that_fails_to_import_stays_an_error(
    fresh_registry: types.ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib

    def import_module(name: str) -> object:
        if name == "harness.competitions.titanic":
            raise ImportError("a bug in this repository")
        return importlib.import_module(name)

    monkeypatch.setattr(registry, "importlib", types.SimpleNamespace(import_module=import_module))
    monkeypatch.setattr(registry, "entry_points", lambda group: [])
    with pytest.raises(ImportError, match="a bug in this repository"):
        registry.competitions()
