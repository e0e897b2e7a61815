"""What notebooks and scripts call. Every function takes the competition id first and
keyword-only options; ``home`` and ``tracking_uri`` default to ``HARNESS_HOME`` and
``MLFLOW_TRACKING_URI`` (see :mod:`harness.settings`)."""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from harness.board.schema import KEEP
from harness.settings import Settings

if TYPE_CHECKING:
    import pandas as pd

    from harness.board.service import SubmissionResult
    from harness.data.preparation import Preparation
    from harness.data.validation import Aligned


def default_participant() -> str:
    return os.environ.get("HARNESS_PARTICIPANT") or getpass.getuser()


def list_competitions(*, home: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """Every registered competition: id, title, task, metric, prepared or not, sizes."""
    import pandas as pd

    from harness.data.preparation import manifest_or_none
    from harness.registry import competitions

    settings = Settings.resolve(home)
    rows = []
    for comp in competitions(home).values():
        manifest = manifest_or_none(comp, settings) or {}
        rows_of = manifest.get("rows", {})
        rows.append(
            {
                "id": comp.id,
                "title": comp.title,
                "task": comp.task.value,
                "metric": f"{comp.metric.name} ({comp.metric.direction})",
                "prepared": bool(manifest),
                "train": rows_of.get("train"),
                "test": rows_of.get("test"),
            }
        )
    return pd.DataFrame(rows)


def load(
    competition: str, *, size: int | None = None, home: str | os.PathLike[str] | None = None
) -> Any:
    """The public data of a prepared competition: DataFrames (:class:`~harness.data.loading.
    Tables`) or uint8 image arrays (:class:`~harness.data.loading.Images`); ``size`` picks the
    image size in pixels."""
    from harness.data.loading import load
    from harness.registry import get_competition

    return load(get_competition(competition, home), Settings.resolve(home), size=size)


def prepare(
    competition: str,
    raw: str | os.PathLike[str] | None = None,
    *,
    force: bool = False,
    home: str | os.PathLike[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> Preparation:
    from harness.data import preparation as prep
    from harness.registry import get_competition

    return prep.prepare(
        get_competition(competition, home),
        Settings.resolve(home),
        raw=None if raw is None else Path(raw),
        force=force,
        progress=progress,
    )


def describe(competition: str, *, home: str | os.PathLike[str] | None = None) -> str:
    """The competition's description (with file sizes once it is prepared)."""
    from harness.baselines import default_for
    from harness.data.preparation import DESCRIPTION, describe, is_prepared
    from harness.registry import get_competition

    comp, settings = get_competition(competition, home), Settings.resolve(home)
    here = default_for(comp)
    line = "" if here is None else f"\nBaseline on this machine: `{here[0]}` ({here[1]}).\n"
    if is_prepared(comp, settings):
        text = (settings.public_dir(comp.id) / DESCRIPTION).read_text(encoding="utf-8")
        if (settings.public_dir(comp.id) / "test.csv").is_file():  # code runs read it
            text += "\n" + board(competition, home=home).code_contract()
        return text + line
    return describe(comp) + line + f"\nNot prepared yet: run `harness prepare {comp.id}`.\n"


def download(
    competition: str,
    *,
    force: bool = False,
    url: str | None = None,
    home: str | os.PathLike[str] | None = None,
    progress: Callable[[int, int | None], None] | None = None,
) -> Path:
    """Fetch the raw data (official URL with resume and checksum, else the Kaggle API); a
    hosted competition's public files: ``board(competition, server=…).download(folder)``."""
    got = board(competition, home=home).download(force=force, url=url, progress=progress)
    return Path(got.where)


def validate(
    competition: str, predictions: Any, *, home: str | os.PathLike[str] | None = None
) -> Aligned:
    """Check a submission (a CSV path or a DataFrame); raise InvalidSubmission on problems."""
    from harness.data.validation import validate_predictions
    from harness.registry import get_competition

    return validate_predictions(
        get_competition(competition, home), Settings.resolve(home), predictions
    )


def board(
    competition: str,
    *,
    home: str | os.PathLike[str] | None = None,
    tracking_uri: str | None = None,
    server: str | None = None,
    token: str | None = None,
) -> Any:
    """The competition's board service: the local store's (:class:`leaderboard.service.
    Board`), or with ``server`` a hosted competition's (:class:`harness.client.RemoteBoard`,
    as ``token``, default ``HARNESS_TOKEN``). The one place this API chooses between them."""
    if server:
        from harness.client import Client

        return Client(server, token).board(competition)
    from harness.board.service import Board

    return Board(competition, Settings.resolve(home, tracking_uri))


def submit(
    competition: str,
    predictions: Any,
    *,
    message: str = "",
    participant: str | None = None,
    kind: str = "submission",
    home: str | os.PathLike[str] | None = None,
    tracking_uri: str | None = None,
    params: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float] | None = None,
    tags: Mapping[str, str] | None = None,
    artifacts: Sequence[Path] = (),
    cv: float | None = None,
    server: str | None = None,
    token: str | None = None,
) -> SubmissionResult:
    """Validate, score and record a submission; return its entry and public rank.

    An invalid submission raises :class:`~harness.errors.InvalidSubmission` (and is listed in
    :func:`submissions` with status Error); over the daily limit raises
    :class:`~harness.errors.LimitReached` and records nothing. ``cv``, your own
    cross-validated score, is shown beside the public one (and a public score far above it is
    warned of). Before the end of a competition with a deadline the result carries no private
    score (``entry.private_score`` is None). ``metrics``, ``params``, ``tags`` and
    ``artifacts`` are logged on the run too (baselines log their CV score and config there).

    ``server`` submits to a hosted competition instead, as ``token`` (default
    ``HARNESS_TOKEN``): the same result, scored by the host; so does ``HARNESS_SERVER`` for a
    participant's own submission (no ``participant`` given).
    """
    mine = participant is None and kind == "submission"
    hosted = server or (os.environ.get("HARNESS_SERVER") if mine else None)
    return board(
        competition, home=home, tracking_uri=tracking_uri, server=hosted, token=token
    ).submit(
        predictions,
        participant=default_participant() if participant is None else participant,
        message=message,
        kind=kind,
        params=params,
        metrics=metrics,
        tags=tags,
        artifacts=artifacts,
        cv=cv,
    )


def submit_code(
    competition: str,
    code: str | os.PathLike[str],
    *,
    message: str = "",
    participant: str | None = None,
    home: str | os.PathLike[str] | None = None,
    tracking_uri: str | None = None,
    server: str | None = None,
    token: str | None = None,
) -> Any:
    """Submit a script (``.py``) or notebook (``.ipynb``) that writes ``submission.csv``
    (the contract: ``describe``). Locally it runs in the sandbox on the example test, then on
    the test, and returns a :class:`~leaderboard.results.CodeResult` (``.result``, the
    example run's ``.example_log``, a rounded ``.runtime``); a failure raises
    :class:`~leaderboard.code.CodeFailed` with its ``kind`` (and the example run's ``log``).
    ``server`` (or ``HARNESS_SERVER``) queues it on a hosted competition and returns its id
    and status at once (:class:`~leaderboard.results.CodeQueued`)."""
    hosted = server or (os.environ.get("HARNESS_SERVER") if participant is None else None)
    return board(
        competition, home=home, tracking_uri=tracking_uri, server=hosted, token=token
    ).submit_code(
        Path(code),
        participant=default_participant() if participant is None else participant,
        message=message,
    )


def leaderboard(
    competition: str,
    *,
    private: bool = False,
    all_preparations: bool = False,
    home: str | os.PathLike[str] | None = None,
    tracking_uri: str | None = None,
    server: str | None = None,
    token: str | None = None,
) -> pd.DataFrame:
    """Standings, one row per participant: public by default, private with rank change.

    Columns beside the score: ``low``/``high`` (bootstrap 95% interval), ``class`` (the rank
    of the best entry it cannot be told from), ``holds`` (the chance its rank holds on a test
    the size of the private half); after the end, ``medal`` and ``above_median`` on the private
    board, and ``.attrs["shakeup"]``. ``private=True`` raises
    :class:`~harness.errors.RuleBroken` before the end of a competition with a deadline.

    Only entries scored on the current preparation are ranked (``.attrs["note"]`` says how many
    others there are); ``all_preparations`` ranks every entry, with a ``preparation`` column.
    ``server``/``token``: a hosted competition's board."""
    hall = board(competition, home=home, tracking_uri=tracking_uri, server=server, token=token)
    return hall.standings(private=private, all_preparations=all_preparations).frame


def submissions(
    competition: str,
    participant: str | None = None,
    *,
    home: str | os.PathLike[str] | None = None,
    tracking_uri: str | None = None,
    server: str | None = None,
    token: str | None = None,
) -> pd.DataFrame:
    """Submission history, oldest first: id, time, participant, kind, file, message, status
    (complete, late or Error, with ``error``), public score (after the end, private too),
    ``selected`` ("yes", or "auto" where Kaggle's rule picks for you) and ``run_id``.
    ``server``/``token``: your submissions to a hosted competition."""
    hall = board(competition, home=home, tracking_uri=tracking_uri, server=server, token=token)
    return hall.submissions(participant).frame


def rules(
    competition: str,
    *,
    daily_limit: Any = KEEP,
    deadline: Any = KEEP,
    selections: int | None = None,
    ladder: bool | None = None,
    team_size: Any = KEEP,
    merger_deadline: Any = KEEP,
    code_only: bool | None = None,
    time_limit: int | str | None = None,
    memory: int | str | None = None,
    home: str | os.PathLike[str] | None = None,
    tracking_uri: str | None = None,
) -> Any:
    """The competition's rules (:class:`leaderboard.rules.Rules`), after changing those given:
    ``daily_limit`` (an int, or None for no limit), ``deadline`` (a datetime or ISO text such
    as ``"2027-01-31T23:59Z"``, or None), ``selections``, ``ladder``, ``team_size`` (members
    per team, None for no cap), ``merger_deadline`` (as ``deadline``), ``code_only`` (a code
    competition), ``time_limit`` (seconds or "10m") and ``memory`` (bytes or "4G") of its
    code runs."""
    hall = board(competition, home=home, tracking_uri=tracking_uri)
    got = hall.set_rules(
        daily_limit=daily_limit,
        deadline=deadline,
        selections=selections,
        ladder=ladder,
        team_size=team_size,
        merger_deadline=merger_deadline,
        code_only=code_only,
        time_limit=time_limit,
        memory=memory,
    )
    return got.rules


def select(
    competition: str,
    submission: str,
    *,
    unselect: bool = False,
    participant: str | None = None,
    home: str | os.PathLike[str] | None = None,
    tracking_uri: str | None = None,
    server: str | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """Select one of your submissions (its id, or 6+ leading hex digits) as a final one, or
    unselect it; returns ``{"run_id", "selected", "selections", "allowed"}``."""
    hall = board(competition, home=home, tracking_uri=tracking_uri, server=server, token=token)
    who = default_participant() if participant is None else participant
    return hall.select(submission, participant=who, selected=not unselect).as_dict()


def team(
    competition: str,
    action: str = "show",
    argument: str | None = None,
    *,
    participant: str | None = None,
    home: str | os.PathLike[str] | None = None,
    tracking_uri: str | None = None,
    server: str | None = None,
    token: str | None = None,
) -> dict[str, Any]:
    """Your team (``action="show"``), or one action on it: ``"create"`` (``argument``: its
    name), ``"join"`` (an invitation code), ``"leave"``, ``"code"`` (a new invitation code),
    ``"merge"`` (ask the team named ``argument`` to take yours in), ``"accept"`` (take in the
    team named ``argument``). Returns ``{"name", "members", "code", "requests", "solo"}``;
    refusals raise :class:`~harness.errors.RuleBroken` with the rule and the numbers."""
    hall = board(competition, home=home, tracking_uri=tracking_uri, server=server, token=token)
    who = default_participant() if participant is None else participant
    methods = {
        "create": "create_team",
        "join": "join_team",
        "merge": "request_merge",
        "accept": "accept_merge",
        "leave": "leave_team",
        "code": "renew_team_code",
    }
    if action == "show":
        return dict(hall.team(who).as_dict())
    if action not in methods:
        from harness.errors import HarnessError

        choices = ", ".join(["show", *methods])
        raise HarnessError(f"team action must be one of {choices}, got '{action[:40]}'")
    needs = action in ("create", "join", "merge", "accept")
    if needs and not argument:
        from harness.errors import HarnessError

        raise HarnessError(f"team action '{action}' needs an argument (a name or a code)")
    args = [argument] if needs else []
    return dict(getattr(hall, methods[action])(*args, participant=who).as_dict())


def reveal(
    competition: str,
    *,
    home: str | os.PathLike[str] | None = None,
    tracking_uri: str | None = None,
) -> dict[str, Any]:
    """End the competition now and compute the private scores (the host, with the answers);
    returns ``{"ended_at", "graded", "rules"}``."""
    got = board(competition, home=home, tracking_uri=tracking_uri).reveal()
    return {"ended_at": got.ended_at, "graded": got.graded, "rules": got.rules}


def tune(
    competition: str,
    *,
    model: str | None = None,
    trials: int | None = 20,
    timeout: float | None = None,
    jobs: int = 1,
    threads: int | None = None,
    study: str | None = None,
    storage: str | None = None,
    seed: int = 0,
    submit: bool = True,
    home: str | os.PathLike[str] | None = None,
    tracking_uri: str | None = None,
    progress: Callable[[Any], None] | None = None,
    overrides: dict[str, Any] | None = None,
    **options: Any,
) -> Any:
    """Tune a baseline with Optuna (CV on public train) and submit the best as
    ``baseline/<model>``; returns a :class:`baselines.tune.TuneResult` (``.study``, ``.entry``).

    ``overrides`` pin hyperparameters (``{"epochs": 5}``); keyword ``options`` are run settings
    the baseline declares (``device="cuda"``, ``checkpoint=…``, ``image_size=128``)."""
    from harness.baselines.tune import tune as run
    from harness.registry import get_competition

    return run(
        get_competition(competition, home),
        Settings.resolve(home, tracking_uri),
        model=model,
        trials=trials,
        timeout=timeout,
        jobs=jobs,
        threads=threads,
        study_name=study,
        storage=storage,
        seed=seed,
        submit=submit,
        progress=progress,
        overrides=overrides,
        options=options,
    )


def baseline(
    competition: str,
    *,
    model: str | None = None,
    seed: int = 0,
    threads: int | None = None,
    home: str | os.PathLike[str] | None = None,
    tracking_uri: str | None = None,
    overrides: dict[str, Any] | None = None,
    **options: Any,
) -> Any:
    """Train a baseline with its defaults (CV scored too) and submit it as ``baseline/<model>``;
    ``overrides`` and ``options`` as for :func:`tune`."""
    from harness.baselines.tune import tune as run
    from harness.registry import get_competition

    return run(
        get_competition(competition, home),
        Settings.resolve(home, tracking_uri),
        model=model,
        trials=1,
        seed=seed,
        threads=threads,
        fixed=True,
        overrides=overrides,
        options=options,
    )


def verify(
    competition: str | None = None,
    *,
    raw: str | os.PathLike[str] | None = None,
    sweep: bool = False,
    grace_minutes: float = 60,
    home: str | os.PathLike[str] | None = None,
    tracking_uri: str | None = None,
    progress: Callable[[str, int, int | None], None] | None = None,
) -> list[Any]:
    """Check a competition's answers, submissions and index (default: every prepared one);
    return one :class:`leaderboard.verify.VerifyReport` each (``.findings``: what differs).

    ``raw`` re-derives the answers from that archive or folder (one competition only);
    ``sweep`` ends runs RUNNING for longer than ``grace_minutes`` where the store can."""
    from harness.board.service import verify as check
    from harness.data.preparation import is_prepared
    from harness.registry import competitions, get_competition

    settings = Settings.resolve(home, tracking_uri)
    if competition is None:
        if raw is not None:
            raise ValueError("raw data is for one competition: name it")
        comps = [c for c in competitions(home).values() if is_prepared(c, settings)]
    else:
        comps = [get_competition(competition, home)]
    reports = []
    for comp in comps:

        def say(what: str, done: int, total: int | None, name: str = comp.id) -> None:
            if progress is not None:
                progress(f"{name}: {what}", done, total)

        reports.append(
            check(
                comp,
                settings,
                raw=None if raw is None else Path(raw),
                sweep=sweep,
                grace_ms=int(grace_minutes * 60_000),
                progress=say,
            )
        )
    return reports
