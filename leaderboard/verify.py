"""``harness verify``: check that the answers, the recorded submissions and the index still say
what they said when they were written, and say what differs.

For one prepared competition, :func:`verify` checks, in order:

1. the answers: re-derived from the raw data when it is at hand (``--raw``, a previous
   download, or the data embedded in the package) by preparing into a temporary home, and
   compared with the installed manifest and with the installed files' bytes; without raw data
   only the installed files are checked against the manifest;
2. every recorded submission's artifact against its ``harness.sha256`` tag;
3. every submission regraded from its artifact (validated and scored against the installed
   answers) against its recorded public and private scores (and the scoring's extra metrics);
4. the index file (``cache/runs-*.json``) against MLflow read in full: its signature, the
   rebuilds it needed since the last verify (``cache/index-events.jsonl``), and every run's
   fields; an index that differs is rebuilt from MLflow;
5. runs still RUNNING after the grace period (a submit killed midway): reported, and swept
   with ``sweep`` when the store can (``Leaderboard.sweep_stale``). They are warnings, not
   findings: nothing recorded differs.
6. the experiment's tags for MLflow's UI (``harness.board.schema.UI_TAGS``): added when missing
   (an experiment made before Harness wrote them), with a note.

Every difference is a :class:`Finding`; ``harness verify`` prints one line each and exits 1
when there is any.
"""

from __future__ import annotations

import json
import math
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from harness.board.index import (
    EVENTS,
    STALE_MS,
    RunIndex,
    is_entry,
    read_state,
    run_row,
    search,
)
from harness.board.schema import (
    ARTIFACT_TAG,
    ERROR,
    FILE_TAG,
    KIND_TAG,
    PARTICIPANT_TAG,
    PRIVATE_SCORE,
    PUBLIC_SCORE,
    SELECTION,
    SHA256_TAG,
    STATUS_TAG,
)
from harness.board.store import Leaderboard

from harness.competition import Competition
from harness.errors import HarnessError
from harness.files import sha256_file
from harness.settings import Settings

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Run

TOLERANCE = 1e-12  # a regraded score within this of the recorded one is the same
FIELDS = ("participant", "kind", "message", "start", "status")

Progress = Callable[[str, int, int | None], None]  # (what, done, total or None)


@dataclass(frozen=True)
class Finding:
    """One difference: ``check`` is answers, artifact, regrade or index."""

    competition: str
    check: str
    message: str  # the line printed after "<competition>: "
    run_id: str | None = None

    def __str__(self) -> str:
        return f"{self.competition}: {self.message}"


@dataclass
class VerifyReport:
    """What :func:`verify` found for one competition."""

    competition: str
    findings: list[Finding] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)  # stale runs: nothing differs
    notes: list[str] = field(default_factory=list)  # what was (not) checked, what was done
    submissions: int = 0  # finished submissions checked
    rederived: str | None = None  # where the answers were re-derived from, or None
    regraded: int = 0  # distinct artifacts validated and scored
    stale: list[str] = field(default_factory=list)  # run ids RUNNING past the grace period
    swept: list[str] = field(default_factory=list)
    index_rebuilt: bool = False

    @property
    def ok(self) -> bool:
        return not self.findings

    def add(self, check: str, message: str, run_id: str | None = None) -> None:
        self.findings.append(Finding(self.competition, check, message, run_id))


def verify(
    comp: Competition,
    settings: Settings,
    *,
    raw: Path | None = None,
    sweep: bool = False,
    grace_ms: int = STALE_MS,
    progress: Progress | None = None,
) -> VerifyReport:
    """Check ``comp``'s answers, submissions and index (see the module docstring)."""
    from harness.data.preparation import read_manifest

    say = progress or (lambda _what, _done, _total: None)
    report = VerifyReport(comp.id)
    manifest = read_manifest(comp, settings)  # NotPrepared when it is not
    _check_answers(comp, settings, manifest, raw, report, say)

    board = Leaderboard(settings)
    with board.errors():
        experiment = board.experiment_id(comp, create=False)
        if experiment is None:
            report.notes.append("no submissions recorded")
            return report
        _check_ui_tags(board, comp, report)
        client = board.client
        say("reading the runs from MLflow", 0, None)
        runs = [r for r in search(client, experiment, "", _active()) if is_entry(r)]
        finished = [r for r in runs if r.info.status == "FINISHED" and _scored(r)]
        report.submissions = len(finished)
        _check_submissions(comp, settings, client, finished, report, say)
        _check_stale(comp, board, runs, sweep, grace_ms, report)
        ours = set(report.swept)  # what verify changed itself is no difference
        runs = [client.get_run(r.info.run_id) if r.info.run_id in ours else r for r in runs]
        index = RunIndex(settings.cache_dir, board.uri, experiment, local=board.is_local)
        _check_index(index, client, runs, report, say, ours)
    return report


def summary(report: VerifyReport) -> str:
    """One line: what was checked and how many findings."""
    answers = (
        f"answers re-derived from {report.rederived}"
        if report.rederived
        else "answers checked against the manifest only"
    )
    parts = [f"{report.submissions:,} submission{'s' * (report.submissions != 1)} checked"]
    parts.append(answers)
    if report.index_rebuilt:
        parts.append("index rebuilt from MLflow")
    if report.stale:
        parts.append(f"{len(report.stale)} stale run(s)")
    n = len(report.findings)
    found = "OK" if not n else f"{n} finding{'s' * (n != 1)}"
    return f"{report.competition}: {found} ({'; '.join(parts)})"


# -- 1. answers --------------------------------------------------------------------------------


def _raw_at_hand(comp: Competition, settings: Settings, raw: Path | None) -> Path | bool | None:
    """The raw data to re-derive from: a path, None (the embedded data), or False (none)."""
    if raw is not None:
        return raw
    downloaded = settings.raw_dir(comp.id)
    if downloaded.is_dir() and any(
        not p.name.startswith(".") and p.suffix != ".part" for p in downloaded.iterdir()
    ):
        return downloaded
    return None if comp.embedded_raw is not None else False


def _check_answers(
    comp: Competition,
    settings: Settings,
    manifest: dict[str, Any],
    raw: Path | None,
    report: VerifyReport,
    say: Progress,
) -> None:
    from harness.data.preparation import prepare

    installed: dict[str, str] = manifest.get("files", {})
    source = _raw_at_hand(comp, settings, raw)
    derived: dict[str, str] | None = None
    if source is False:
        report.notes.append("raw data not at hand: answers not re-derived")
    else:
        say("re-deriving the answers from the raw data", 0, None)
        settings.staging_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="verify-", dir=settings.staging_dir) as tmp:
            scratch = Settings(home=Path(tmp), tracking_uri=f"sqlite:///{tmp}/mlflow.db")
            try:
                again = prepare(comp, scratch, raw=source if isinstance(source, Path) else None)
            except HarnessError as exc:
                report.add("answers", f"the raw data could not be prepared again: {exc}")
            else:
                derived = dict(again.manifest["files"])
                report.rederived = str(again.manifest.get("raw"))
        if manifest.get("version") != comp.version:
            report.notes.append(
                f"prepared as version {manifest.get('version')}, the competition is "
                f"{comp.version} now: differences may come from that"
            )

    names = sorted(set(installed) | set(derived or {}))
    for i, rel in enumerate(names):
        say("hashing the prepared files", i, len(names))
        side, _, name = rel.partition("/")
        path = settings.home / side / comp.id / name
        actual = sha256_file(path) if path.is_file() else None
        recorded = installed.get(rel)
        if derived is not None:
            expected = derived.get(rel)
            if expected is None:
                report.add("answers", f"{rel}: installed, but the raw data does not make it")
                continue
            if recorded != expected:
                report.add(
                    "answers",
                    f"{rel}: the manifest's sha256 {_short(recorded)} differs from the "
                    f"{_short(expected)} re-derived from the raw data",
                )
            if actual != expected:
                report.add(
                    "answers",
                    f"{rel}: the installed file's sha256 {_short(actual)} differs from the "
                    f"{_short(expected)} re-derived from the raw data",
                )
        elif actual != recorded:
            report.add(
                "answers",
                f"{rel}: the installed file's sha256 {_short(actual)} differs from the "
                f"manifest's {_short(recorded)}",
            )


# -- 2, 3. artifacts and regrading -------------------------------------------------------------


def _check_submissions(
    comp: Competition,
    settings: Settings,
    client: MlflowClient,
    runs: list[Run],
    report: VerifyReport,
    say: Progress,
) -> None:
    from harness.data.preparation import verify as check_prepared

    grades: dict[tuple[str, str], Grade] = {}
    try:  # regrading needs the installed files to be as prepared
        check_prepared(comp, settings)
    except HarnessError as exc:
        report.add("regrade", f"submissions not regraded: {exc}")
        regrade = False
    else:
        regrade = True
    located: list[tuple[Run, tuple[str, str]]] = []
    files: dict[tuple[str, str], Path] = {}  # (sha256, name): identical files grade the same
    with tempfile.TemporaryDirectory(prefix="verify-artifacts-") as downloads:
        for i, run in enumerate(runs):
            if i % 200 == 0:
                say("checking the artifacts", i, len(runs))
            rid = run.info.run_id
            name = run.data.tags.get(ARTIFACT_TAG) or run.data.tags.get(FILE_TAG)
            tagged = run.data.tags.get(SHA256_TAG)
            if not name:
                report.add("artifact", f"run {_rid(rid)}: no {FILE_TAG} tag", rid)
                continue
            path = _artifact(client, run, name, Path(downloads))
            if path is None:
                report.add("artifact", f"run {_rid(rid)}: artifact {name} is missing", rid)
                continue
            actual = sha256_file(path)
            if actual != tagged:
                report.add(
                    "artifact",
                    f"run {_rid(rid)}: artifact {name} has sha256 {_short(actual)}, its "
                    f"{SHA256_TAG} tag says {_short(tagged)}",
                    rid,
                )
            located.append((run, (actual, name)))
            files.setdefault((actual, name), path)
        if regrade:
            grades = _grade_all(comp, settings, files, say)
    for run, key in located if regrade else []:
        rid, graded = run.info.run_id, grades[key]
        if isinstance(graded, str):
            report.add("regrade", f"run {_rid(rid)}: {graded}", rid)
            continue
        recorded = run.data.metrics
        hidden = PRIVATE_SCORE not in recorded  # not scored yet: the competition hides it
        for metric, value in graded.items():
            if (
                metric not in recorded
                and metric != PUBLIC_SCORE
                and (metric != PRIVATE_SCORE or hidden)
            ):
                continue  # an extra metric this run did not record, or a hidden private score
            stored = recorded.get(metric)
            if stored is None or not _same(stored, value):
                shown = _pair(value, stored)
                report.add(
                    "regrade",
                    f"run {_rid(rid)}: {metric} regrades to {shown[0]}, {shown[1]} recorded",
                    rid,
                )
    report.regraded = len(grades) if regrade else 0


def _artifact(client: MlflowClient, run: Run, name: str, downloads: Path) -> Path | None:
    """The run's artifact ``name``: read in place from a local store, downloaded otherwise."""
    uri = run.info.artifact_uri or ""
    parsed = urlparse(uri)
    if parsed.scheme in ("file", ""):
        path = Path(url2pathname(parsed.path)) / name
        return path if path.is_file() else None
    from mlflow.exceptions import MlflowException

    dest = downloads / run.info.run_id
    dest.mkdir(parents=True, exist_ok=True)
    try:
        return Path(client.download_artifacts(run.info.run_id, name, str(dest)))
    except (MlflowException, OSError):
        return None


Grade = dict[str, float] | str  # the scores of a file, or why it has none
_FORKED: tuple[Competition, Settings] | None = None  # what forked graders inherit
PARALLEL_FROM = 500  # distinct files from which grading runs in one process per core


def _grade_all(
    comp: Competition, settings: Settings, files: dict[tuple[str, str], Path], say: Progress
) -> dict[tuple[str, str], Grade]:
    """Each distinct file graded once; many of them by one forked process per core."""
    global _FORKED
    import multiprocessing
    import os

    keys = list(files)
    cores = min(os.cpu_count() or 1, 8)
    say("regrading the submissions", 0, len(keys))
    out: dict[tuple[str, str], Grade] = {}
    if len(keys) >= PARALLEL_FROM and cores > 1 and os.name == "posix":
        from concurrent.futures import ProcessPoolExecutor

        out[keys[0]] = _grade(comp, settings, files[keys[0]], keys[0][1])  # caches the answers
        _FORKED = (comp, settings)  # forked workers inherit it and those caches: no pickling
        try:
            fork = multiprocessing.get_context("fork")
            with ProcessPoolExecutor(cores, mp_context=fork) as pool:
                jobs = [(str(files[k]), k[1]) for k in keys[1:]]
                for i, grade in enumerate(pool.map(_forked_grade, jobs, chunksize=100), 1):
                    out[keys[i]] = grade
                    if i % 200 == 0:
                        say("regrading the submissions", i, len(keys))
        finally:
            _FORKED = None
    else:
        for i, key in enumerate(keys):
            if i % 50 == 0:
                say("regrading the submissions", i, len(keys))
            out[key] = _grade(comp, settings, files[key], key[1])
    say("regrading the submissions", len(keys), len(keys))
    return out


def _scored(run: Run) -> bool:
    """An entry with a file and a score (not an invalid submission, not a selection event)."""
    tags = run.data.tags
    return tags.get(KIND_TAG) != SELECTION and tags.get(STATUS_TAG) != ERROR


def _forked_grade(job: tuple[str, str]) -> Grade:
    assert _FORKED is not None
    return _grade(*_FORKED, Path(job[0]), job[1])


def _grade(comp: Competition, settings: Settings, path: Path, name: str) -> Grade:
    """The scores of the file at ``path`` against the installed answers, or why there are none."""
    from harness.data.scoring import score
    from harness.data.validation import validate
    from harness.errors import InvalidSubmission

    try:
        aligned = validate(comp, settings, path, name=name)
    except InvalidSubmission as exc:
        return f"the artifact no longer validates: {exc}"
    except HarnessError as exc:
        return f"could not validate the artifact: {exc}"
    try:
        scores = score(comp, settings, aligned)
    except HarnessError as exc:
        return f"could not score the artifact: {exc}"
    assert scores.private is not None
    return {PUBLIC_SCORE: scores.public, PRIVATE_SCORE: scores.private, **scores.extra}


# -- 4. the index ------------------------------------------------------------------------------


def _check_index(
    index: RunIndex,
    client: MlflowClient,
    runs: list[Run],
    report: VerifyReport,
    say: Progress,
    ours: set[str],
) -> None:
    say("comparing the index with MLflow", 0, None)
    name = f"cache/{index.path.name}"
    for event in _take_events(index.path):
        at = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(event.get("at", 0) / 1000))
        report.add(
            "index",
            f"{name} was rebuilt from MLflow at {at}: {event.get('reason', '?')} "
            "(edited by hand?)",
        )
    state, distrust = read_state(index.path, index.key_file)
    truth = {r.info.run_id: run_row(r) for r in runs if r.info.run_id not in ours}
    if distrust is not None:
        report.add("index", f"{name}: {distrust}; rebuilding it from MLflow")
        held = _held(state, ours)
        # an untrusted file was never synced: only what it says about known runs counts
        _compare(report, {k: v for k, v in held.items() if k in truth}, truth, missing=False)
        _compare(report, {k: v for k, v in held.items() if k not in truth}, {}, missing=True)
    else:
        index.submissions(client)  # sync first: runs newer than the file are not a difference
        state, _ = read_state(index.path, index.key_file)
        if _compare(report, _held(state, ours), truth, missing=True) == 0 and not ours:
            return
    index.submissions(client, rebuild=True)
    report.index_rebuilt = True
    _take_events(index.path)  # our own rebuild is no event


def _held(state: dict[str, Any], ours: set[str]) -> dict[str, dict[str, Any]]:
    deleted = set(state.get("deleted", [])) | ours
    runs: dict[str, dict[str, Any]] = state.get("runs", {})
    return {rid: row for rid, row in runs.items() if rid not in deleted}


def _compare(
    report: VerifyReport,
    held: dict[str, dict[str, Any]],
    truth: dict[str, dict[str, Any]],
    *,
    missing: bool,
) -> int:
    """Add a finding per field that differs between the index and MLflow; return how many."""
    before = len(report.findings)
    for rid in sorted(set(held) | set(truth)):
        mine, real = held.get(rid), truth.get(rid)
        if mine is None:
            if missing:
                report.add("index", f"run {_rid(rid)}: in MLflow, not in the index", rid)
            continue
        if real is None:
            report.add("index", f"run {_rid(rid)}: in the index, not in MLflow", rid)
            continue
        for key in [*FIELDS, *sorted((set(mine) | set(real)) - {*FIELDS, "run_id", "metrics"})]:
            if mine.get(key) != real.get(key):
                a, b = _pair(mine.get(key), real.get(key))
                report.add("index", f"run {_rid(rid)}: {key} {a} in the index, {b} in MLflow", rid)
        mine_m, real_m = mine.get("metrics", {}), real.get("metrics", {})
        for metric in sorted(set(mine_m) | set(real_m)):
            a_v, b_v = mine_m.get(metric), real_m.get(metric)
            if a_v is None or b_v is None or not _same(a_v, b_v, exact=True):
                a, b = _pair(a_v, b_v)
                report.add(
                    "index", f"run {_rid(rid)}: {metric} {a} in the index, {b} in MLflow", rid
                )
    return len(report.findings) - before


def _take_events(path: Path) -> list[dict[str, Any]]:
    """The rebuild events noted for the index file ``path``, removed from the log."""
    log = path.parent / EVENTS
    try:
        lines = log.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    mine: list[dict[str, Any]] = []
    rest: list[Any] = []
    for line in lines:
        try:
            event = json.loads(line)
        except json.JSONDecodeError:
            continue
        (mine if isinstance(event, dict) and event.get("file") == path.name else rest).append(
            event
        )
    if mine:
        tmp = log.with_name(f"{log.name}.{time.monotonic_ns()}.tmp")
        tmp.write_text("".join(json.dumps(e) + "\n" for e in rest), encoding="utf-8")
        tmp.replace(log)
    return mine


# -- 5. stale runs -----------------------------------------------------------------------------


def _check_stale(
    comp: Competition,
    board: Leaderboard,
    runs: list[Run],
    sweep: bool,
    grace_ms: int,
    report: VerifyReport,
) -> None:
    now = int(time.time() * 1000)
    stale = [r for r in runs if r.info.status == "RUNNING" and now - r.info.start_time > grace_ms]
    report.stale = [r.info.run_id for r in stale]
    for r in stale:
        hours = (now - r.info.start_time) / 3_600_000
        report.warnings.append(
            f"run {_rid(r.info.run_id)}: RUNNING for {hours:.1f} h "
            f"({r.data.tags.get(PARTICIPANT_TAG, '?')}; a submit killed midway?)"
        )
    if not sweep:
        if stale:
            report.notes.append("stale runs reported only: --sweep ends them")
        return
    report.swept = list(board.sweep_stale(comp, older_than_ms=grace_ms))
    if report.swept:
        report.notes.append(f"swept {len(report.swept)} stale run(s)")


# -- the tags MLflow's UI reads ----------------------------------------------------------------


def _check_ui_tags(board: Leaderboard, comp: Competition, report: VerifyReport) -> None:
    """An experiment made before Harness wrote them gets them now (a note: nothing recorded
    differs); one changed since (in MLflow's UI, by hand) is left as it is."""
    added = board.ui_experiment(comp)
    for name in added[1] if added else []:
        report.notes.append(f"tagged its experiment {name} for MLflow's UI")


# -- helpers -----------------------------------------------------------------------------------


def _active() -> int:
    from mlflow.entities import ViewType

    return int(ViewType.ACTIVE_ONLY)


def _same(a: float, b: float, *, exact: bool = False) -> bool:
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return a == b if exact else abs(a - b) <= TOLERANCE


def _pair(a: Any, b: Any) -> tuple[str, str]:
    """Two values as text, with as many digits as it takes to tell them apart."""
    if isinstance(a, float) and isinstance(b, float):
        for digits in (5, 8, 12):
            left, right = f"{a:.{digits}g}", f"{b:.{digits}g}"
            if left != right:
                return _dot(left), _dot(right)
        return repr(a), repr(b)
    return _text(a), _text(b)


def _text(value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, float):
        return _dot(f"{value:.5g}")
    return repr(value) if isinstance(value, str) else str(value)


def _dot(text: str) -> str:
    return text + ".0" if text.lstrip("-").isdigit() else text


def _short(digest: str | None) -> str:
    return "(none)" if not digest else digest[:12] + "…"


def _rid(run_id: str) -> str:
    return run_id[:8] + "…"
