"""`harness create ID --from DIR`: a competition from a host's folder of files.

``DIR`` holds a labelled ``train.csv`` and either ``test.csv`` with its labels apart
(``solution.csv``: the id, the target columns and, optionally, Kaggle's ``Usage``) or nothing
else (a seeded, stratified local test is then cut from train); a ``description.md``; and, when
the metric is not one by name, the host's ``metric.py`` in Kaggle's signature.

The files are copied into a staging folder with the declaration
(:mod:`harness.competitions.folder`), prepared there (every table and the metric checked), and
only then moved to ``HARNESS_HOME/competitions/<id>/``: a folder that fails leaves nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.competition import Task
from harness.competitions import folder
from harness.competitions.folder import (
    DATA,
    DESCRIPTION,
    METRIC_FILE,
    PROGRAM_DIR,
    REFERENCE_DIR,
    SOLUTION,
    TEST,
    TRAIN,
    shown,
)
from harness.data.preparation import USAGE, Preparation
from harness.errors import RawDataError
from harness.files import file_lock
from harness.metrics import NAMED, Needs
from harness.settings import Settings

#: A target with at most this many distinct whole-number values is taken for a class label
#: when the task is not declared.
MAX_CLASSES = 20


@dataclass(frozen=True)
class Program:
    """A Codabench scoring program kept with the competition and run when it scores
    (:class:`harness.data.metric_file.ScoringProgram`): its ``folder``, its metadata's
    ``command``, the bundle's ``reference_data`` folder and the answers CSV in it
    (``reference_file``, relative), the leaderboard column's ``key``, and the ``submission``
    file name the program reads in ``input/res``."""

    folder: Path
    command: str
    reference_data: Path
    reference_file: str
    key: str
    submission: str


@dataclass(frozen=True, kw_only=True)
class Declared:
    """What the host declares beside the files (each None: read from the files)."""

    title: str | None = None
    metric: str | None = None  # a name of harness.metrics.NAMED
    metric_file: Path | None = None  # Kaggle's score(solution, submission, row_id_column_name)
    metric_call: str | None = None  # "compute": the metric file is Hugging Face's
    program: Program | None = None  # or a Codabench scoring program
    greater_is_better: bool | None = None  # a metric file's direction (required with it)
    needs: str | None = None  # a metric file's predictions: labels, probabilities, finite…
    task: str | None = None  # "classification" or "regression"
    id_column: str | None = None
    targets: tuple[str, ...] = ()
    test_size: float = 0.2  # share of train cut off as the local test (train alone only)
    public_fraction: float = 0.5
    seed: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)  # kept in the declaration


@dataclass(frozen=True)
class Created:
    competition: str
    folder: Path
    preparation: Preparation
    notes: list[str]


def create(
    competition: str,
    source: Path,
    settings: Settings,
    declared: Declared,
    *,
    extra_files: Mapping[str, Path] | None = None,
    progress: Any = None,
) -> Created:
    """Create ``competition`` from the folder ``source``; raise RawDataError (naming the file
    and line) for anything wrong, leaving nothing behind. ``extra_files`` (name → path) are
    kept in the competition's folder too (an imported board, say)."""
    from harness.data.preparation import prepare
    from harness.registry import competitions

    folder.check_id(competition)
    if competition in competitions(settings.home):
        raise RawDataError(
            f"a competition '{shown(competition)}' exists already (in {settings.home}); "
            "choose another id"
        )
    source = Path(source)
    if not source.is_dir():
        raise RawDataError(f"{source}: not a folder (expected {TRAIN}, and {TEST} with "
                           f"{SOLUTION}, a {DESCRIPTION}, maybe a {METRIC_FILE})")  # fmt: skip
    spec = declaration(competition, source, declared)
    settings.ensure_home()
    root = settings.home / "competitions"
    # one creation of an id at a time: the second finds the first's competition and stops
    with file_lock(settings.locks_dir / f"{competition}.create"):
        if (root / competition).exists():
            raise RawDataError(
                f"a competition '{shown(competition)}' exists already (in {settings.home}); "
                "choose another id"
            )
        staging = root / ".staging" / f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        target = staging / competition
        try:
            (target / DATA).mkdir(parents=True, mode=0o700)
            for name in (TRAIN, TEST, SOLUTION):
                if (source / name).is_file():
                    shutil.copyfile(source / name, target / DATA / name)
            description = source / DESCRIPTION
            text = description.read_text(encoding="utf-8") if description.is_file() else ""
            (target / DESCRIPTION).write_text(
                text.strip() + "\n" if text.strip() else f"{spec['title']}.\n", encoding="utf-8"
            )
            if declared.metric_file is not None:
                shutil.copyfile(declared.metric_file, target / METRIC_FILE)
            if declared.program is not None:  # links kept as links: nothing outside is copied
                _keep_program(declared.program, target)
            for name, path in (extra_files or {}).items():
                shutil.copyfile(path, target / name)
            (target / folder.SPEC).write_text(json.dumps(spec, indent=1) + "\n", encoding="utf-8")
            comp = folder.load(target)
            done = prepare(comp, settings, force=True, progress=progress)
            try:
                (target).rename(root / competition)
            except OSError:
                _unprepare(settings, competition)
                raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            with contextlib.suppress(OSError):
                staging.parent.rmdir()  # when no other creation is staged there
    return Created(competition, root / competition, done, list(done.manifest.get("notes", [])))


def _keep_program(program: Program, target: Path) -> None:
    """A scoring program and its reference data in the competition's folder: the program
    readable by the sandbox's user (it is shown to it read-only), the reference data (the
    answers) the host's alone, as ``data/`` is."""
    shutil.copytree(program.folder, target / PROGRAM_DIR, symlinks=True)
    for path in [target / PROGRAM_DIR, *(target / PROGRAM_DIR).rglob("*")]:
        if not path.is_symlink():
            os.chmod(path, 0o755 if path.is_dir() else 0o644)
    shutil.copytree(program.reference_data, target / REFERENCE_DIR, symlinks=True)
    os.chmod(target / REFERENCE_DIR, 0o700)


def _unprepare(settings: Settings, competition: str) -> None:
    for side in (settings.public_dir(competition), settings.private_dir(competition)):
        shutil.rmtree(side, ignore_errors=True)


def remove(competition: str, settings: Settings) -> None:
    """Undo :func:`create` (its folder first, so the registry no longer finds it)."""
    shutil.rmtree(settings.home / "competitions" / competition, ignore_errors=True)
    _unprepare(settings, competition)


def declaration(competition: str, source: Path, declared: Declared) -> dict[str, Any]:
    """The ``competition.json`` for the files in ``source`` and what the host declared."""
    import pandas as pd

    train_path = source / TRAIN
    if not train_path.is_file():
        raise RawDataError(f"{source}: no {TRAIN} (the labelled rows)")
    header = _header(train_path)
    id_column = declared.id_column or header[0]
    if id_column not in header:
        raise RawDataError(f"{TRAIN}: no column '{shown(id_column)}' (the id column)")
    has_test, has_solution = (source / TEST).is_file(), (source / SOLUTION).is_file()
    if has_test != has_solution:
        given, missing = (TEST, SOLUTION) if has_test else (SOLUTION, TEST)
        raise RawDataError(f"{given} without {missing} (in {source}): give both, or train alone")
    targets = declared.targets
    if not targets:
        if has_solution:
            targets = tuple(c for c in _header(source / SOLUTION) if c not in (id_column, USAGE))
        else:
            targets = (header[-1],)
    missing = [t for t in targets if t not in header]
    if missing or not targets or id_column in targets:
        raise RawDataError(
            f"{TRAIN}: missing the target column(s) {', '.join(map(repr, missing or targets))}"
        )
    given = [declared.metric, declared.metric_file, declared.program]
    if all(g is None for g in given):
        raise RawDataError(
            "name the metric (--metric " + "|".join(NAMED) + ") or give a metric file"
        )
    if sum(g is not None for g in given) > 1:
        raise RawDataError("give the metric by name or as a file, not both")
    values = pd.read_csv(train_path, usecols=[targets[0]], dtype=str, keep_default_na=False)[
        targets[0]
    ]
    metric: dict[str, Any]
    if declared.metric is not None:
        if declared.metric not in NAMED:
            raise RawDataError(
                f"unknown metric '{shown(declared.metric)}' (known: {', '.join(NAMED)})"
            )
        named, for_classes = NAMED[declared.metric]
        if len(targets) != 1:
            raise RawDataError(
                f"{declared.metric} scores one target column, got {len(targets)} "
                f"({', '.join(targets)}): give a metric file for several"
            )
        task = "classification" if for_classes else "regression"
        if declared.task is not None and declared.task != task:
            raise RawDataError(f"{declared.metric} is a {task} metric, not {declared.task}")
        metric = {"name": named.name}
        needs = named.needs
    else:
        what = declared.metric_file or f"{PROGRAM_DIR} (its leaderboard column has no sorting)"
        if declared.greater_is_better is None:
            raise RawDataError(
                f"{what}: declare the metric's direction (--higher-is-better or --lower-is-better)"
            )
        task = declared.task or _guess_task(values)
        needs = Needs(declared.needs or ("labels" if task == "classification" else "finite"))
        if declared.program is not None:
            program = declared.program
            metric = {
                "program": PROGRAM_DIR,
                "command": program.command,
                "reference": f"{REFERENCE_DIR}/{program.reference_file}",
                "key": program.key,
                "submission": program.submission,
                "name": program.key,
            }
        else:
            metric_file = Path(str(declared.metric_file))
            if not metric_file.is_file():
                raise RawDataError(f"{declared.metric_file}: no such file")
            metric = {"file": METRIC_FILE, "name": metric_file.stem}
            if declared.metric_call is not None:
                metric["call"] = declared.metric_call
        metric.update(greater_is_better=declared.greater_is_better, needs=needs.value)
    labels = None
    if task == "classification":
        labels = _labels(values, targets[0], needs)
    return {
        "format": folder.SPEC_FORMAT,
        "id": competition,
        "title": declared.title or competition.replace("-", " ").capitalize(),
        "task": (
            Task.TABULAR_CLASSIFICATION if task == "classification" else Task.TABULAR_REGRESSION
        ).value,
        "id_column": id_column,
        "target_columns": list(targets),
        "labels": labels,
        "metric": metric,
        "public_fraction": declared.public_fraction,
        "seed": declared.seed,
        **({} if has_test else {"test_size": declared.test_size}),
        **dict(declared.extra),
    }


def _header(path: Path) -> list[str]:
    import pandas as pd

    try:
        return [str(c) for c in pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns]
    except (ValueError, UnicodeDecodeError) as exc:
        raise RawDataError(f"{path.name}: not a readable CSV: {exc}") from None


def _guess_task(values: Any) -> str:
    import pandas as pd

    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.isna().any():
        return "classification"
    whole = bool((numbers % 1 == 0).all())
    return "classification" if whole and numbers.nunique() <= MAX_CLASSES else "regression"


def _labels(values: Any, column: str, needs: Needs) -> list[Any]:
    """A classification's labels, from train: whole numbers as numbers, else the text."""
    import pandas as pd

    distinct = sorted(set(values))
    numbers = pd.to_numeric(pd.Series(distinct), errors="coerce")
    if not numbers.isna().any() and bool((numbers % 1 == 0).all()):
        labels: list[Any] = sorted(int(v) for v in numbers)
    else:
        labels = distinct
    if needs is not Needs.LABELS and labels != [0, 1]:
        raise RawDataError(
            f"{TRAIN}: '{shown(column)}' must hold 0 and 1 for a metric of probabilities or "
            f"scores, got {', '.join(map(str, labels[:5]))}"
        )
    if len(labels) < 2:
        raise RawDataError(f"{TRAIN}: '{shown(column)}' holds a single label ({labels[0]})")
    return labels
