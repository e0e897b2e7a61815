"""Competitions made from a folder of files (`harness create ID --from DIR`), not a package.

Each lives in ``HARNESS_HOME/competitions/<id>/``, written once by :mod:`harness.authoring`::

    competition.json   the declaration: title, task, id and target columns, metric, split
    description.md     the host's overview
    metric.py          the host's metric file, when the metric is not one by name
    scoring_program/   or a Codabench bundle's scoring program, as the bundle had it, and
    reference_data/    its reference files (the answers CSV among them), run when scoring
    data/              the host's tables as given: train.csv, and test.csv + solution.csv
                       (id, targets, optional Usage) or none (a local test is cut from train)

:func:`created` reads them into :class:`~harness.competition.Competition` declarations like any
package's, so listing, preparing, submitting, the baselines, ``verify`` and hosting treat them
alike. Their ``prepare`` checks every table (columns, duplicate or unknown ids, empty labels;
each problem names its file and line) and the metric (the answers must beat the sample
submission), so a folder that fails is refused before anything is written.
"""

from __future__ import annotations

import functools
import json
import math
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.competition import Competition, Task
from harness.data.kit import RawDataError, default_prediction, strata, write_csv
from harness.data.preparation import ANSWERS, PRIVATE, PUBLIC, SAMPLE_SUBMISSION, USAGE
from harness.data.writers import assign_usage
from harness.errors import MetricFailed, printable
from harness.metrics import NAMED, Metric, Needs

if TYPE_CHECKING:
    import pandas as pd

SPEC = "competition.json"
DESCRIPTION = "description.md"
METRIC_FILE = "metric.py"
PROGRAM_DIR, REFERENCE_DIR = "scoring_program", "reference_data"  # a Codabench import's
DATA = "data"
KAGGLE_BOARD = "kaggle_leaderboard.csv"  # Kaggle's final board, from an mle-bench import
TRAIN, TEST, SOLUTION = "train.csv", "test.csv", "solution.csv"
SPEC_FORMAT = 1
ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
SHOW = 3  # offending ids or lines a message names

_read: dict[tuple[str, int], Competition] = {}  # (spec path, mtime) -> declaration
_warned: set[str] = set()


def shown(value: object) -> str:
    """A value from a host's file, safe to print in a message (escaped, cut to 60 chars)."""
    return printable(value, limit=60)


def check_id(competition: str) -> str:
    """``competition`` if it may name a created competition (a Kaggle-like slug)."""
    if not ID_PATTERN.fullmatch(competition):
        raise RawDataError(
            f"'{shown(competition)}' cannot name a competition: use lower-case letters, digits "
            "and dashes (at most 63), starting with a letter or digit"
        )
    return competition


def created(home: Path) -> list[Competition]:
    """The competitions created in ``home`` (``home/competitions/*/competition.json``). One
    whose declaration does not read (a hand edit) is skipped with one warning on stderr."""
    root = home / "competitions"
    if not root.is_dir():
        return []
    found = []
    for spec in sorted(root.glob(f"*/{SPEC}")):
        try:
            key = (str(spec), spec.stat().st_mtime_ns)
            if key not in _read:
                _read[key] = load(spec.parent)
            found.append(_read[key])
        except (OSError, ValueError, KeyError, TypeError, RawDataError) as exc:
            if str(spec) not in _warned:
                _warned.add(str(spec))
                why = " ".join(f"{type(exc).__name__}: {exc}".split())
                print(f"warning: {spec} does not read: {why}; skipped", file=sys.stderr)
    return found


def load(folder: Path) -> Competition:
    """The competition declared in ``folder`` (a created competition's own folder)."""
    spec: dict[str, Any] = json.loads((folder / SPEC).read_text(encoding="utf-8"))
    if spec.get("format") != SPEC_FORMAT:
        raise ValueError(f"unknown format {spec.get('format')!r} (expected {SPEC_FORMAT})")
    comp_id = check_id(str(spec["id"]))
    if comp_id != folder.name:
        raise ValueError(
            f"declares id '{shown(comp_id)}' but its folder is '{shown(folder.name)}'"
        )
    task = Task(spec["task"])
    labels = spec.get("labels")
    return Competition(
        id=comp_id,
        title=str(spec["title"]),
        task=task,
        metric=metric_of(spec, folder),
        id_column=str(spec["id_column"]),
        target_columns=tuple(spec["target_columns"]),
        labels=None if labels is None else tuple(labels),
        prepare=functools.partial(_prepare, spec, folder),
        description=(folder / DESCRIPTION).read_text(encoding="utf-8"),
        public_fraction=float(spec.get("public_fraction", 0.5)),
        seed=int(spec.get("seed", 0)),
        embedded_raw=folder / DATA,
        raw_hint="the host's folder: train.csv, and test.csv with solution.csv, or train alone",
        version=int(spec.get("version", 1)),
        reference_board=(folder / KAGGLE_BOARD) if (folder / KAGGLE_BOARD).is_file() else None,
    )


def metric_of(spec: dict[str, Any], folder: Path) -> Metric:
    """The declared metric: one of :data:`harness.metrics.NAMED`, or the host's metric file
    (run in a process of its own, :mod:`harness.data.metric_file`)."""
    declared = spec["metric"]
    if "file" not in declared and "program" not in declared:
        return NAMED[declared["name"]][0]
    from harness.data.metric_file import MetricFile, ScoringProgram

    id_column, targets = str(spec["id_column"]), tuple(spec["target_columns"])
    runner: MetricFile | ScoringProgram
    if "program" in declared:
        runner = ScoringProgram(
            folder=folder / declared["program"],
            command=str(declared["command"]),
            reference=folder / declared["reference"],
            key=str(declared["key"]),
            submission=str(declared["submission"]),
            id_column=id_column,
            target_columns=targets,
        )
        what = f"the host's scoring program ({declared['key']})"
    else:
        runner = MetricFile(folder / declared["file"], id_column, targets, declared.get("call"))
        what = f"the host's {declared['file']}"
    return Metric(
        declared.get("name", "metric"),
        runner,
        greater_is_better=bool(declared["greater_is_better"]),
        needs=Needs(declared["needs"]),
        description=declared.get("description") or what,
        table=runner.table,
    )


# ---------------------------------------------------------------------------------------------
# Preparing: check every table, split, write, check the metric
# ---------------------------------------------------------------------------------------------


def _prepare(
    spec: dict[str, Any], folder: Path, comp: Competition, raw: Path, public: Path, private: Path
) -> list[str]:
    targets = list(comp.target_columns)
    train = read(raw / TRAIN, [comp.id_column, *targets])
    check_ids(train, comp.id_column, TRAIN)
    check_filled(train, targets, TRAIN)
    notes: list[str] = []
    if (raw / TEST).is_file() or (raw / SOLUTION).is_file():
        test, answers = _given_test(comp, raw, train)
    else:
        train, test, answers, note = _cut_test(comp, train, float(spec.get("test_size", 0.2)))
        notes += note
    if USAGE not in answers.columns:
        stratify = _stratify(answers[targets[0]], comp)
        answers[USAGE] = assign_usage(len(answers), comp, stratify)
    check_labels(comp, train, answers)
    write_csv(train, public / TRAIN)
    write_csv(test, public / TEST)
    write_csv(answers[[comp.id_column, *targets, USAGE]], private / ANSWERS)
    sample = answers[[comp.id_column]].copy()
    for column in targets:
        sample[column] = _sample_value(train[column], comp)
    write_csv(sample, public / SAMPLE_SUBMISSION)
    notes.append(check_metric(comp, private / ANSWERS, public / SAMPLE_SUBMISSION))
    return notes


def read(path: Path, required: Sequence[str]) -> pd.DataFrame:
    """A host's CSV as text cells, its ``required`` columns checked."""
    import pandas as pd

    if not path.is_file():
        raise RawDataError(f"{path.name}: missing (looked in {path.parent})")
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except (ValueError, UnicodeDecodeError) as exc:  # pandas' ParserError is a ValueError
        raise RawDataError(f"{path.name}: not a readable CSV: {exc}") from None
    missing = [c for c in required if c not in frame.columns]
    if missing:
        raise RawDataError(
            f"{path.name}: missing column(s) {', '.join(map(repr, missing))} "
            f"(it has {', '.join(map(repr, list(frame.columns)[:8]))})"
        )
    return frame


def _lines(rows: Any) -> str:
    """Data rows (0-based) as the lines an editor shows (the header is line 1)."""
    shown = ", ".join(str(int(r) + 2) for r in list(rows)[:SHOW])
    return f"line{'s' if len(rows) > 1 else ''} {shown}{', …' if len(rows) > SHOW else ''}"


def check_ids(frame: pd.DataFrame, id_column: str, name: str) -> None:
    ids = frame[id_column]
    empty = (ids.str.strip() == "").to_numpy().nonzero()[0]
    if len(empty):
        raise RawDataError(
            f"{name}: {len(empty):,} empty id(s) in '{shown(id_column)}' ({_lines(empty)})"
        )
    doubled = ids.duplicated(keep="first").to_numpy().nonzero()[0]
    if len(doubled):
        first = ids.iloc[doubled[0]]
        where = (ids == first).to_numpy().nonzero()[0]
        raise RawDataError(
            f"{name}: {len(doubled):,} duplicate id(s) in '{shown(id_column)}'; the first, "
            f"'{shown(first)}', is on {_lines(where)}"
        )


def check_filled(frame: pd.DataFrame, columns: Sequence[str], name: str) -> None:
    for column in columns:
        empty = (frame[column].str.strip() == "").to_numpy().nonzero()[0]
        if len(empty):
            raise RawDataError(
                f"{name}: {len(empty):,} empty label(s) in '{shown(column)}' ({_lines(empty)})"
            )


def _given_test(
    comp: Competition, raw: Path, train: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The host's test (features) and solution (id, targets, maybe Usage), matched."""
    import numpy as np

    targets = list(comp.target_columns)
    test = read(raw / TEST, [comp.id_column])
    check_ids(test, comp.id_column, TEST)
    solution = read(raw / SOLUTION, [comp.id_column, *targets])
    check_ids(solution, comp.id_column, SOLUTION)
    check_filled(solution, targets, SOLUTION)
    known = set(test[comp.id_column])
    unknown = (~solution[comp.id_column].isin(known)).to_numpy().nonzero()[0]
    if len(unknown):
        first = solution[comp.id_column].iloc[unknown[0]]
        raise RawDataError(
            f"{SOLUTION}: {len(unknown):,} label(s) for an id not in {TEST}; the first, "
            f"'{shown(first)}', on {_lines(unknown)}"
        )
    labelled = set(solution[comp.id_column])
    unlabelled = (~test[comp.id_column].isin(labelled)).to_numpy().nonzero()[0]
    if len(unlabelled):
        first = test[comp.id_column].iloc[unlabelled[0]]
        raise RawDataError(
            f"{TEST}: {len(unlabelled):,} id(s) without a label in {SOLUTION}; the first, "
            f"'{shown(first)}', on {_lines(unlabelled)}"
        )
    both = (test[comp.id_column].isin(set(train[comp.id_column]))).to_numpy().nonzero()[0]
    if len(both):
        first = test[comp.id_column].iloc[both[0]]
        raise RawDataError(
            f"{TEST}: {len(both):,} id(s) also in {TRAIN}; the first, '{shown(first)}', on "
            f"{_lines(both)}"
        )
    in_test = [c for c in targets if c in test.columns]
    if in_test:
        raise RawDataError(
            f"{TEST}: holds the target column(s) {', '.join(map(repr, in_test))}: the labels "
            f"go in {SOLUTION} only"
        )
    columns = [comp.id_column, *targets] + ([USAGE] if USAGE in solution.columns else [])
    answers = test[[comp.id_column]].merge(solution[columns], on=comp.id_column, how="left")
    if USAGE in answers.columns:
        usage = answers[USAGE].str.strip().str.capitalize()
        bad = (~usage.isin([PUBLIC, PRIVATE])).to_numpy().nonzero()[0]
        if len(bad):
            order = solution.set_index(comp.id_column).index.get_indexer(
                answers[comp.id_column].iloc[bad]
            )
            raise RawDataError(
                f"{SOLUTION}: '{shown(USAGE)}' must be Public or Private, got "
                f"'{shown(answers[USAGE].iloc[bad[0]])}' ({_lines(np.sort(order))})"
            )
        if not (usage == PUBLIC).any() or not (usage == PRIVATE).any():
            raise RawDataError(f"{SOLUTION}: '{shown(USAGE)}' needs Public rows and Private rows")
        answers[USAGE] = usage
    return test, answers


def _cut_test(
    comp: Competition, labelled: pd.DataFrame, test_size: float
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, list[str]]:
    """A seeded, stratified local test cut from the labelled train."""
    from sklearn.model_selection import train_test_split

    targets = list(comp.target_columns)
    if len(labelled) < 10:
        raise RawDataError(f"{TRAIN}: {len(labelled)} rows are too few to cut a test from")
    stratify = _stratify(labelled[targets[0]], comp)
    notes = []
    if stratify is None:
        notes.append("a class has a single row: the local test is cut without stratifying")
    kept, held = train_test_split(
        labelled, test_size=test_size, random_state=comp.seed, stratify=stratify
    )
    kept = kept.sort_index()
    held = held.sort_index()
    answers = held[[comp.id_column, *targets]].reset_index(drop=True)
    return kept, held.drop(columns=targets), answers, notes


def _stratify(values: pd.Series, comp: Competition) -> Any:
    """What a split is stratified on, or None where a stratum has a single row."""
    groups = strata(values, comp)
    import numpy as np

    _, counts = np.unique(np.asarray(groups, dtype=str), return_counts=True)
    return None if counts.min() < 2 else groups


def check_labels(comp: Competition, train: pd.DataFrame, answers: pd.DataFrame) -> None:
    """Every label in the answers must be one the declaration allows (those of train, for a
    classification), and a regression's targets numbers."""
    import numpy as np
    import pandas as pd

    for column in comp.target_columns:
        values = answers[column]
        if comp.labels is not None and comp.metric.needs is Needs.LABELS:
            allowed = {str(v) for v in comp.labels}
            bad = (~values.isin(allowed)).to_numpy().nonzero()[0]
            if len(bad):
                raise RawDataError(
                    f"{SOLUTION}: label '{shown(values.iloc[bad[0]])}' in '{shown(column)}' "
                    f"never occurs in {TRAIN} ({len(bad):,} row(s), {_lines(bad)} of the test)"
                )
        if comp.metric.needs is not Needs.LABELS:
            for name, frame in ((TRAIN, train), (SOLUTION, answers)):
                numbers = pd.to_numeric(frame[column], errors="coerce").to_numpy()
                bad = (~np.isfinite(numbers)).nonzero()[0]
                if len(bad):
                    raise RawDataError(
                        f"{name}: '{shown(column)}' must be a number, got "
                        f"'{shown(frame[column].iloc[bad[0]])}' ({_lines(bad)})"
                    )


def _sample_value(train_target: pd.Series, comp: Competition) -> Any:
    """The sample submission's constant: the most frequent label, the share of positives for
    a probability, the median for a number."""
    import pandas as pd

    needs = comp.metric.needs
    if needs is Needs.PROBABILITIES or (needs is Needs.FINITE and comp.task.is_classification):
        share = float(pd.to_numeric(train_target, errors="coerce").mean())
        return round(share, 6) if math.isfinite(share) else 0.5
    return default_prediction(train_target, comp)


def check_metric(comp: Competition, answers: Path, sample: Path) -> str:
    """The metric on the answers themselves and on the sample submission: both must be
    numbers, and the answers must score better. Returns the note saying both."""
    import pandas as pd

    from harness.data.validation import check_values

    truth = pd.read_csv(answers, dtype=str, keep_default_na=False)
    constant = pd.read_csv(sample, dtype=str, keep_default_na=False)
    metric, what = comp.metric, comp.metric.name
    scores: dict[str, float] = {}
    for name, frame in (("the answers", truth), ("the sample submission", constant)):
        try:
            if metric.table is not None:
                predictions = {c: frame[c].to_numpy() for c in comp.target_columns}
                ids = frame[comp.id_column].to_numpy()
                got = metric.table(answers, ids, predictions, ["public", "private"])
                value = min(got.values()) if metric.greater_is_better else max(got.values())
            else:
                column = comp.target_columns[0]
                y_true = check_values(truth[column], column, comp)[0]
                y_pred = check_values(frame[column], column, comp)[0]
                value = metric.fn(y_true, y_pred)
        except MetricFailed as exc:  # the host's own code: they may read what went wrong
            detail = exc.details.strip().splitlines()[-1] if exc.details else exc.visible
            lines = re.findall(r'File "[^"]*/metric\.py", line (\d+)', exc.details)
            where = f" (line {lines[-1]})" if lines else ""
            code = getattr(metric.fn, "what", METRIC_FILE)
            raise RawDataError(f"{code}: failed on {name}{where}: {detail}") from None
        except (ValueError, TypeError) as exc:
            raise RawDataError(f"{what} cannot score {name}: {exc}") from None
        scores[name] = value
    best, chance = scores["the answers"], scores["the sample submission"]
    if not metric.is_better(best, chance):
        raise RawDataError(
            f"{what} ({metric.direction}) scores the answers themselves {best:.6g} and the "
            f"constant sample submission {chance:.6g}: the answers must score better — is the "
            "metric's direction right?"
        )
    return f"{what}: the answers score {best:.6g}, the sample submission {chance:.6g} (chance)"
