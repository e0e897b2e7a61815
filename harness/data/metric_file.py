"""A metric file: the host's metric in Kaggle's signature, ``score(solution, submission,
row_id_column_name) -> float``, run in a process of its own, never in Harness's
(:mod:`harness.data.metric_runner` is what that process runs).

Kaggle's visibility rule holds: a ``ParticipantVisibleError``'s text reaches the participant;
any other failure (an exception, NaN, not a number) reaches them as "the metric failed (the host
has the details)" and its traceback goes to the host's log only (``metric.log`` beside the
metric file, and the ``harness.metric`` logger).

The runner runs in the sandbox of code submissions (:mod:`harness.sandbox`): no network, none
of the host's files but the Python environment and a temporary folder holding the metric file,
the solution and the submission. A host without it refuses metric files (SandboxUnavailable).

A metric file may also be Hugging Face's, defining only ``compute(params)``: the runner gives it
the files it would fetch from the hub (see :mod:`harness.data.metric_runner`).

A Codabench scoring program (:class:`ScoringProgram`) is the other kind of host code: the
bundle's own program, run by its metadata's command (``python3 $program/score.py $input
$output``) in the same sandbox, once per half, with ``input/ref`` holding the reference CSV cut to
that half's rows and ``input/res`` the submission cut to the same ids; it writes
``output/scores.json`` (or a legacy ``scores.txt``) and the leaderboard column's key is the
score. The same visibility rule holds: whatever it prints or raises stays with the host.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import os
import re
import shlex
import shutil
import sys
import tempfile
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn

import numpy as np

from harness.errors import MetricFailed

if TYPE_CHECKING:
    import pandas as pd

RUNNER = Path(__file__).with_name("metric_runner.py")
SECONDS = 600  # a metric file's run may take this long before it is killed
MEMORY = 8 << 30  # bytes of address space it may take (pandas on a large solution)
HIDDEN = "the metric failed (the host has the details)"
log = logging.getLogger("harness.metric")


@dataclass(frozen=True)
class MetricFile:
    """The metric file ``path`` of a competition whose ids are in ``id_column``."""

    path: Path
    id_column: str
    target_columns: tuple[str, ...]
    call: str | None = None  # "score" (Kaggle), "compute" (Hugging Face); None: what it has

    what: ClassVar[str] = "metric.py"  # what a host's message names

    @property
    def log_path(self) -> Path:
        return self.path.with_name("metric.log")

    def __call__(self, y_true: Any, y_pred: Any) -> float:
        """The metric on aligned arrays (rows numbered as ids), as :class:`Metric` calls it:
        the baselines' cross-validation."""
        ids = np.arange(len(np.asarray(y_true)))
        truth = _columns(y_true, self.target_columns)
        preds = _columns(y_pred, self.target_columns)
        solution = {self.id_column: ids, **truth, "Usage": np.full(len(ids), "Public")}
        return self.run(solution, {self.id_column: ids, **preds}, {"public": "Public"})["public"]

    def table(
        self, answers: Path, ids: np.ndarray, predictions: Mapping[str, np.ndarray], halves: Any
    ) -> dict[str, float]:
        """The metric on the prepared answers (``answers.csv``: id, targets, Usage) and a
        validated submission in the answers' order; ``halves``: "public" and maybe "private"."""
        submission = {self.id_column: ids, **predictions}
        usage = {"public": "Public", "private": "Private"}
        return self.run(answers, submission, {h: usage[h] for h in halves})

    def run(
        self,
        solution: Path | Mapping[str, Any],
        submission: Mapping[str, Any],
        halves: Mapping[str, str],
    ) -> dict[str, float]:
        import pandas as pd

        with tempfile.TemporaryDirectory(prefix="harness-metric-") as tmp:
            work = Path(tmp)
            shutil.copyfile(self.path, work / "metric.py")
            if isinstance(solution, Path):
                shutil.copyfile(solution, work / "solution.csv")
            else:
                pd.DataFrame(dict(solution)).to_csv(work / "solution.csv", index=False)
            pd.DataFrame(dict(submission)).to_csv(work / "submission.csv", index=False)
            request = {"id_column": self.id_column, "halves": dict(halves), "call": self.call}
            (work / "request.json").write_text(json.dumps(request), encoding="utf-8")
            shutil.copyfile(RUNNER, work / "runner.py")
            ran = execute(work, SECONDS)
            result_file = work / "result.json"
            if not result_file.is_file():
                self._host_log(f"the metric's process ended without a result:\n{ran}")
                raise MetricFailed(HIDDEN, ran)
            result = json.loads(result_file.read_text(encoding="utf-8"))
        if "visible" in result:
            raise MetricFailed(str(result["visible"]))
        if "failed" in result:
            self._host_log(str(result["failed"]))
            raise MetricFailed(HIDDEN, str(result["failed"]))
        return {str(k): float(v) for k, v in result["scores"].items()}

    def _host_log(self, text: str) -> None:
        _host_log(self.log_path, self.path, text)


def _host_log(log_path: Path, source: Path, text: str) -> None:
    """``text`` (a traceback, a program's output) into the host's ``metric.log`` and the
    ``harness.metric`` logger: never to the participant."""
    log.error("%s: %s", source, text)
    try:
        with open(log_path, "a", encoding="utf-8") as f:
            when = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            f.write(f"--- {when} {source.name}\n{text.rstrip()}\n")
    except OSError:
        pass  # the logger has it


def _columns(values: Any, names: Sequence[str]) -> dict[str, np.ndarray]:
    array = np.asarray(values)
    if array.ndim == 1:
        return {names[0]: array}
    return {name: array[:, i] for i, name in enumerate(names)}


def execute(work: Path, seconds: float) -> str:
    """Run ``runner.py`` on ``work`` in the sandbox (:mod:`harness.sandbox`: no network, nothing
    of the host but the Python environment and ``work``); what it printed, for the host.
    Raises SandboxUnavailable where the host cannot sandbox: a metric file never runs bare."""
    from harness.sandbox import WORKDIR

    return _sandboxed([sys.executable, "-I", f"{WORKDIR}/runner.py", WORKDIR], work, seconds)[1]


def _sandboxed(
    argv: Sequence[str],
    work: Path,
    seconds: float,
    *,
    ro_binds: Mapping[str, Path] | None = None,
    chdir: str | None = None,
) -> tuple[bool, str]:
    """Run ``argv`` in the sandbox on ``work``: whether it exited 0, and what it printed."""
    from harness.sandbox import WORKDIR, Limits, run

    outcome = run(
        argv,
        workdir=work,
        ro_binds=ro_binds,
        limits=Limits(wall_seconds=seconds, memory_bytes=MEMORY),
        chdir=chdir or WORKDIR,
    )
    ended = outcome.error or "exit 0"
    return outcome.ok, (
        f"{ended} after {outcome.seconds:.1f} s\n{outcome.stdout[-4000:]}{outcome.stderr[-4000:]}"
    )


# ---------------------------------------------------------------------------------------------
# A Codabench scoring program
# ---------------------------------------------------------------------------------------------

#: The interpreters a scoring program's command may name; each runs as the sandbox's Python.
PYTHON = re.compile(r"python(3(\.\d+)?)?")
#: Codabench's variables in a command, as its compute worker substitutes them for a scoring run.
VARIABLES = {
    "program": "program",
    "ingestion_program": "program",
    "input": "input",
    "output": "output",
    "tmp": "output",
    "shared": "shared",
    "hidden": "input/ref",
    "predictions": "input/res",
    "submission_program": "submission_program",
}
SCORES_JSON, SCORES_TXT = "scores.json", "scores.txt"


def program_argv(command: str) -> list[str]:
    """The argv a scoring program's ``command`` runs as, inside the sandbox: no shell (the
    command is split as a shell would, nothing else of a shell), ``python``/``python3`` the
    sandbox's interpreter, Codabench's ``$program``, ``$input``, ``$output``, … its folders.
    Raises ValueError naming what it cannot run."""
    from harness.sandbox import WORKDIR

    try:
        words = shlex.split(command)
    except ValueError as exc:
        raise ValueError(f"the command does not split into words: {exc}") from None
    if not words:
        raise ValueError("the command is empty")
    if not PYTHON.fullmatch(Path(words[0]).name):
        raise ValueError(
            f"the command must start with python or python3 (Harness runs Python scoring "
            f"programs only), got '{words[0][:60]}'"
        )
    if any(w in ("|", "||", "&&", ";", ">", "<", "&") for w in words):
        raise ValueError("the command is a shell line (|, &&, ;, >): give one python command")

    def inside(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        if name not in VARIABLES:
            raise ValueError(
                f"the command names ${name}, which Codabench does not give a scoring program "
                f"(known: {', '.join('$' + v for v in VARIABLES)})"
            )
        return f"{WORKDIR}/{VARIABLES[name]}"

    pattern = re.compile(r"\$\{(\w+)\}|\$(\w+)")
    return [sys.executable, *(pattern.sub(inside, w) for w in words[1:])]


@dataclass(frozen=True)
class ScoringProgram:
    """A Codabench scoring program kept in a competition's folder: the program's ``folder``
    (as the bundle had it) run by ``command``; ``reference`` the answers CSV among the reference
    files (the other files in its folder are given to the program as they are); ``key`` the
    leaderboard column whose value in ``scores.json`` is the score; ``submission`` the file name
    the program finds the submission under in ``input/res``."""

    folder: Path
    command: str
    reference: Path
    key: str
    submission: str
    id_column: str
    target_columns: tuple[str, ...]

    what: ClassVar[str] = "scoring_program"

    @property
    def log_path(self) -> Path:
        return self.folder.parent / "metric.log"

    def __call__(self, y_true: Any, y_pred: Any) -> float:
        """The program on aligned arrays (rows numbered as ids): the baselines' folds. Its
        reference holds the id and the target columns only."""
        import pandas as pd

        ids = np.arange(len(np.asarray(y_true))).astype(str)
        truth = pd.DataFrame({self.id_column: ids, **_columns(y_true, self.target_columns)})
        preds = pd.DataFrame({self.id_column: ids, **_columns(y_pred, self.target_columns)})
        return self._half("a fold", truth, preds)

    def table(
        self, answers: Path, ids: np.ndarray, predictions: Mapping[str, np.ndarray], halves: Any
    ) -> dict[str, float]:
        """The program on each half of the prepared answers (``answers.csv``: id, targets,
        Usage) for a validated submission in the answers' order; one sandboxed run per half,
        the halves side by side."""
        import pandas as pd

        answer = pd.read_csv(
            answers, dtype=str, keep_default_na=False, usecols=[self.id_column, "Usage"]
        )
        reference = pd.read_csv(
            self.reference, dtype=str, keep_default_na=False, encoding="utf-8-sig"
        )
        submission = pd.DataFrame(
            {c: np.asarray(predictions[c]) for c in self.target_columns},
            index=answer[self.id_column].to_numpy(),
        )
        usage = {"public": "Public", "private": "Private"}
        parts = {}
        for half in halves:
            chosen = answer.loc[answer["Usage"] == usage[half], self.id_column]
            rows = reference[reference[self.id_column].isin(set(chosen))]
            preds = submission.loc[rows[self.id_column].to_numpy()]
            preds.index.name = self.id_column
            parts[half] = (rows, preds.reset_index())
        with ThreadPoolExecutor(max_workers=max(1, len(parts))) as pool:
            running = {h: pool.submit(self._half, h, *part) for h, part in parts.items()}
            return {h: future.result() for h, future in running.items()}

    def _half(self, half: str, reference: pd.DataFrame, submission: pd.DataFrame) -> float:
        """One run: ``reference`` and ``submission`` (the same ids, the same order) as
        Codabench lays them out; the score the program writes under :attr:`key`."""
        from harness.sandbox import WORKDIR

        argv = program_argv(self.command)
        with tempfile.TemporaryDirectory(prefix="harness-program-") as tmp:
            work = Path(tmp)
            ref, res, out = work / "input" / "ref", work / "input" / "res", work / "output"
            for folder in (ref, res, out, work / "shared", work / "submission_program"):
                folder.mkdir(parents=True)
            for path in sorted(self.reference.parent.rglob("*")):  # the other reference files
                if path.is_file() and not path.is_symlink() and path != self.reference:
                    copy = ref / path.relative_to(self.reference.parent)
                    copy.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, copy)
            reference.to_csv(ref / self.reference.name, index=False)
            submission.to_csv(res / self.submission, index=False)
            for folder in (out, work / "shared"):  # the program's uid may write there
                os.chmod(folder, 0o777)
            ok, ran = _sandboxed(
                argv,
                work,
                SECONDS,
                ro_binds={"program": self.folder},
                chdir=f"{WORKDIR}/program",
            )
            got = _program_scores(out) if ok else None
        where = f"scoring_program on {half}: {shlex.join(argv[1:])}"
        if not ok:  # its output's last line (an exception, say) last
            self._fail(f"{where}: the program failed: {ran}")
        if isinstance(got, str):
            self._fail(f"{where}: {ran.rstrip()}\n{got}")
        assert got is not None
        if self.key in got:
            value = got[self.key]
        elif len(got) == 1:
            value = next(iter(got.values()))
        else:
            found = ", ".join(map(str, list(got)[:8])) or "none"
            self._fail(
                f"{where}: {ran.rstrip()}\n{SCORES_JSON} has no key '{self.key}' (the "
                f"leaderboard's column); it has {found}"
            )
        if isinstance(value, bool) or not isinstance(value, int | float):
            self._fail(
                f"{where}: {ran.rstrip()}\nthe score is {type(value).__name__}, not a number"
            )
        if not math.isfinite(float(value)):
            self._fail(f"{where}: {ran.rstrip()}\nthe score is {value}")
        return float(value)

    def _fail(self, text: str) -> NoReturn:
        _host_log(self.log_path, self.folder, text)
        raise MetricFailed(HIDDEN, text)


def _program_scores(out: Path) -> dict[str, Any] | str:
    """What a program wrote: ``scores.json`` (an object), else a legacy ``scores.txt``
    (``key: value`` lines), or why there is nothing to read."""
    path = out / SCORES_JSON
    if path.is_file():
        try:
            got = json.loads(path.read_bytes()[: 1 << 20])
        except ValueError as exc:
            return f"{SCORES_JSON} is not JSON: {exc}"
        return got if isinstance(got, dict) else f"{SCORES_JSON} is not an object"
    path = out / SCORES_TXT
    if path.is_file():
        scores: dict[str, Any] = {}
        for line in path.read_text(encoding="utf-8", errors="replace")[: 1 << 20].splitlines():
            key, colon, value = line.partition(":")
            if colon and key.strip():
                try:
                    scores[key.strip()] = float(value.strip())
                except ValueError:
                    scores[key.strip()] = value.strip()
        return scores
    return f"the program wrote neither {SCORES_JSON} nor {SCORES_TXT} in $output"
