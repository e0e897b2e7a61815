"""Code submissions: a participant's script (``.py``) or notebook (``.ipynb``) run on the
test in the sandbox (:mod:`harness.sandbox`), as in Kaggle's code competitions.

The contract (:data:`CONTRACT`): the code runs with its working directory an empty writable
folder holding a read-only ``input/`` (the competition's public files: ``train.csv``,
``test.csv``, ``sample_submission.csv``, …) and must write ``submission.csv`` there; that file
then takes the path of any submission (validate → score → record, :mod:`leaderboard.submit`).

It runs twice: first on the *example test* (the first :data:`EXAMPLE_ROWS` rows of the test,
what a code competition's participants download), its log shown in full; then on the full
test, whose output is never shown: only the status and the error's kind (time limit, memory,
exit code, no submission.csv, invalid output), and a runtime rounded up to the minute, so a
run cannot spell the hidden test out.
"""

from __future__ import annotations

import math
import shutil
import sys
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path

from harness.board.results import CodeResult
from harness.board.rules import Rules, now_utc
from harness.board.schema import CODE_TAG, RUNTIME_TAG
from harness.board.store import Leaderboard

from harness import sandbox
from harness.competition import Competition
from harness.errors import HarnessError, InvalidSubmission, RuleBroken
from harness.settings import Settings

EXAMPLE_ROWS = 5  # rows of the example test (Kaggle's are a handful)
SUFFIXES = (".py", ".ipynb")
TEST, SAMPLE = "test.csv", "sample_submission.csv"
OUTPUT = "submission.csv"
CODE_DIR = "/code"  # where the code itself is shown inside the sandbox, read-only

CONTRACT = """\
Your script (`.py`) or notebook (`.ipynb`, run top to bottom with nbclient) runs with its
working directory an empty writable folder that holds a read-only `input/` with the
competition's files (`input/train.csv`, `input/test.csv`, `input/sample_submission.csv`, …)
and must write `submission.csv` there, in the format of `input/sample_submission.csv`.
It runs without internet, as an unprivileged user, within the competition's time and memory
limits, and may import what the host's Python environment has. It runs first
on a small example test (its output shown in full), then on the hidden test: of that run you
see only whether it was scored, or the kind of error (time limit, memory, exit code, no
submission.csv, invalid output), and its runtime rounded up to the minute.

    harness submit COMPETITION --code solution.py -m "what changed"
"""

#: Runs a notebook inside the sandbox: nbclient executes every cell in a python3 kernel
#: started from the same environment, then the cells' printed output is shown.
NOTEBOOK_RUNNER = """\
import sys
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

nb = nbformat.read(sys.argv[1], as_version=4)
failed = None
try:
    NotebookClient(nb, timeout=None, kernel_name="python3",
                   resources={"metadata": {"path": "."}}).execute()
except CellExecutionError as error:
    failed = error
for cell in nb.cells:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            (sys.stderr if out.get("name") == "stderr" else sys.stdout).write(out.get("text", ""))
if failed is not None:
    print(failed, file=sys.stderr)
    sys.exit(1)
"""


class CodeFailed(HarnessError):
    """A code submission did not produce a valid ``submission.csv``; ``kind`` names why
    (``time limit``, ``memory``, ``exit code``, ``no submission.csv``, ``invalid output``);
    ``log`` is the example run's output where that run failed (never the test run's)."""

    status = 422

    def __init__(self, message: str, *, kind: str, log: str = "") -> None:
        self.kind = kind
        self.log = log
        super().__init__(message)


def check_code_competition(comp: Competition, settings: Settings) -> None:
    """A code competition needs a tabular test to run on: ``public/test.csv`` and
    ``public/sample_submission.csv``."""
    public = settings.public_dir(comp.id)
    missing = [name for name in (TEST, SAMPLE) if not (public / name).is_file()]
    if missing:
        raise RuleBroken(
            f"{comp.id} cannot be a code competition: its prepared files have no "
            + " or ".join(missing)
            + f" in {public} (code runs read input/{TEST} and write {OUTPUT})"
        )


def example_files(comp: Competition, settings: Settings) -> dict[str, Path]:
    """The example test and its sample submission (the first :data:`EXAMPLE_ROWS` rows of
    each), written once per preparation under ``<home>/cache``; by name."""
    import pandas as pd

    from harness.data.preparation import preparation_digest

    check_code_competition(comp, settings)
    public = settings.public_dir(comp.id)
    digest = preparation_digest(comp, settings)
    folder = settings.home / "cache" / comp.id / f"example-{digest[:16]}"
    out = {name: folder / name for name in (TEST, SAMPLE)}
    if all(p.is_file() for p in out.values()):
        return out
    folder.mkdir(parents=True, exist_ok=True)
    test = pd.read_csv(public / TEST, nrows=EXAMPLE_ROWS, dtype=str, keep_default_na=False)
    sample = pd.read_csv(public / SAMPLE, dtype=str, keep_default_na=False)
    if comp.id_column in test.columns and comp.id_column in sample.columns:
        sample = sample[sample[comp.id_column].isin(test[comp.id_column])]
    else:
        sample = sample.head(EXAMPLE_ROWS)
    for name, frame in ((TEST, test), (SAMPLE, sample)):
        with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, suffix=".part") as f:
            frame.to_csv(f, index=False)
        Path(f.name).chmod(0o644)
        Path(f.name).replace(out[name])
    return out


def input_files(comp: Competition, settings: Settings, *, example: bool) -> dict[str, Path]:
    """What ``input/`` shows a run: every public file (the example test in place of the
    test, with ``example``), by its path inside the sandbox."""
    public = settings.public_dir(comp.id)
    shown = {f"input/{p.name}": p for p in sorted(public.iterdir()) if not p.name.startswith(".")}
    if example:
        for name, path in example_files(comp, settings).items():
            shown[f"input/{name}"] = path
    return shown


def check_code(code: Path) -> None:
    """The code file exists and is a script or a notebook that parses."""
    if not code.is_file():
        raise HarnessError(f"{code}: no such file")
    if code.suffix.lower() not in SUFFIXES:
        raise HarnessError(
            f"{code.name}: a code submission is a script (.py) or a notebook (.ipynb), "
            f"got '{code.suffix or 'no suffix'}'"
        )
    if code.suffix.lower() == ".ipynb":
        try:
            import nbformat
        except ImportError:
            raise HarnessError(
                "notebooks need nbclient and ipykernel: pip install 'harness[code]'"
            ) from None
        try:
            nbformat.validate(nbformat.read(code, as_version=4))
        except Exception as exc:  # nbformat raises JSON, reader and validation errors
            raise HarnessError(f"{code.name}: not a notebook nbformat can read: {exc}") from None


def command(code: Path) -> list[str]:
    inside = f"{CODE_DIR}/{code.name}"
    if code.suffix.lower() == ".ipynb":
        return [sys.executable, "-c", NOTEBOOK_RUNNER, inside]
    return [sys.executable, inside]


def blurred(seconds: float) -> str:
    """A runtime as a participant sees it: rounded up to the minute, so a run's length
    cannot carry more than a few bits of the hidden test."""
    return f"under {max(1, math.ceil(seconds / 60))} min"


def run(
    comp: Competition,
    settings: Settings,
    code: Path,
    rules: Rules,
    *,
    example: bool,
    workdir: Path,
) -> sandbox.Outcome:
    """Run ``code`` once in the sandbox with ``workdir`` as its working directory."""
    env = {
        "JUPYTER_RUNTIME_DIR": "/tmp/jupyter",
        "JUPYTER_DATA_DIR": "/tmp/jupyter-data",
        "IPYTHONDIR": "/tmp/ipython",
    }
    binds = {**input_files(comp, settings, example=example), f"{CODE_DIR}/{code.name}": code}
    limits = sandbox.Limits(wall_seconds=rules.time_limit, memory_bytes=rules.memory)
    return sandbox.run(
        command(code),
        workdir=workdir,
        ro_binds=binds,
        limits=limits,
        env=env,
        hidden=[settings.home / "private", settings.home / "mlflow.db"],
    )


def _log(outcome: sandbox.Outcome) -> str:
    return outcome.stdout + ("\n" if outcome.stdout and outcome.stderr else "") + outcome.stderr


def _check_example_output(out: Path, sample: Path, log: str) -> None:
    """The example run's submission.csv: present, the sample's columns and ids (in full)."""
    import pandas as pd

    if not out.is_file():
        raise CodeFailed(
            f"the example run wrote no {OUTPUT} in its working directory",
            kind="no submission.csv",
            log=log,
        )
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    want = pd.read_csv(sample, dtype=str, keep_default_na=False)
    problems = []
    if list(got.columns) != list(want.columns):
        problems.append(f"columns {list(got.columns)}, expected {list(want.columns)}")
    elif len(got) != len(want):
        problems.append(f"{len(got)} rows, expected {len(want)} (one per example test row)")
    if problems:
        raise CodeFailed(
            f"the example run's {OUTPUT} does not follow input/{SAMPLE}: " + "; ".join(problems),
            kind="invalid output",
            log=log,
        )


def submit_code(
    comp: Competition,
    settings: Settings,
    code: Path,
    *,
    participant: str,
    message: str = "",
    display_name: str | None = None,
    progress: Callable[[str], None] | None = None,
    tags: Mapping[str, str] | None = None,
) -> CodeResult:
    """Run ``code`` on the example test (a failure raises :class:`CodeFailed` with its log
    in full and records nothing), then on the test (a failure is recorded with its kind only
    and raises :class:`CodeFailed` without the log), then submit its ``submission.csv``."""
    from harness.board.submit import check_limit, check_message, check_participant, submit

    say = progress or (lambda _: None)
    check_participant(participant)
    check_message(message)
    code = Path(code)
    check_code(code)
    check_code_competition(comp, settings)
    name = display_name or code.name
    board = Leaderboard(settings)
    rules = board.rules(comp)
    if rules.daily_limit is not None:  # fail fast, before the runs (the team's limit)
        check_limit(board, comp, participant, rules.daily_limit, now_utc())
    with tempfile.TemporaryDirectory(prefix="harness-code-") as tmp:
        staged = Path(tmp) / "code" / _safe_name(code)
        staged.parent.mkdir()
        shutil.copyfile(code, staged)
        staged.chmod(0o644)
        staged.parent.chmod(0o755)
        example_dir, hidden_dir = Path(tmp) / "example", Path(tmp) / "test"
        example_dir.mkdir()
        hidden_dir.mkdir()

        say(f"running {name} on the example test ({EXAMPLE_ROWS} rows)")
        example = run(comp, settings, staged, rules, example=True, workdir=example_dir)
        log = _log(example)
        if not example.ok:
            raise CodeFailed(
                f"{name} failed on the example test ({example.error})",
                kind=_kind(example),
                log=log,
            )
        _check_example_output(example_dir / OUTPUT, example_files(comp, settings)[SAMPLE], log)

        say(f"running {name} on the test (output hidden)")
        hidden = run(comp, settings, staged, rules, example=False, workdir=hidden_dir)
        runtime = blurred(hidden.seconds)
        out = hidden_dir / OUTPUT
        kind = _kind(hidden) if not hidden.ok else None
        if kind is None and not out.is_file():
            kind = "no submission.csv"
        if kind is None:
            from harness.data.validation import validate

            try:
                validate(comp, settings, out, name=OUTPUT)
            except InvalidSubmission:
                kind = "invalid output"
        if kind is not None:
            board.record_error(
                comp,
                participant=participant,
                kind="submission",
                message=message,
                file=name,
                error=f"code run on the test: {kind} ({runtime})",
                tags={CODE_TAG: name, **(tags or {})},
            )
            raise CodeFailed(
                f"{name} ran on the example test, but its run on the test ended in error: "
                f"{kind} ({runtime}; the output of a run on the test is not shown)",
                kind=kind,
            )
        got = submit(
            comp,
            settings,
            out,
            participant=participant,
            message=message,
            tags={CODE_TAG: name, RUNTIME_TAG: runtime, **(tags or {})},
            artifacts=[staged],
            display_name=name,
        )
    return CodeResult(result=got, example_log=log, runtime=runtime, code=name)


def _safe_name(code: Path) -> str:
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in code.stem)[:64] or "code"
    return stem + code.suffix.lower()


def _kind(outcome: sandbox.Outcome) -> str:
    """The error's kind a participant sees: no exit status (it could carry 8 bits)."""
    error = outcome.error or "exit code"
    return "exit code" if error.startswith(("exit code", "signal")) else error


def environment() -> list[str]:
    """What the sandbox's Python can import: each installed distribution and its version."""
    from importlib.metadata import distributions

    seen: dict[str, str] = {}
    for dist in distributions():
        name = dist.metadata["Name"]
        if name and name.lower() not in seen:
            seen[name.lower()] = f"{name} {dist.version}"
    return [seen[k] for k in sorted(seen)]


def contract(comp: Competition, rules: Rules) -> str:
    """The contract as ``describe`` shows it, with this competition's limits."""
    from harness.board.rules import duration, size

    head = (
        f"## Code submissions\n\n"
        f"{'This is a code competition: CSV files are refused. ' if rules.code_only else ''}"
        f"Time limit {duration(rules.time_limit)}, memory {size(rules.memory)} per process.\n\n"
    )
    text = head + CONTRACT.replace("COMPETITION", comp.id)
    if rules.code_only:  # the full list where code is the only way in
        text += f"\nImportable: {', '.join(environment())}.\n"
    return text


__all__ = [
    "CONTRACT",
    "CodeFailed",
    "check_code",
    "check_code_competition",
    "contract",
    "example_files",
    "input_files",
    "submit_code",
]
