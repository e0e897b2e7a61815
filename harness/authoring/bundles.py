"""What every platform's format shares, for :mod:`.transfer` (`harness export ID --format
kaggle|hf|codabench` and `harness import PATH`) and the format modules.

An export holds the public files, the answers with their public/private split in the format's
own form, the description, the rules where the format has a place for them, and the metric as a
file in Kaggle's signature (``metric.py``): for a metric by name, the very functions of
:mod:`harness.metrics` written out with a Kaggle wrapper (:func:`metric_source`); for a metric
file, the host's own. Each export also carries ``harness.json`` (the task, the labels' kind,
the split's seed), which the platforms ignore and an import reads where it is present.

An import never runs code from the bundle: its metric file is run only when the host scores (in
the sandbox), and a ``metric.py`` that is byte for byte the one Harness writes for a metric by
name becomes that metric again. A zip is extracted with every member checked (no ``..``, no
absolute path, no link). Then the competition is made by :func:`.create.create`, so it is
checked exactly as a host's folder is, and the rules are set on its board.
"""

from __future__ import annotations

import contextlib
import inspect
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.authoring.create import Declared
from harness.competition import Competition
from harness.competitions import folder as created_folder
from harness.competitions.folder import shown
from harness.data.preparation import ANSWERS, PRIVATE, PUBLIC, SAMPLE_SUBMISSION, USAGE
from harness.errors import RawDataError
from harness.metrics import NAMED
from harness.settings import Settings

FORMATS = ("kaggle", "hf", "codabench")
SIDE = "harness.json"  # Harness's own notes in every export; the platforms ignore it
METRIC = "metric.py"
LEADERBOARD = created_folder.KAGGLE_BOARD  # an mle-bench import keeps Kaggle's final board


@dataclass(frozen=True)
class Source:
    """What an export reads of one prepared competition."""

    comp: Competition
    public: Path  # train.csv, test.csv, sample_submission.csv, …
    answers: Path  # id, targets, Usage
    description: str  # the host's overview (no generated sections)
    rules: dict[str, Any]  # daily_limit, deadline (ISO, UTC), selections
    metric_text: str  # a metric file in Kaggle's signature
    side: dict[str, Any]


@dataclass
class Incoming:
    """A bundle read for import: a folder laid out for `harness create`, what it declares, and
    the rules it carries."""

    source: Path
    declared: Declared
    rules: dict[str, Any] = field(default_factory=dict)
    extra_files: dict[str, Path] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Export
# ---------------------------------------------------------------------------------------------


def gather(competition: str, settings: Settings) -> Source:
    from harness.board.service import Board
    from harness.data.preparation import prepared_file, read_manifest
    from harness.registry import get_competition

    comp = get_competition(competition, settings.home)
    read_manifest(comp, settings)  # raises NotPrepared
    answers = prepared_file(comp, settings, f"private/{ANSWERS}")
    for name in ("train.csv", "test.csv", SAMPLE_SUBMISSION):
        prepared_file(comp, settings, f"public/{name}")
    folder = _created_folder(comp)
    if folder is not None and (folder / created_folder.METRIC_FILE).is_file():
        metric_text = (folder / created_folder.METRIC_FILE).read_text(encoding="utf-8")
    elif comp.metric.name in NAMED and len(comp.target_columns) == 1:
        metric_text = metric_source(comp.metric.name, comp.target_columns[0])
    elif folder is not None and (folder / created_folder.PROGRAM_DIR).is_dir():
        raise RawDataError(
            f"{comp.id}: scored by an imported Codabench scoring program, which has no "
            "metric in Kaggle's signature to write out"
        )
    else:
        raise RawDataError(
            f"{comp.id}: its metric '{shown(comp.metric.name)}' cannot be written out"
        )
    rules = Board(comp, settings).rules().facts
    return Source(
        comp=comp,
        public=settings.public_dir(comp.id),
        answers=answers,
        description=comp.description,
        rules={k: rules.get(k) for k in ("daily_limit", "deadline", "selections")},
        metric_text=metric_text,
        side={
            "id": comp.id,
            "title": comp.title,
            "task": "classification" if comp.task.is_classification else "regression",
            "metric": comp.metric.name,
            "greater_is_better": comp.metric.greater_is_better,
            "needs": comp.metric.needs.value,
            "id_column": comp.id_column,
            "target_columns": list(comp.target_columns),
            "seed": comp.seed,
            "public_fraction": comp.public_fraction,
            "rules": {k: rules.get(k) for k in ("daily_limit", "deadline", "selections")},
        },
    )


def _created_folder(comp: Competition) -> Path | None:
    raw = comp.embedded_raw
    if (
        raw is not None
        and raw.name == created_folder.DATA
        and (raw.parent / "competition.json").is_file()
    ):
        return raw.parent
    return None


def public_tables(source: Source, dest: Path) -> None:
    """The participants' three tables, as prepared."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("train.csv", "test.csv", SAMPLE_SUBMISSION):
        shutil.copyfile(source.public / name, dest / name)


# ---------------------------------------------------------------------------------------------
# The metric, written out in Kaggle's signature
# ---------------------------------------------------------------------------------------------

_HEADER = '''"""{name}, in Kaggle's signature: score(solution, submission, row_id_column_name).

Written by Harness from its own implementation (harness.metrics.{fn}); {direction}.
"""

import numpy as np
import pandas as pd

ArrayLike = object
LOG_LOSS_EPS = {eps!r}
TARGET = {target!r}


class ParticipantVisibleError(Exception):
    pass

'''

_WRAPPER = '''

def score(solution: pd.DataFrame, submission: pd.DataFrame, row_id_column_name: str) -> float:
    """{name} of the submission's TARGET against the solution's, matched by id."""
    if TARGET not in submission.columns:
        raise ParticipantVisibleError(f"the submission has no column {{TARGET!r}}")
    ids = solution[row_id_column_name]
    preds = submission.set_index(row_id_column_name)[TARGET]
    if preds.index.has_duplicates:
        raise ParticipantVisibleError("the submission repeats an id")
    missing = ~ids.isin(preds.index)
    if missing.any():
        raise ParticipantVisibleError(f"{{int(missing.sum())}} id(s) missing from the submission")
    y_pred = preds.loc[ids].to_numpy()
    try:
        return float({fn}(solution[TARGET].to_numpy(), y_pred))
    except ValueError as exc:
        raise ParticipantVisibleError(str(exc)) from None
'''


def metric_source(name: str, target: str) -> str:
    """The metric ``name`` of :data:`harness.metrics.NAMED` as a Kaggle metric file scoring
    the column ``target``: the functions themselves, so it scores exactly as Harness does."""
    from harness import metrics

    metric = NAMED[name][0]
    fn = metric.fn
    helpers: list[Any] = [metrics._check_pair, metrics._check_real, metrics._check_binary]
    body = "\n\n".join(inspect.getsource(f) for f in [*helpers, fn])
    return (
        _HEADER.format(
            name=name,
            fn=fn.__name__,
            direction=metric.direction,
            eps=metrics.LOG_LOSS_EPS,
            target=target,
        )
        + "\n"
        + body
        + _WRAPPER.format(name=name, fn=fn.__name__)
    )


def named_metric_of(text: str, target: str) -> str | None:
    """The name of the metric whose written-out file ``text`` is, byte for byte, or None."""
    for name in NAMED:
        if metric_source(name, target) == text:
            return name
    return None


# ---------------------------------------------------------------------------------------------
# Import
# ---------------------------------------------------------------------------------------------


def detect(folder: Path) -> str:
    """Which format the bundle in ``folder`` is."""
    if (folder / "conf.json").is_file():
        return "hf"
    if (folder / "competition.yaml").is_file():
        return "codabench"
    if (folder / "config.yaml").is_file() and (folder / "grade.py").is_file():
        return "mlebench"
    if (folder / "solution.csv").is_file():
        return "kaggle"
    present = ", ".join(sorted(p.name for p in folder.iterdir())[:8]) or "nothing"
    raise RawDataError(
        f"{folder}: not a bundle Harness reads (found: {present}); expected Kaggle's "
        "solution.csv, Hugging Face's conf.json, Codabench's competition.yaml or mle-bench's "
        "config.yaml with grade.py"
    )


@contextlib.contextmanager
def opened(path: Path) -> Iterator[Path]:
    """The bundle's folder: ``path`` itself, or a zip extracted (every member checked)."""
    from harness.data.sources import extract

    path = Path(path)
    if path.is_dir():
        yield path
        return
    if not path.is_file():
        raise RawDataError(f"{path}: no such file or folder")
    if path.suffix.lower() != ".zip":
        raise RawDataError(f"{path}: a bundle is a folder or a .zip")
    with tempfile.TemporaryDirectory(prefix="harness-import-") as tmp:
        extract(path, Path(tmp))
        root = Path(tmp)
        inside = list(root.iterdir())
        if len(inside) == 1 and inside[0].is_dir():  # a zip of the folder, not of its contents
            root = inside[0]
        yield root


def usage_of(values: Any, where: str, column: str) -> Any:
    """A bundle's public/private column (any case, spaces around) as Harness's ``Usage``
    values; refused at the first other value, with its line in ``where``."""
    halves = values.str.strip().str.lower()
    bad = (~halves.isin(["public", "private"])).to_numpy().nonzero()[0]
    if len(bad):
        raise RawDataError(
            f"{where}: '{shown(column)}' must be public or private, got "
            f"'{shown(values.iloc[bad[0]])}' (line {int(bad[0]) + 2})"
        )
    return halves.map({"public": PUBLIC, "private": PRIVATE})


def first_target(solution: Path, side: Mapping[str, Any]) -> str | None:
    """The (first) target column: from ``harness.json``, else the solution's header less the
    id (its first column) and the split column."""
    if side.get("target_columns"):
        return str(side["target_columns"][0])
    import pandas as pd

    header = [str(c) for c in pd.read_csv(solution, nrows=0).columns]
    rest = [c for c in header[1:] if c not in (USAGE, "split")]
    return rest[0] if rest else None


def declared_from(
    side: Mapping[str, Any],
    *,
    metric_text: str | None,
    target: str | None,
    metric_path: Path | None,
    greater_is_better: bool | None = None,
    metric_name: str | None = None,
) -> Declared:
    """What a bundle declares: its metric (a name, when its metric file is Harness's own
    for one; else the file) and what ``harness.json`` adds."""
    name = metric_name
    if name is None and metric_text is not None and target is not None:
        name = named_metric_of(metric_text, target)
    direction = side.get("greater_is_better", greater_is_better)
    return Declared(
        title=side.get("title"),
        metric=name,
        metric_file=None if name is not None else metric_path,
        greater_is_better=None if name is not None else direction,
        needs=None if name is not None else side.get("needs"),
        task=side.get("task"),
        id_column=side.get("id_column"),
        targets=tuple(side.get("target_columns") or ()),
        seed=int(side.get("seed", 0)),
        public_fraction=float(side.get("public_fraction", 0.5)),
    )
