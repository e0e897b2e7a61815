"""Codabench v2 competition bundles: a zip with ``competition.yaml`` at its root.

Export layout::

    competition.yaml            version 2: title, description, pages, one task, one phase
                                (its end the deadline, max_submissions_per_day the daily
                                limit), a leaderboard with a public and a private column
    pages/overview.md, pages/evaluation.md, pages/terms.md
    public_data/                train.csv, test.csv, sample_submission.csv
    reference_data/solution.csv the id, the targets and Usage
    scoring_program/            metadata.yaml (``command: python3 $program/scoring.py $input
                                $output``), scoring.py and metric.py (Kaggle's signature)
    solution/sample_submission.csv   an example submission

``scoring.py`` runs as Codabench runs it, ``python scoring.py input output`` with the
reference data in ``input/ref`` and the submission in ``input/res``, and writes
``output/scores.json`` (``{"public": …, "private": …}``).

On import, a bundle whose ``scoring_program`` holds a ``metric.py`` (Harness's exports do) is
scored by that file in Kaggle's signature. Any other bundle is scored by its own scoring
program, kept with the competition (``scoring_program/`` and ``reference_data/`` in its folder)
and never run at import except by the create-time check, in the sandbox: when the host scores,
its metadata's command (``python3 $program/score.py $input $output``; no shell, ``python`` the
sandbox's) runs once per half with ``input/ref`` holding the one reference CSV with the id
column cut to that half's rows (its name, columns and order kept; the other reference files as
they are) and ``input/res`` the submission cut to the same ids (named as the bundle's example
solution, else ``submission.csv``). The score is the value under the leaderboard's first
column's key in ``output/scores.json`` (or a legacy ``scores.txt``), its direction that column's
sorting. The halves are the reference CSV's ``Usage``/``split`` column, else Harness's seeded
split. Whatever the program prints or raises goes to the host's ``metric.log`` only
(:class:`harness.data.metric_file.ScoringProgram`).
"""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path
from typing import Any

from harness.authoring.bundles import (
    METRIC,
    Incoming,
    Source,
    declared_from,
    first_target,
    public_tables,
    usage_of,
)
from harness.authoring.create import Declared, Program
from harness.competitions.folder import shown
from harness.data.preparation import SAMPLE_SUBMISSION, USAGE
from harness.errors import RawDataError

SCORING = '''"""Codabench scoring program: python scoring.py INPUT OUTPUT.

INPUT/ref/solution.csv holds the id, the targets and Usage (Public/Private); INPUT/res holds the
participant's CSV. metric.py (beside this file) is the metric in Kaggle's signature. Writes
OUTPUT/scores.json with the public and the private score. Written by Harness.
"""

import json
import sys
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import metric  # noqa: E402

ID_COLUMN = {id_column!r}


def main(input_dir: Path, output_dir: Path) -> None:
    solution = pd.read_csv(input_dir / "ref" / "solution.csv")
    found = sorted((input_dir / "res").rglob("*.csv"))
    if len(found) != 1:
        sys.exit(f"the submission must be one CSV file, found {{len(found)}}")
    submission = pd.read_csv(found[0])
    if submission[ID_COLUMN].duplicated().any():
        sys.exit("the submission repeats an id")
    missing = ~solution[ID_COLUMN].isin(submission[ID_COLUMN])
    if missing.any():
        sys.exit(f"{{int(missing.sum())}} id(s) missing from the submission")
    # in the solution's row order, as Harness gives it to the metric
    submission = submission.set_index(ID_COLUMN).loc[solution[ID_COLUMN]].reset_index()
    scores = {{}}
    for key, usage in (("public", "Public"), ("private", "Private")):
        rows = (solution["Usage"] == usage).to_numpy()
        truth = solution[rows].drop(columns=["Usage"]).reset_index(drop=True)
        preds = submission[rows].reset_index(drop=True)
        scores[key] = float(metric.score(truth, preds, ID_COLUMN))
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "scores.json").write_text(json.dumps(scores))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
'''

METADATA = "command: python3 $program/scoring.py $input $output\ndescription: Harness's scorer\n"


def export(source: Source, out: Path) -> None:
    import yaml

    comp, rules = source.comp, source.rules
    public_tables(source, out / "public_data")
    (out / "reference_data").mkdir()
    shutil.copyfile(source.answers, out / "reference_data" / "solution.csv")
    program = out / "scoring_program"
    program.mkdir()
    (program / "metadata.yaml").write_text(METADATA, encoding="utf-8")
    (program / "scoring.py").write_text(SCORING.format(id_column=comp.id_column), encoding="utf-8")
    (program / METRIC).write_text(source.metric_text, encoding="utf-8")
    (out / "solution").mkdir()
    shutil.copyfile(source.public / SAMPLE_SUBMISSION, out / "solution" / SAMPLE_SUBMISSION)
    pages = out / "pages"
    pages.mkdir()
    (pages / "overview.md").write_text(source.description.strip() + "\n", encoding="utf-8")
    (pages / "evaluation.md").write_text(
        f"Metric: {comp.metric.name} ({comp.metric.direction}). The test rows are split into "
        "a public and a private part; the leaderboard shows both columns.\n",
        encoding="utf-8",
    )
    (pages / "terms.md").write_text("As the host states them.\n", encoding="utf-8")
    phase: dict[str, Any] = {
        "index": 0,
        "name": "Competition",
        "description": comp.title,
        "start": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d"),
        "tasks": [0],
        "public_data": "public_data",
    }
    if rules.get("deadline"):
        phase["end"] = rules["deadline"]
    if rules.get("daily_limit"):
        phase["max_submissions_per_day"] = int(rules["daily_limit"])
    sorting = "desc" if comp.metric.greater_is_better else "asc"
    config = {
        "version": 2,
        "title": comp.title,
        "description": comp.title,
        "docker_image": "codalab/codalab-legacy:py39",
        "registration_auto_approve": True,
        "terms": "pages/terms.md",
        "pages": [
            {"title": "Overview", "file": "pages/overview.md"},
            {"title": "Evaluation", "file": "pages/evaluation.md"},
        ],
        "tasks": [
            {
                "index": 0,
                "name": comp.title,
                "description": f"{comp.metric.name} on the test rows",
                "reference_data": "reference_data/",
                "scoring_program": "scoring_program/",
            }
        ],
        "solutions": [{"index": 0, "tasks": [0], "path": "solution/"}],
        "phases": [phase],
        "leaderboards": [
            {
                "title": "Results",
                "key": "main",
                "submission_rule": "Force_Last",
                "columns": [
                    {
                        "title": f"{comp.metric.name} ({half})",
                        "key": half,
                        "index": i,
                        "sorting": sorting,
                    }
                    for i, half in enumerate(("public", "private"))
                ],
            }
        ],
    }
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    (out / "competition.yaml").write_text(text, encoding="utf-8")


def read(root: Path, work: Path, side: dict[str, Any], data: Path | None) -> Incoming:
    import yaml

    try:
        config = yaml.safe_load((root / "competition.yaml").read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RawDataError(f"competition.yaml: not YAML: {exc}") from None
    if not isinstance(config, dict):
        raise RawDataError("competition.yaml: not a mapping")
    tasks = config.get("tasks") or []
    phases = config.get("phases") or []
    if not tasks or not phases:
        raise RawDataError("competition.yaml: needs a task and a phase (version 2 bundle)")
    task, phase = tasks[0], phases[0]
    reference = _inside(root, str(task.get("reference_data", "")), "reference_data")
    program = _inside(root, str(task.get("scoring_program", "")), "scoring_program")
    public = _inside(root, str(phase.get("public_data") or "public_data"), "public_data")
    source = work / "folder"
    source.mkdir()
    for name in ("train.csv", "test.csv"):
        if not (public / name).is_file():
            raise RawDataError(f"competition.yaml: the phase's public_data has no {name}")
        shutil.copyfile(public / name, source / name)
    pages = config.get("pages") or []
    overview = _inside(root, str(pages[0].get("file", "")), "pages") if pages else None
    if overview is not None and overview.is_file():
        shutil.copyfile(overview, source / "description.md")
    columns = ((config.get("leaderboards") or [{}])[0].get("columns")) or [{}]
    columns = sorted(columns, key=lambda c: int(c.get("index", 0) or 0))
    sorting = str(columns[0].get("sorting", "")).lower()
    higher = {"desc": True, "asc": False}.get(sorting)
    side = {**side, "title": side.get("title") or config.get("title")}
    metric = program / METRIC
    if not metric.is_file():  # the bundle's own scoring program scores
        declared = _program(
            root, config, columns[0], program, reference, public, source, side, higher
        )
    else:  # a metric in Kaggle's signature (Harness's own export has one)
        if not (reference / "solution.csv").is_file():
            raise RawDataError("competition.yaml: the task's reference_data has no solution.csv")
        shutil.copyfile(reference / "solution.csv", source / "solution.csv")
        declared = declared_from(
            side,
            metric_text=metric.read_text(encoding="utf-8"),
            target=first_target(source / "solution.csv", side),
            metric_path=metric,
            greater_is_better=higher,
        )
    rules: dict[str, Any] = dict(side.get("rules") or {})
    if phase.get("end"):
        rules["deadline"] = _when(phase["end"])
    if phase.get("max_submissions_per_day"):
        rules["daily_limit"] = int(phase["max_submissions_per_day"])
    return Incoming(source, declared, rules=rules)


def _program(
    root: Path,
    config: dict[str, Any],
    first: dict[str, Any],
    program: Path,
    reference: Path,
    public: Path,
    source: Path,
    side: dict[str, Any],
    higher: bool | None,
) -> Declared:
    """A bundle whose scoring program is its own (no metric.py): the program is kept and run
    when the host scores; the reference CSV holding the id column becomes the answers. The
    score is the leaderboard's ``first`` column, its direction that column's sorting."""
    key = str(first.get("key") or "").strip()
    if not key:
        raise RawDataError("competition.yaml: the leaderboard's first column has no key")
    import pandas as pd
    import yaml

    from harness.data.metric_file import program_argv
    from harness.data.writers import write_csv

    metas = [program / n for n in ("metadata.yaml", "metadata") if (program / n).is_file()]
    if not metas:
        raise RawDataError(
            "scoring_program: no metric.py and no metadata.yaml with the command that runs it"
        )
    meta = metas[0]
    try:
        command = (yaml.safe_load(meta.read_text(encoding="utf-8")) or {}).get("command")
    except (yaml.YAMLError, AttributeError) as exc:
        raise RawDataError(f"scoring_program/{meta.name}: not a YAML mapping: {exc}") from None
    if not isinstance(command, str) or not command.strip():
        raise RawDataError(f"scoring_program/{meta.name}: no command")
    try:
        program_argv(command)
    except ValueError as exc:
        raise RawDataError(f"scoring_program/{meta.name}: {exc}") from None
    for path in (*program.rglob("*"), *reference.rglob("*")):
        if path.is_symlink():
            raise RawDataError(f"{path.relative_to(root)}: a link; a bundle holds plain files")
    id_column = side.get("id_column") or _header(public / "test.csv")[0]
    found = sorted(p for p in reference.rglob("*") if p.is_file())
    tables = [p for p in found if p.suffix.lower() == ".csv" and id_column in _header(p)]
    if len(tables) != 1:
        names = ", ".join(shown(p.relative_to(reference)) for p in found[:8]) or "no file"
        raise RawDataError(
            f"reference_data: needs exactly one CSV with the id column '{shown(id_column)}' "
            f"(test.csv's first column), found {len(tables)} among: {names}"
        )
    answers = tables[0]
    name = shown(answers.relative_to(reference))
    frame = pd.read_csv(answers, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    split = next((c for c in (USAGE, "usage", "split", "Split") if c in frame.columns), None)
    train = _header(public / "train.csv")
    if side.get("target_columns"):
        targets = [str(c) for c in side["target_columns"]]
    elif (public / SAMPLE_SUBMISSION).is_file():
        targets = [c for c in _header(public / SAMPLE_SUBMISSION) if c != id_column]
    else:
        targets = [c for c in frame.columns if c not in (id_column, split) and c in train]
    missing = [c for c in targets if c not in frame.columns]
    if not targets or missing:
        raise RawDataError(
            f"reference_data/{name}: no target column{' ' + repr(missing[0]) if missing else ''}"
            f" (it has {', '.join(map(repr, list(frame.columns)[:8]))}; train.csv has "
            f"{', '.join(map(repr, train[:8]))})"
        )
    solution = frame[[id_column, *targets]].copy()
    if split is not None:
        solution[USAGE] = usage_of(frame[split], f"reference_data/{name}", split)
    write_csv(solution, source / "solution.csv")
    return Declared(
        title=side.get("title"),
        greater_is_better=side.get("greater_is_better", higher),
        needs=side.get("needs"),
        task=side.get("task"),
        id_column=id_column,
        targets=tuple(targets),
        seed=int(side.get("seed", 0)),
        public_fraction=float(side.get("public_fraction", 0.5)),
        program=Program(
            folder=program,
            command=command.strip(),
            reference_data=reference,
            reference_file=str(answers.relative_to(reference)),
            key=key,
            submission=_example_name(root, config),
        ),
    )


def _example_name(root: Path, config: dict[str, Any]) -> str:
    """The file name a submission has in ``input/res``: that of the bundle's example
    solution where it is one CSV, else ``submission.csv``."""
    for solution in config.get("solutions") or []:
        folder = _inside(root, str(solution.get("path", "")), "solutions")
        found = sorted(folder.glob("*.csv")) if folder.is_dir() else []
        if len(found) == 1:
            return found[0].name
    return "submission.csv"


def _header(path: Path) -> list[str]:
    import pandas as pd

    try:
        return [str(c) for c in pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns]
    except (ValueError, UnicodeDecodeError) as exc:
        raise RawDataError(f"{path.name}: not a readable CSV: {exc}") from None


def _inside(root: Path, rel: str, what: str) -> Path:
    """``rel`` (a path the YAML names) under ``root``, refused if it leaves it."""
    path = (root / rel.strip().rstrip("/")).resolve()
    if not path.is_relative_to(root.resolve()):
        raise RawDataError(f"competition.yaml: {what} '{shown(rel)}' points outside the bundle")
    return path


def _when(value: Any) -> str:
    """A phase's end (YAML may have parsed it as a date or a datetime) as an ISO time."""
    if isinstance(value, dt.datetime):
        when = value if value.tzinfo else value.replace(tzinfo=dt.UTC)
        return when.isoformat()
    if isinstance(value, dt.date):
        return f"{value.isoformat()}T00:00:00+00:00"
    text = str(value).strip()
    for fmt in ("%m-%d-%Y", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S"):
        try:
            return dt.datetime.strptime(text, fmt).replace(tzinfo=dt.UTC).isoformat()
        except ValueError:
            pass
    return text  # ISO: the rules parse it, or say it does not
