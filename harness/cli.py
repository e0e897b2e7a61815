"""``harness``: a thin click shell over the library. Parse, call, print; nothing else.

Heavy imports (pandas, mlflow, rich) happen inside commands so ``harness --help`` is instant.
Library errors (:class:`HarnessError`) become ``Error: …`` and exit 1; bad arguments exit 2.
"""

from __future__ import annotations

import datetime as dt
import functools
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import click

from harness.errors import printable
from harness.settings import DEFAULT_HOME_HELP, HOME_ENV

CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class HarnessGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        from harness.errors import HarnessError, Interrupted

        try:
            return super().invoke(ctx)
        except Interrupted as exc:  # Ctrl-C: what was kept, and how to go on; no traceback
            click.echo(str(exc), err=True)
            ctx.exit(130)
        except HarnessError as exc:
            raise click.ClickException(str(exc)) from exc


class CompetitionType(click.ParamType):
    name = "competition"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        from harness.errors import UnknownCompetition

        if _hosted_mode():  # the server answers 404 for a name it does not host
            return str(value)
        from harness.registry import get_competition

        home = None if ctx is None else ctx.params.get("home")  # --home is eager: read first
        try:
            return get_competition(str(value), home).id
        except UnknownCompetition as exc:
            known = ", ".join(exc.known)
            self.fail(f"{exc} — known: {known}", param, ctx)


COMPETITION = click.argument("competition", type=CompetitionType())
FORMAT = click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="Output format.",
)


def raw_option(what: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--raw",
        type=click.Path(exists=True, path_type=Path),
        metavar="PATH",
        help=f"{what} [default: a previous `harness download`, else the data embedded in "
        "the package].",
    )


def home_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--home",
        envvar=HOME_ENV,
        is_eager=True,  # before the competition's name, which may be one created in it
        type=click.Path(file_okay=False),
        help=f"Data home [env {HOME_ENV}; default {DEFAULT_HOME_HELP}].",
    )(f)


def store_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--home`` and ``--tracking-uri``, for every command that reads or writes the board."""
    f = click.option(
        "--tracking-uri",
        envvar="MLFLOW_TRACKING_URI",
        metavar="URI",
        help="MLflow tracking URI [env MLFLOW_TRACKING_URI; default sqlite:///<home>/mlflow.db].",
    )(f)
    return home_option(f)


def server_options(f: Callable[..., Any]) -> Callable[..., Any]:
    """``--server`` and ``--token``: talk to a hosted competition (`harness serve`) instead of
    a local store."""
    f = click.option(
        "--token",
        envvar="HARNESS_TOKEN",
        metavar="TOKEN",
        help="Your token from the host [env HARNESS_TOKEN].",
    )(f)
    return click.option(
        "--server",
        envvar="HARNESS_SERVER",
        metavar="URL",
        help="A hosted competition server, e.g. http://host:8000 [env HARNESS_SERVER].",
    )(f)


def _hosted_mode() -> bool:
    """Whether this command talks to a server: then the competition is the server's to know
    (and the local registry, with its imports, stays unread)."""
    import os

    return bool(os.environ.get("HARNESS_SERVER")) or any(
        a == "--server" or a.startswith("--server=") for a in sys.argv[1:]
    )


def _board(
    competition: str,
    server: str | None,
    token: str | None,
    home: str | None,
    tracking_uri: str | None,
) -> Any:
    """The competition's board service: a hosted one over HTTP (``--server``), else the local
    store's. The one place the CLI chooses; ``--as`` is refused on a hosted competition (the
    identity is the token)."""
    import harness

    if not server:
        return harness.api.board(competition, home=home, tracking_uri=tracking_uri)
    ctx = click.get_current_context()
    if (
        "participant" in ctx.params
        and ctx.get_parameter_source("participant") == click.core.ParameterSource.COMMANDLINE
    ):
        raise click.UsageError(
            "--as is refused on a hosted competition: your identity is your token (HARNESS_TOKEN)"
        )
    return harness.api.board(competition, server=server, token=token)


def participant_option(help_text: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    return click.option(
        "--as", "participant", envvar="HARNESS_PARTICIPANT", metavar="NAME", help=help_text
    )


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal:  # piped: do not squeeze tables into 80 columns
        console.width = 240
    return console


@click.group(cls=HarnessGroup, context_settings=CONTEXT)
@click.version_option(package_name="harness")
def cli() -> None:
    """Harness: a local Kaggle. Prepare a competition, submit predictions, read the board.

    Data lives in HARNESS_HOME (default $XDG_DATA_HOME/harness, i.e.
    ~/.local/share/harness): public/<competition>/ holds what you may read,
    private/<competition>/ the answers. Submissions are MLflow runs
    (default store sqlite:///<home>/mlflow.db; set MLFLOW_TRACKING_URI for a team server).

    \b
    Example:
      harness prepare titanic && harness describe titanic
    """


@cli.command("list")
@home_option
def list_command(home: str | None) -> None:
    """Every registered competition: metric, prepared or not, sizes.

    \b
    Example:
      harness list
    """
    from rich.table import Table

    import harness

    frame = harness.list_competitions(home=home)
    table = Table("competition", "task", "metric", "prepared", "train", "test")
    for row in frame.itertuples():
        table.add_row(
            row.id,
            row.task,
            row.metric,
            "yes" if row.prepared else "no",
            _n(row.train),
            _n(row.test),
        )
    _console().print(table)


@cli.command()
@COMPETITION
@raw_option("Kaggle archive or folder to prepare from")
@click.option("--force", is_flag=True, help="Prepare again even if already prepared.")
@home_option
def prepare(competition: str, raw: Path | None, force: bool, home: str | None) -> None:
    """Split the raw data into public files and private answers.

    \b
    Example:
      harness prepare titanic
      harness prepare house-prices --raw house-prices-advanced-regression-techniques.zip
    """
    import harness

    err = _console(stderr=True)
    with err.status(f"preparing {competition}") as status:
        done = harness.prepare(
            competition, raw, force=force, home=home, progress=lambda msg: status.update(msg)
        )
    rows = done.manifest.get("rows", {})
    for note in done.manifest.get("notes", []):
        click.echo(f"note: {note}")
    if done.skipped:
        click.echo(
            f"{competition} is already prepared (from {done.manifest['raw']}); "
            "--force prepares it again."
        )
    else:
        click.echo(
            f"{competition} prepared from {done.manifest['raw']}: "
            f"{_n(rows.get('train'))} train rows, {_n(rows.get('test'))} test rows."
        )
    click.echo(f"public files: {done.public}")


@cli.command()
@COMPETITION
@home_option
def describe(competition: str, home: str | None) -> None:
    """Overview, metric, files and submission format.

    \b
    Example:
      harness describe titanic
    """
    from rich.markdown import Markdown

    import harness

    _console().print(Markdown(harness.describe(competition, home=home)))


@cli.command()
@COMPETITION
@click.argument("file", type=click.Path(path_type=Path), required=False)
@click.option(
    "--code",
    type=click.Path(path_type=Path),
    help="Submit a script (.py) or notebook (.ipynb) instead: it runs in a sandbox on the "
    "example test, then on the test, and must write submission.csv (`harness describe`).",
)
@click.option(
    "-m",
    "--message",
    default="",
    help="A note to remember this submission by (one line, at most 1,000 characters).",
)
@click.option(
    "--cv",
    type=float,
    metavar="SCORE",
    help="Your own cross-validated score: shown beside the public one, and a public score "
    "far above it is warned of.",
)
@participant_option(
    "Participant name: up to 64 letters, digits, spaces and . _ - / @ + : "
    "[env HARNESS_PARTICIPANT; default: your user name]."
)
@server_options
@store_options
def submit(
    competition: str,
    file: Path | None,
    code: Path | None,
    message: str,
    cv: float | None,
    participant: str | None,
    server: str | None,
    token: str | None,
    home: str | None,
    tracking_uri: str | None,
) -> None:
    """Validate, score and record a submission; print its public score and rank.

    The competition's rules apply (`harness rules`): the daily limit, the hidden private
    score before the end, late entries after it. An invalid file is listed in
    `harness submissions` with its error and does not count. With --server (or
    HARNESS_SERVER) the file is uploaded to a hosted competition and scored there.

    \b
    Example:
      harness submit titanic preds.csv -m "gbm, 5 features" --cv 0.83 --as alice
      harness submit titanic --code solution.py -m "first notebook"
    """
    import harness

    if (file is None) == (code is None):
        raise click.UsageError("give a FILE of predictions or --code SCRIPT, one of the two")
    hall = _board(competition, server, token, home, tracking_uri)
    who = harness.api.default_participant() if participant is None else participant
    if code is not None:
        _submit_code(competition, hall, code, who, message)
        return
    got = hall.submit(file, participant=who, message=message, cv=cv)
    _say_submitted(competition, got.as_dict())


def _submit_code(competition: str, hall: Any, code: Path, who: str, message: str) -> None:
    """A code submission, run here; the example run's log is shown in full, the test run's
    never (only its status, the error's kind and a rounded runtime)."""
    say = functools.partial(click.echo, err=True)
    try:
        got = hall.submit_code(code, participant=who, message=message, progress=say)
    except Exception as exc:
        log = getattr(exc, "log", "")
        if log:
            say("--- output of the example run ---")
            say(printable_log(log))
            say("---")
        raise
    if getattr(got, "queued", False):  # a hosted server's queue took it
        click.echo(
            f"{competition}: {printable(got.code)} queued as {got.submission}; "
            f"`harness submissions {competition}` shows its status "
            "(queued → running → complete | error)."
        )
        return
    if got.example_log:
        say("--- output of the example run ---")
        say(printable_log(got.example_log))
        say("---")
    click.echo(f"{competition}: {printable(got.code)} ran on the test ({got.runtime}).")
    _say_submitted(competition, got.result.as_dict())


def printable_log(text: str) -> str:
    """A run's log, line by line, each line safe to print."""
    return "\n".join(printable(line) for line in text.rstrip("\n").split("\n"))


def _say_submitted(competition: str, got: dict[str, Any]) -> None:
    """A submission's result (:meth:`leaderboard.submit.SubmissionResult.as_dict`), printed
    the same whether it was scored here or on a server."""
    who = printable(got["participant"])
    what = f"({got['metric']}, {got['direction']}"
    if got["shown_score"] is not None:  # ladder mode: the raw public score stays unseen
        click.echo(
            f"{competition}: {who}'s submission shows {got['shown_score']:.5f} on the ladder "
            f"{what}): "
            + (
                "not better than your best by more than the noise, so your shown score stays."
                if got["ladder"] == "held"
                else "a new best beyond the noise."
            )
        )
    else:
        extra = "".join(
            f", {k.removesuffix('_public')} {v:.5f}" for k, v in got["extra_public"].items()
        )
        click.echo(
            f"{competition}: {who}'s submission scored {got['public_score']:.5f}"
            f" on the public leaderboard {what}{extra})."
        )
    if got["late"]:
        private = got["private_score"]
        said = "" if private is None else f" Private {private:.5f}."
        click.echo(
            f"Late submission: the competition has ended, so it is shown in "
            f"`harness submissions {competition}` but never ranked.{said}"
        )
    else:
        tail = (
            "Private scores are hidden until the competition ends."
            if got["hidden_private"]
            else f"Private scores: `harness leaderboard {competition} --private`."
        )
        click.echo(
            f"Rank {got['rank']} of {got['participants']} (your best: "
            f"{got['best_public']:.5f}). {tail}"
        )
    if got.get("reference_rank"):
        click.echo(f"It would have been {got['reference_rank']}.")
    if got["left_today"] is not None:
        click.echo(f"{got['left_today']} of {got['daily_limit']} submissions left today (UTC).")
    for warning in got["warnings"]:
        click.echo(f"warning: {printable(warning)}", err=True)


@cli.command()
@COMPETITION
@click.argument("file", type=click.Path(path_type=Path))
@home_option
def validate(competition: str, file: Path, home: str | None) -> None:
    """Check a submission file as `submit` would, without recording it.

    \b
    Example:
      harness validate titanic preds.csv
    """
    import harness

    aligned = harness.validate(competition, file, home=home)
    click.echo(f"{file}: valid submission for {competition} ({len(aligned.ids):,} rows).")


@cli.command()
@COMPETITION
@participant_option("Only this participant's submissions.")
@FORMAT
@server_options
@store_options
def submissions(
    competition: str,
    participant: str | None,
    fmt: str,
    server: str | None,
    token: str | None,
    home: str | None,
    tracking_uri: str | None,
) -> None:
    """Submission history, oldest first: id, time, file, message, status (complete, late or
    Error with its message), public score, final selection. On a server: yours only.

    \b
    Example:
      harness submissions titanic --as alice
    """
    hall = _board(competition, server, token, home, tracking_uri)
    got = hall.submissions(participant)
    if fmt == "csv" and got.local is not None:
        _print_frame(got.local, fmt, title="")
        return
    columns, rows, store = got.columns, got.rows, hall.where
    if fmt == "table":
        drop = {"run_id"} | ({"error"} if all(r["status"] != "Error" for r in rows) else set())
        columns = [c for c in columns if c not in drop]
    _print_rows(columns, rows, fmt, title=f"{competition} submissions", store=store)


@cli.command()
@COMPETITION
@click.option(
    "--private",
    is_flag=True,
    help="The private leaderboard with rank changes, medals and the shake-up (after the end).",
)
@click.option(
    "--all-preparations",
    is_flag=True,
    help="Rank entries scored on earlier preparations too, with a column saying which.",
)
@FORMAT
@server_options
@store_options
def leaderboard(
    competition: str,
    private: bool,
    all_preparations: bool,
    fmt: str,
    server: str | None,
    token: str | None,
    home: str | None,
    tracking_uri: str | None,
) -> None:
    """Standings: each participant's best public submission, ranked.

    Beside each score: low/high, its bootstrap 95% interval; class, "=1" for the entries the
    paired bootstrap cannot tell from the leader (and so on down the board); holds, the chance
    its rank holds on an unseen test the size of the private half. Only entries scored on the
    current preparation count; a note says how many others there are.

    \b
    Example:
      harness leaderboard titanic --private --format csv
    """
    hall = _board(competition, server, token, home, tracking_uri)
    got = hall.standings(private=private, all_preparations=all_preparations)
    title = f"{got.title}: {got.view} leaderboard ({got.metric}, {got.direction})"
    note, shakeup = got.note, got.shakeup
    if fmt == "csv" and got.local is not None:
        _print_frame(got.local, fmt, title=title, note=note)
        return
    columns, rows, store = got.columns, got.rows, hall.where
    if fmt == "table" and "class" in columns:
        columns, rows = _compact_stats(columns, rows)
    _print_rows(columns, rows, fmt, title=title, store=store, note=note)
    if shakeup and fmt == "table":
        click.echo(
            f"shake-up: Kendall tau {shakeup['kendall_tau']:.3f} between the boards; mean rank "
            f"change {shakeup['mean_abs_change']:.2f} (forecast from public rows: "
            f"{shakeup['forecast_mean_abs_change']:.2f})."
        )


def _compact_stats(
    columns: list[str], rows: list[dict[str, Any]]
) -> tuple[list[str], list[dict[str, Any]]]:
    """The table's form of the statistics: one "95% interval" column, the class as "=1" where
    several entries share it, the chance a rank holds in percent."""
    sizes: dict[Any, int] = {}
    for row in rows:
        sizes[row.get("class")] = sizes.get(row.get("class"), 0) + 1
    out = []
    for row in rows:
        lo, hi, cls, holds = row.get("low"), row.get("high"), row.get("class"), row.get("holds")
        shown = dict(row)
        shown["95% interval"] = "-" if lo is None or hi is None else f"{lo:.4f}–{hi:.4f}"
        shown["class"] = "-" if cls is None else (f"={cls}" if sizes[cls] > 1 else str(cls))
        if "holds" in row:
            shown["holds"] = "-" if holds is None else f"{holds:.0%}"
        if "above_median" in row:
            shown["above_median"] = "yes" if row["above_median"] else ""
        out.append(shown)
    at = columns.index("low") if "low" in columns else len(columns)
    cols = [c for c in columns if c not in ("low", "high")]
    cols.insert(at, "95% interval")
    return cols, out


@cli.command()
@COMPETITION
@click.option(
    "--daily-limit", metavar="N|none", help="Valid submissions per participant per UTC day."
)
@click.option("--deadline", metavar="TIME|none", help="The end, e.g. 2027-01-31T23:59Z (UTC).")
@click.option(
    "--selections", type=click.IntRange(min=1), help="Final submissions per participant."
)
@click.option("--ladder/--no-ladder", default=None, help="Ladder mode (Blum & Hardt 2015).")
@click.option("--team-size", metavar="N|none", help="Members per team at most.")
@click.option(
    "--merger-deadline", metavar="TIME|none", help="Teams merge until then, e.g. 2027-01-24Z."
)
@click.option(
    "--code-only/--no-code-only",
    default=None,
    help="A code competition: participants submit a script or notebook, run here on the "
    "hidden test; they download the train and a small example test.",
)
@click.option("--time-limit", metavar="DURATION", help="Code runs' time limit, e.g. 10m, 90s.")
@click.option("--memory", metavar="SIZE", help="Code runs' memory per process, e.g. 4G.")
@FORMAT
@server_options
@store_options
def rules(
    competition: str,
    daily_limit: str | None,
    deadline: str | None,
    selections: int | None,
    ladder: bool | None,
    team_size: str | None,
    merger_deadline: str | None,
    code_only: bool | None,
    time_limit: str | None,
    memory: str | None,
    fmt: str,
    server: str | None,
    token: str | None,
    home: str | None,
    tracking_uri: str | None,
) -> None:
    """Show the competition's rules, or set some (the host). Rules live in the MLflow store,
    so everyone on one tracking server reads the same ones.

    \b
    Example:
      harness rules titanic --daily-limit 5 --deadline 2027-01-31T23:59Z --selections 2
      harness rules titanic --ladder
      harness rules titanic --code-only --time-limit 10m --memory 4G
      harness rules titanic
    """
    from harness.board.service import KEEP

    limit = _count_or_none(daily_limit, "--daily-limit")
    size = _count_or_none(team_size, "--team-size")
    when: Any = KEEP
    if deadline is not None:
        when = None if deadline.strip().lower() in ("none", "") else deadline
    merger: Any = KEEP
    if merger_deadline is not None:
        merger = None if merger_deadline.strip().lower() in ("none", "") else merger_deadline
    hall = _board(competition, server, token, home, tracking_uri)
    changes: dict[str, Any] = {}
    if size is not KEEP:
        changes["team_size"] = size
    if merger is not KEEP:
        changes["merger_deadline"] = merger
    try:
        got = hall.set_rules(
            daily_limit=limit,
            deadline=when,
            selections=selections,
            ladder=ladder,
            code_only=code_only,
            time_limit=time_limit,
            memory=memory,
            **changes,
        )
    except ValueError as exc:
        hint = "--merger-deadline" if "merger_deadline" in changes else "--deadline"
        raise click.BadParameter(str(exc), param_hint=hint) from None
    _say_rules(got.lines, got.facts, fmt)


def _count_or_none(given: str | None, option: str) -> Any:
    """A whole number, None for "none" (or 0), KEEP where the option was not given."""
    from harness.board.service import KEEP

    if given is None:
        return KEEP
    text = given.strip().lower()
    if text in ("none", "0", ""):
        return None
    if text.isdigit():
        return int(text)
    raise click.BadParameter(
        f"'{printable(given)}' is not a whole number or none", param_hint=option
    )


def _say_rules(lines: list[str], facts: dict[str, Any], fmt: str) -> None:
    import json

    if fmt == "table":
        for line in lines:
            click.echo(line)
    elif fmt == "json":
        click.echo(json.dumps(facts, indent=1))
    else:
        click.echo("rule,value")
        for key, value in facts.items():
            click.echo(f"{key},{'' if value is None else value}")


@cli.command()
@COMPETITION
@click.argument("submission", metavar="SUBMISSION_ID")
@click.option("--unselect", is_flag=True, help="Take the selection back.")
@participant_option("Whose submission [env HARNESS_PARTICIPANT; default: your user name].")
@server_options
@store_options
def select(
    competition: str,
    submission: str,
    unselect: bool,
    participant: str | None,
    server: str | None,
    token: str | None,
    home: str | None,
    tracking_uri: str | None,
) -> None:
    """Choose one of your submissions as a final one for the private board (up to the rules'
    selections; none chosen: your best by public score count). IDs: `harness submissions`.

    \b
    Example:
      harness select titanic 1a2b3c4d
    """
    import harness

    hall = _board(competition, server, token, home, tracking_uri)
    who = harness.api.default_participant() if participant is None else participant
    got = hall.select(submission, participant=who, selected=not unselect)
    done = "unselected" if unselect else "selected"
    chosen = ", ".join(c[:8] for c in got.selections) or "none"
    click.echo(
        f"{competition}: {got.run_id[:8]} {done}. Final selections: {chosen} "
        f"({len(got.selections)} of {got.allowed})."
    )


@cli.command()
@COMPETITION
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@server_options
@store_options
def reveal(
    competition: str,
    yes: bool,
    server: str | None,
    token: str | None,
    home: str | None,
    tracking_uri: str | None,
) -> None:
    """End the competition now (the host): compute every private score from the submitted
    files, open the private board; later submissions are late.

    \b
    Example:
      harness reveal titanic --yes
    """
    if not yes and sys.stdin.isatty():
        click.confirm(f"End {competition} now and reveal the private board?", abort=True)
    got = _board(competition, server, token, home, tracking_uri).reveal()  # host token
    ended = f"{got.ended_at.astimezone(dt.UTC):%Y-%m-%d %H:%M}"
    click.echo(
        f"{competition} ended {ended} UTC; {got.graded} private "
        f"score{'' if got.graded == 1 else 's'} computed. "
        f"`harness leaderboard {competition} --private` shows the final standings."
    )


@cli.command()
@click.argument("competition", type=CompetitionType(), required=False)
@raw_option("Raw data to re-derive the answers from")
@click.option("--sweep", is_flag=True, help="End runs RUNNING past the grace period.")
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=60,
    show_default=True,
    metavar="MINUTES",
    help="How long a run may stay RUNNING before it is reported as stale.",
)
@store_options
def verify(
    competition: str | None,
    raw: Path | None,
    sweep: bool,
    grace: float,
    home: str | None,
    tracking_uri: str | None,
) -> None:
    """Check answers, recorded submissions and the index; print what differs, exit 1 if any.

    Re-derives the answers from the raw data when it is at hand, checks every submission's
    artifact against its sha256, regrades it against the answers, and compares the index
    with MLflow. Without COMPETITION: every prepared competition.

    \b
    Example:
      harness verify titanic
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    import harness
    from harness.board.service import verify_summary as summary

    if raw is not None and competition is None:
        raise click.UsageError("--raw needs a COMPETITION")
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    err = _console(stderr=True)
    with Progress(*columns, console=err, transient=True, disable=not err.is_terminal) as bar:
        task = bar.add_task("verify", total=None)

        def show(what: str, done: int, total: int | None) -> None:
            bar.update(task, description=what, completed=done, total=total)

        reports = harness.verify(
            competition,
            raw=raw,
            sweep=sweep,
            grace_minutes=grace,
            home=home,
            tracking_uri=tracking_uri,
            progress=show,
        )
    for report in reports:
        for finding in report.findings:
            click.echo(str(finding))
        for line in report.warnings:
            click.echo(f"{report.competition}: warning: {line}")
        for line in report.notes:
            click.echo(f"{report.competition}: note: {line}")
        click.echo(summary(report))
    found = sum(len(r.findings) for r in reports)
    checked = sum(r.submissions for r in reports)
    comps = f"{len(reports)} competition{'s' * (len(reports) != 1)}"
    if not reports:
        click.echo("verify: no prepared competition to verify.")
    elif found:
        click.echo(f"verify: {found} finding{'s' * (found != 1)} in {comps}; see above.")
    else:
        subs = f"{checked:,} submission{'s' * (checked != 1)}"
        click.echo(f"verify: OK: {comps}, {subs}, nothing differs.")
    if found:
        sys.exit(1)


@cli.command()
@click.argument("competition", type=CompetitionType(), required=False)
@click.option("--port", default=5000, show_default=True, help="Port on 127.0.0.1.")
@store_options
def ui(competition: str | None, port: int, home: str | None, tracking_uri: str | None) -> None:
    """Open the MLflow UI on 127.0.0.1 over the leaderboard's store.

    With COMPETITION the URL printed is its runs table (one run per submission, the study
    runs, public_score among the columns) in MLflow's Model-training view; without it, the
    list of experiments. It is printed once the server answers (starting it can take a minute
    on a small machine). Ctrl-C, SIGTERM or SIGHUP stops the server and everything it started,
    then exits 0; if the server stops by itself, its exit code is ours.

    \b
    Example:
      harness ui titanic --port 5001
    """
    from harness.board.service import Board
    from harness.mlflow_ui import runs_page, serve
    from harness.settings import Settings

    settings = Settings.resolve(home, tracking_uri)
    local = settings.tracking_uri.startswith("sqlite:")
    if local and not 1 <= port <= 65535:
        raise click.BadParameter("must be between 1 and 65535", param_hint="'--port'")
    experiment = None if competition is None else Board(competition, settings).ui_experiment()
    if not local:
        url = runs_page(settings.tracking_uri, experiment)
        click.echo(f"The store is a tracking server: open {url} in a browser.")
        return
    code = serve(
        settings, port, say=lambda line: click.echo(line, err=True), experiment_id=experiment
    )
    if code:
        sys.exit(code)


@cli.command()
@COMPETITION
@click.option("--force", is_flag=True, help="Download again even if already downloaded.")
@click.option("--url", metavar="URL", help="A mirror of the official archive (same checksum).")
@click.option(
    "--to",
    "into",
    type=click.Path(file_okay=False, path_type=Path),
    help="With --server: where the public files go [default: ./<competition>].",
)
@server_options
@home_option
def download(
    competition: str,
    force: bool,
    url: str | None,
    into: Path | None,
    server: str | None,
    token: str | None,
    home: str | None,
) -> None:
    """Download the raw data: the publisher's official URL (resumable, checksum-verified) or,
    for Kaggle-only data, the Kaggle API (needs `pip install kaggle` and a token). With
    --server: a hosted competition's public files, each checked against its manifest.

    \b
    Example:
      harness download cifar10 && harness prepare cifar10
    """
    board = _board(competition, server, token, home, None)
    bars: list[Any] = []  # the bar appears with the first bytes, not before an error

    def show(done: int, total: int | None) -> None:
        from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

        if not bars:
            columns = (BarColumn(), DownloadColumn(), TransferSpeedColumn())
            bars.append(Progress(f"{competition}", *columns, console=_console(stderr=True)))
            bars.append(bars[0].add_task("download", total=None))
            bars[0].start()
        bars[0].update(bars[1], completed=done, total=total)

    try:
        got = board.download(into, force=force, url=url, progress=show)
    finally:
        if bars:
            bars[0].stop()
    click.echo(printable(got.summary()))


def _database_option(f: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--database",
        envvar="HARNESS_DATABASE",
        metavar="URI",
        help="The Harness database: tokens and the rules' lock [env HARNESS_DATABASE; default: "
        "the tracking URI if postgresql://, else sqlite in <home>/private].",
    )(f)


def _server_settings(home: str | None, tracking_uri: str | None, database: str | None) -> Any:
    import os

    from harness.settings import DATABASE_ENV, Settings

    if database:
        os.environ[DATABASE_ENV] = database
    return Settings.resolve(home, tracking_uri)


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=8000, show_default=True, help="Port.")
@click.option("--workers", default=1, show_default=True, help="Server processes.")
@click.option(
    "--code-workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=0),
    help="Processes that run queued code submissions in the sandbox (0: none here).",
)
@click.option(
    "--max-upload-mb",
    default=200.0,
    show_default=True,
    help="Largest submission upload accepted (413 beyond).",
)
@click.option(
    "--local",
    is_flag=True,
    help="The web pages for you alone: no tokens, 127.0.0.1 only, you act as host "
    "[you: env HARNESS_PARTICIPANT, default your user name].",
)
@click.option(
    "--export",
    "export_dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Write the public pages as plain HTML into DIR (a course site) and exit.",
)
@_database_option
@store_options
def serve(
    host: str,
    port: int,
    workers: int,
    code_workers: int,
    max_upload_mb: float,
    local: bool,
    export_dir: Path | None,
    database: str | None,
    home: str | None,
    tracking_uri: str | None,
) -> None:
    """Host the prepared competitions over HTTP: participants submit, read the boards and
    select with a token (`harness participants add`); the answers never leave this machine.
    Binds to 127.0.0.1 unless told otherwise; put TLS in a reverse proxy in front of it.
    The web pages are at /, the API's schema at /docs and /openapi.json.

    \b
    Example:
      harness serve --host 0.0.0.0 --port 8000 --tracking-uri http://mlflow:5000 --workers 4
      harness serve --local                  # the pages for you alone, no tokens
      harness serve --export site/           # the public pages as static HTML
    """
    import os

    import uvicorn

    from harness.server.app import MAX_UPLOAD_ENV
    from harness.server.participants import Participants
    from harness.settings import HOME_ENV

    settings = _server_settings(home, tracking_uri, database)
    if export_dir is not None:
        from harness.server.pages import export

        written = export(settings, export_dir)
        click.echo(f"{len(written)} files written to {export_dir}; open {export_dir}/index.html")
        return
    if local:
        from harness.api import default_participant
        from harness.server.pages import LOCAL_ENV

        if host not in ("127.0.0.1", "localhost", "::1"):
            raise click.UsageError("--local serves 127.0.0.1 only: drop --host")
        if workers != 1:
            raise click.UsageError("--local runs one worker")
        os.environ[LOCAL_ENV] = default_participant()
        click.echo(
            f"Harness pages for {printable(os.environ[LOCAL_ENV])} (local, no tokens): "
            f"http://127.0.0.1:{port}/",
            err=True,
        )
    else:
        os.environ.pop("HARNESS_LOCAL_PARTICIPANT", None)  # never tokenless beyond --local
    Participants(settings)  # the table exists before the workers race to make it
    os.environ[HOME_ENV] = str(settings.home)
    os.environ["MLFLOW_TRACKING_URI"] = settings.tracking_uri
    os.environ[MAX_UPLOAD_ENV] = str(max_upload_mb)
    shown = "[::1]" if host == "::1" else host
    click.echo(
        f"Harness serving on http://{shown}:{port} ({workers} worker"
        f"{'' if workers == 1 else 's'}; store {settings.tracking_uri}). Ctrl-C stops it.",
        err=True,
    )
    consumer = _code_workers(settings, code_workers) if code_workers else None
    try:
        uvicorn.run(
            "harness.server.app:app_from_environment",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
        )
    finally:
        if consumer is not None:
            consumer.terminate()
            consumer.join(10)


def _code_workers(settings: Any, workers: int) -> Any:
    """Recover the code queue (jobs a killed server left running go back in it), then start
    its consumer with ``workers`` processes; it dies with this process."""
    import multiprocessing
    import os

    from harness.board.service import recover_code_queue, run_code_workers
    from harness.settings import DATABASE_ENV

    done = recover_code_queue(settings)
    if done["requeued"] or done["failed"]:
        click.echo(
            f"code queue: {done['requeued']} interrupted runs requeued, "
            f"{done['failed']} marked error",
            err=True,
        )
    process = multiprocessing.get_context("spawn").Process(
        target=run_code_workers,
        args=(str(settings.home), settings.tracking_uri, os.environ.get(DATABASE_ENV), workers),
        daemon=False,
    )
    process.start()
    return process


@cli.command()
@click.option("--once", is_flag=True, help="Stop when no code submission is queued.")
@_database_option
@store_options
def runner(once: bool, database: str | None, home: str | None, tracking_uri: str | None) -> None:
    """Run queued code submissions on this machine, taking them from the Harness database
    (PostgreSQL: `harness serve` elsewhere accepts them). This machine needs the competitions
    prepared in its home (the test and the answers stay on machines the host controls), the
    same tracking URI, and bubblewrap.

    \b
    Example:
      HARNESS_DATABASE=postgresql://host/harness harness runner --tracking-uri http://host:5000
    """
    from harness.board.service import run_code_jobs

    settings = _server_settings(home, tracking_uri, database)
    say = functools.partial(click.echo, err=True)
    say(f"runner: taking code submissions from {settings.database_uri.split('@')[-1]}")
    ran = run_code_jobs(settings, once=once, say=say)
    click.echo(f"{ran} code submissions run.")


@cli.group()
def team() -> None:
    """Teams, as on Kaggle: one entry, one daily limit and one set of final selections per
    team; a participant in no team is a team of one.

    \b
    Example:
      harness team create titanic "Night Owls"
      harness team join titanic team_AbC123...
    """


def _say_team(got: Any, *, code: bool = True) -> None:
    from harness.errors import printable as shown

    if got.solo:
        click.echo(f"{shown(got.name)}: in no team (a team of one).")
        return
    click.echo(f"{shown(got.name)}: {', '.join(shown(m) for m in got.members)}")
    if code and got.code:
        click.echo(f"invitation code: {got.code} (give it to whoever may join)")
    if got.requests:
        asked = ", ".join(shown(r) for r in got.requests)
        click.echo(f"asking to merge in: {asked} (`harness team accept COMPETITION TEAM`)")


@team.command("show")
@COMPETITION
@participant_option("Whose team [env HARNESS_PARTICIPANT; default: your user name].")
@server_options
@store_options
def team_show(
    competition: str,
    participant: str | None,
    server: str | None,
    token: str | None,
    home: str | None,
    tracking_uri: str | None,
) -> None:
    """Your team: its members, invitation code and the merge requests it received.

    \b
    Example:
      harness team show titanic
    """
    hall = _board(competition, server, token, home, tracking_uri)
    _say_team(hall.team(_who(participant)))


@team.command("list")
@COMPETITION
@server_options
@store_options
def team_list(
    competition: str,
    server: str | None,
    token: str | None,
    home: str | None,
    tracking_uri: str | None,
) -> None:
    """Every team of the competition and its members.

    \b
    Example:
      harness team list titanic
    """
    hall = _board(competition, server, token, home, tracking_uri)
    found = hall.teams()
    if not found:
        click.echo(f"{competition}: no teams yet (everyone is a team of one).")
        return
    for got in found:
        _say_team(got, code=False)


def _team_action(name: str, doc: str, method: str, argument: str | None) -> None:
    """One `harness team` command that calls one board method with one argument."""

    def command(
        competition: str,
        participant: str | None,
        server: str | None,
        token: str | None,
        home: str | None,
        tracking_uri: str | None,
        **given: Any,
    ) -> None:
        hall = _board(competition, server, token, home, tracking_uri)
        args = [given[argument]] if argument else []
        _say_team(getattr(hall, method)(*args, participant=_who(participant)))

    command.__doc__ = doc
    command.__name__ = f"team_{name}"
    wrapped: Any = command
    for decorate in (store_options, server_options):
        wrapped = decorate(wrapped)
    wrapped = participant_option("Who acts [env HARNESS_PARTICIPANT; default: your user name].")(
        wrapped
    )
    if argument:
        wrapped = click.argument(argument)(wrapped)
    wrapped = COMPETITION(wrapped)
    team.command(name)(wrapped)


_team_action(
    "create",
    "Make a team with you in it and print its invitation code.\n\n"
    '\b\nExample:\n  harness team create titanic "Night Owls"',
    "create_team",
    "name",
)
_team_action(
    "join",
    "Join the team whose invitation code you were given (your team, if any, merges in).\n\n"
    "\b\nExample:\n  harness team join titanic team_AbC123",
    "join_team",
    "code",
)
_team_action(
    "leave",
    "Leave your team (only before it has submitted).\n\n"
    "\b\nExample:\n  harness team leave titanic",
    "leave_team",
    None,
)
_team_action(
    "code",
    "Give your team a new invitation code (the old one stops working).\n\n"
    "\b\nExample:\n  harness team code titanic",
    "renew_team_code",
    None,
)
_team_action(
    "merge",
    "Ask another team to take your team in (a member of theirs accepts).\n\n"
    '\b\nExample:\n  harness team merge titanic "Night Owls"',
    "request_merge",
    "team",
)
_team_action(
    "accept",
    "Take in a team that asked to merge into yours.\n\n"
    '\b\nExample:\n  harness team accept titanic "Early Birds"',
    "accept_merge",
    "team",
)


def _who(participant: str | None) -> str:
    import harness

    return harness.api.default_participant() if participant is None else participant


@cli.group()
def participants() -> None:
    """Hosted participants and their tokens (the host's machine).

    \b
    Example:
      harness participants add alice
    """


@participants.command("add")
@click.argument("name")
@click.option("--host-role", "host_role", is_flag=True, help="A host: may set rules, reveal.")
@_database_option
@store_options
def participants_add(
    name: str, host_role: bool, database: str | None, home: str | None, tracking_uri: str | None
) -> None:
    """Add a participant and print their token, once (only its hash is kept).

    \b
    Example:
      harness participants add alice
    """
    from harness.server.participants import Participants

    people = Participants(_server_settings(home, tracking_uri, database))
    token = people.add(name, role="host" if host_role else "participant")
    click.echo(f"{printable(name)}'s token (shown once; give it to them privately):", err=True)
    click.echo(token)


@participants.command("list")
@_database_option
@store_options
def participants_list(database: str | None, home: str | None, tracking_uri: str | None) -> None:
    """Every participant: name, role, added, revoked.

    \b
    Example:
      harness participants list
    """
    from harness.server.participants import Participants

    people = Participants(_server_settings(home, tracking_uri, database)).list()
    rows = [
        {
            "participant": p.name,
            "role": p.role,
            "added": p.created_at.isoformat(),
            "revoked": None if p.revoked_at is None else p.revoked_at.isoformat(),
        }
        for p in people
    ]
    if not rows:
        click.echo("No participants yet: `harness participants add NAME`.")
        return
    _print_rows(["participant", "role", "added", "revoked"], rows, "table", title="participants")


@participants.command("revoke")
@click.argument("name")
@_database_option
@store_options
def participants_revoke(
    name: str, database: str | None, home: str | None, tracking_uri: str | None
) -> None:
    """Revoke a participant's token: their next request is refused.

    \b
    Example:
      harness participants revoke bob
    """
    from harness.server.participants import Participants

    Participants(_server_settings(home, tracking_uri, database)).revoke(name)
    click.echo(f"{printable(name)}'s token is revoked.")


@cli.group()
def invitations() -> None:
    """Invitation codes for a class (the host's machine): a participant signs up at
    /signup on `harness serve` with a code and a name of their choice.

    \b
    Example:
      harness invitations create --uses 30 --days 14
    """


def _invitations(home: str | None, tracking_uri: str | None, database: str | None) -> Any:
    from harness.server.participants import Participants
    from harness.server.signup import Invitations

    return Invitations(Participants(_server_settings(home, tracking_uri, database)))


def _say_invitations(found: list[Any]) -> None:
    rows = [i.as_dict() for i in found]
    cols = ["id", "code", "uses", "max_uses", "expires_at", "state"]
    _print_rows(cols, rows, "table", title="invitations")


@invitations.command("create")
@click.option("--uses", type=click.IntRange(min=1), default=30, show_default=True)
@click.option("--days", type=click.FloatRange(min=0, min_open=True), default=7, show_default=True)
@_database_option
@store_options
def invitations_create(
    uses: int, days: float, database: str | None, home: str | None, tracking_uri: str | None
) -> None:
    """Make an invitation code for USES sign-ups within DAYS days.

    \b
    Example:
      harness invitations create --uses 30 --days 14
    """
    made = _invitations(home, tracking_uri, database).create(uses=uses, days=days)
    click.echo(f"invitation {made.id}: {made.uses} of {made.max_uses} used", err=True)
    click.echo(made.code)


@invitations.command("list")
@_database_option
@store_options
def invitations_list(database: str | None, home: str | None, tracking_uri: str | None) -> None:
    """Every invitation code: uses, expiry, state (open, expired, used up, revoked).

    \b
    Example:
      harness invitations list
    """
    found = _invitations(home, tracking_uri, database).list()
    if not found:
        click.echo("No invitations yet: `harness invitations create`.")
        return
    _say_invitations(found)


@invitations.command("revoke")
@click.argument("ident", metavar="ID")
@_database_option
@store_options
def invitations_revoke(
    ident: str, database: str | None, home: str | None, tracking_uri: str | None
) -> None:
    """Revoke an invitation code (its ID from `harness invitations list`).

    \b
    Example:
      harness invitations revoke 1a2b3c4d
    """
    _say_invitations([_invitations(home, tracking_uri, database).revoke(ident)])


@invitations.command("reissue")
@click.argument("ident", metavar="ID")
@_database_option
@store_options
def invitations_reissue(
    ident: str, database: str | None, home: str | None, tracking_uri: str | None
) -> None:
    """Revoke a code and make a new one with the uses it had left and its expiry.

    \b
    Example:
      harness invitations reissue 1a2b3c4d
    """
    _say_invitations([_invitations(home, tracking_uri, database).reissue(ident)])


def run_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """What `baseline` and `tune` share: the model, seed, thread cap, the GPU baselines'
    training settings (others refuse them by name) and the store. The command receives them as
    ``**run``; :func:`_run` turns them into the library call's keywords."""
    options = [
        click.option("--model", metavar="NAME", help="Which baseline (see `harness baselines`)."),
        click.option("--seed", default=0, show_default=True, help="Seeds folds, sampler, models."),
        click.option(
            "--threads",
            type=click.IntRange(min=1),
            help="CPU threads per trial [default: the cores other work leaves free, divided "
            "by --jobs, measured before each trial].",
        ),
        click.option(
            "--epochs", type=click.FloatRange(min=0, min_open=True), help="Training epochs."
        ),
        click.option(
            "--device",
            metavar="cuda|cpu",
            help="Where to train [default: cuda when there is one, else cpu].",
        ),
        click.option("--image-size", type=click.IntRange(min=8), help="Image side in pixels."),
        click.option(
            "--minutes",
            type=click.FloatRange(min=0, min_open=True),
            help="Time budget of each training run (epoch-based models): the schedule is "
            "sized from a measured warm-up so training, test-time augmentation and the "
            "submission end within it [default: the recipe's epochs].",
        ),
        click.option(
            "--checkpoint",
            metavar="PATH",
            help="Start from weights on disk (nothing is ever downloaded).",
        ),
        click.option(
            "--compile/--no-compile",
            default=None,
            help="torch.compile the network [default: the model's choice].",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return store_options(command)


def _run(run: dict[str, Any]) -> dict[str, Any]:
    """``run_options``' values as keywords of ``harness.baseline`` / ``harness.tune``."""
    epochs = run.pop("epochs")
    return {**run, "overrides": {"epochs": epochs} if epochs is not None else None}


@cli.command("baselines")
def baselines_command() -> None:
    """Which baselines exist, for which task kinds, and what a missing one needs installed.

    \b
    Example:
      harness baselines
    """
    from rich.markup import escape
    from rich.table import Table

    from harness.baselines import baselines, install_hint, kinds

    chosen = {kind.name: kind.default_choice() for kind in kinds().values()}
    defaults = {(kind, name) for kind, (name, _) in chosen.items()}
    table = Table("baseline", "kind", "tasks", "what", "default here", "installed")
    to_install: dict[str, list[str]] = {}  # pip command -> the baselines it makes usable
    for (kind, name), b in sorted(baselines().items()):
        tasks = ", ".join(sorted(t.value for t in b.tasks))
        default = "yes" if (kind, name) in defaults else ""
        missing = b.missing()
        installed = "yes" if not missing else f"no: needs {', '.join(missing)}"
        if missing:
            to_install.setdefault(install_hint(b.extra), []).append(name)
        cells = (name, kind, tasks, b.summary, default, installed)
        table.add_row(*(escape(cell) for cell in cells))
    console = _console()
    console.print(table)
    for kind, (name, why) in sorted(chosen.items()):
        console.print(escape(f"{kind} default on this machine: {name} ({why})"))
    for command, names in to_install.items():
        console.print(escape(f"{', '.join(names)}: {command}"))


@cli.command()
@COMPETITION
@run_options
def baseline(competition: str, **run: Any) -> None:
    """Train a baseline with its defaults, score it on the public train (5-fold CV, or a
    held-out slice for the image and Transformer models), and submit it as participant
    baseline/<model>.

    \b
    Example:
      harness baseline house-prices --model gbm
      harness baseline cifar10 --model airnet --device cuda
      harness baseline dogs-vs-cats --model resnet26d --image-size 128
    """
    import harness

    err = _console(stderr=True)
    with err.status(f"{competition}: training the default baseline") as status:
        result = harness.baseline(
            competition,
            progress=lambda line: status.update(f"{competition}: {line}"),
            **_run(run),
        )
    _report_tuning(competition, result)


@cli.command()
@COMPETITION
@click.option(
    "--trials",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Trials to run now (a resumed study adds them to those it has).",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="Stop starting trials after this long.",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Trials in parallel: processes for k-fold baselines on the default study journal, "
    "else threads.",
)
@click.option(
    "--study",
    metavar="NAME",
    help="Study name [default: <competition>-<model>]; "
    "an existing study continues where it stopped.",
)
@click.option(
    "--storage",
    metavar="URL",
    help="Optuna storage URL (e.g. postgresql://…) for "
    "many workers [default: a journal file in HARNESS_HOME].",
)
@run_options
def tune(
    competition: str,
    trials: int,
    timeout: float | None,
    jobs: int,
    study: str | None,
    storage: str | None,
    **run: Any,
) -> None:
    """Tune a baseline with Optuna on the public train (k-fold CV, pruning), track every trial
    in MLflow, and submit the pick (the one-standard-error rule) as participant
    baseline/<model>@<study>.

    \b
    Example:
      harness tune titanic --trials 100 --timeout 600 --model gbm
    """
    import harness

    def show(p: Any) -> None:
        if p.value is not None:
            value = f"{p.value:.5f}"
        elif p.state == "pruned":
            value = f"pruned at {p.pruned_at}" if p.pruned_at else "pruned"
        else:
            value = p.state  # "fail"
        total = f"/{p.trials}" if p.trials else ""
        best = "best -" if p.best_trial < 0 else f"best {p.best:.5f} (#{p.best_trial})"
        eta = ""
        if p.trials:
            eta = f"  ETA {_clock(p.elapsed / p.trial * (p.trials - p.trial))}"
        click.echo(
            f"trial {p.trial}{total} (#{p.number})  {value:>9}  {best}  "
            f"{p.threads} thread{'s' if p.threads != 1 else ''}  "
            f"elapsed {_clock(p.elapsed)}{eta}",
            err=True,
        )

    result = harness.tune(
        competition,
        trials=trials,
        timeout=timeout,
        jobs=jobs,
        study=study,
        storage=storage,
        progress=show,
        **_run(run),
    )
    _report_tuning(competition, result)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}:{secs:02d}"


def _report_tuning(competition: str, result: Any) -> None:
    entry = result.submission.entry
    params = ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in result.params.items()
    )
    click.echo(
        f"{competition}: {result.baseline.name} CV {result.cv_score:.5f} ± {result.cv_se:.5f} SE "
        f"(trial {result.trial} of {len(result.study.trials)} in study "
        f"'{result.study.study_name}', {result.seconds:.1f} s)"
    )
    click.echo(f"best params: {params}")
    check = result.confirmation
    if check:
        click.echo(
            f"checked trial {check['trial']} against the defaults on {check['folds']} fresh "
            f"folds: {check['pick']:.5f} vs {check['defaults']:.5f}, gain "
            f"{check['gain']:+.5f} ± {check['gain_se']:.5f} SE: kept the {check['kept']}"
            + (" (a gain within the noise)" if check["kept"] == "defaults" else "")
        )
    click.echo(
        f"submitted as {entry.participant}: public score {entry.public_score:.5f}, rank "
        f"{result.submission.rank} of {result.submission.participants}; "
        f"see `harness ui {competition}`"
    )


@cli.command()
@click.argument("competition")
@click.option(
    "--from",
    "source",
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="The folder: train.csv, and test.csv + solution.csv or train alone; description.md.",
)
@click.option("--metric", metavar="NAME", help="A metric by name: accuracy, f1_macro, roc_auc, "
              "log_loss, rmse, mae, r2, rmse_log.")  # fmt: skip
@click.option(
    "--metric-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Your metric in Kaggle's signature: score(solution, submission, row_id_column_name).",
)
@click.option(
    "--higher-is-better/--lower-is-better",
    "greater_is_better",
    default=None,
    help="The metric file's direction (required with --metric-file).",
)
@click.option(
    "--predictions",
    "needs",
    type=click.Choice(["labels", "probabilities", "finite", "positive"]),  # metrics.Needs
    help="What a metric file takes [default: labels for classification, else finite].",
)
@click.option("--task", type=click.Choice(["classification", "regression"]))
@click.option("--id-column", metavar="NAME", help="[default: the first column of train.csv]")
@click.option(
    "--target",
    "targets",
    multiple=True,
    metavar="NAME",
    help="[default: solution.csv's columns, else the last column of train.csv]",
)
@click.option("--title", help="[default: from the id]")
@click.option(
    "--test-size",
    type=click.FloatRange(0, 1, min_open=True, max_open=True),
    default=0.2,
    show_default=True,
    help="Share of train cut off as the test, when there is no test.csv.",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds every split.")
@home_option
def create(
    competition: str,
    source: Path,
    metric: str | None,
    metric_file: Path | None,
    greater_is_better: bool | None,
    needs: str | None,
    task: str | None,
    id_column: str | None,
    targets: tuple[str, ...],
    title: str | None,
    test_size: float,
    seed: int,
    home: str | None,
) -> None:
    """Create a competition from a folder of files, no package needed: a labelled train.csv,
    and test.csv with its labels apart in solution.csv (Usage optional) or nothing else (a
    seeded, stratified test is cut from train), and description.md. It is kept in the data
    home; every other command works on it.

    \b
    Example:
      harness create class-churn --from ./churn --metric accuracy
      harness create class-churn --from ./churn --metric-file metric.py --higher-is-better
    """
    from harness.authoring.create import Declared, create
    from harness.settings import Settings

    declared = Declared(
        title=title,
        metric=metric,
        metric_file=metric_file,
        greater_is_better=greater_is_better,
        needs=needs,
        task=task,
        id_column=id_column,
        targets=targets,
        test_size=test_size,
        seed=seed,
    )
    err = _console(stderr=True)
    with err.status(f"creating {competition}") as status:
        done = create(
            competition,
            source,
            Settings.resolve(home),
            declared,
            progress=lambda msg: status.update(printable(msg)),
        )
    rows = done.preparation.manifest.get("rows", {})
    for note in done.notes:
        click.echo(f"note: {printable(note)}")
    click.echo(
        f"{competition} created from {printable(source)}: {_n(rows.get('train'))} train rows, "
        f"{_n(rows.get('test'))} test rows."
    )
    click.echo(f"public files: {done.preparation.public}")
    click.echo(f"next: `harness describe {competition}`, `harness serve` to host it")


@cli.command("export")
@COMPETITION
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["kaggle", "hf", "codabench"]),
    required=True,
    help="Kaggle community competition, Hugging Face competitions, or a Codabench v2 bundle.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Where to write it [default: ./<id>-<format> (Codabench: a .zip)].",
)
@home_option
def export_command(competition: str, fmt: str, out: Path | None, home: str | None) -> None:
    """Write a prepared competition in another platform's format: its public files, its
    answers with their public/private split, its metric in Kaggle's signature, its description
    and its rules where the format has a place for them.

    \b
    Example:
      harness export class-churn --format codabench --out class-churn.zip
    """
    from harness.authoring.transfer import export
    from harness.settings import Settings

    where = export(competition, Settings.resolve(home), fmt, out)
    click.echo(f"{competition} exported as {fmt}: {printable(where)}")


@cli.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--id", "competition", metavar="ID", help="[default: the id the bundle carries]")
@click.option(
    "--data",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="An mle-bench competition's prepared data folder (<data-dir>/<id>/prepared).",
)
@click.option("--metric", metavar="NAME", help="The metric, where the bundle names none.")
@click.option(
    "--higher-is-better/--lower-is-better",
    "greater_is_better",
    default=None,
    help="The direction of the bundle's metric file, where it does not say.",
)
@click.option(
    "--predictions",
    "needs",
    type=click.Choice(["labels", "probabilities", "finite", "positive"]),  # metrics.Needs
    help="What the bundle's metric file or scoring program takes, where it does not say "
    "[default: labels for classification, else finite].",
)
@home_option
def import_command(
    path: Path,
    competition: str | None,
    data: Path | None,
    metric: str | None,
    greater_is_better: bool | None,
    needs: str | None,
    home: str | None,
) -> None:
    """Import a competition from a Kaggle, Hugging Face or Codabench bundle (a folder or a
    zip) or an mle-bench competition folder. Nothing from the bundle runs outside the sandbox:
    its metric file or Codabench scoring program runs when a submission is scored (and once to
    check it scores the answers above the sample), in the sandbox.

    \b
    Example:
      harness import class-churn.zip
      harness import mle-bench/mlebench/competitions/spaceship-titanic \\
        --data ~/.cache/mle-bench/data/spaceship-titanic/prepared
    """
    from harness.authoring.transfer import import_bundle
    from harness.settings import Settings

    declared: dict[str, Any] = {}
    if metric is not None:
        declared.update(
            metric=metric, metric_file=None, program=None, greater_is_better=None, needs=None
        )
    else:
        if greater_is_better is not None:
            declared["greater_is_better"] = greater_is_better
        if needs is not None:
            declared["needs"] = needs
    err = _console(stderr=True)
    with err.status(f"importing {printable(path)}") as status:
        done, fmt, notes = import_bundle(
            path,
            Settings.resolve(home),
            competition=competition,
            data=data,
            declared=declared,
            progress=lambda msg: status.update(printable(msg)),
        )
    for note in [*notes, *done.notes]:
        click.echo(f"note: {printable(note)}")
    rows = done.preparation.manifest.get("rows", {})
    click.echo(
        f"{done.competition} imported from {printable(path)} ({fmt}): "
        f"{_n(rows.get('train'))} train rows, {_n(rows.get('test'))} test rows."
    )


def _competition(name: str) -> Any:
    from harness.registry import get_competition

    return get_competition(name)


def _n(value: Any) -> str:
    import math

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    return f"{int(value):,}"


def _print_frame(
    frame: Any, fmt: str, *, title: str, store: str | None = None, note: str = ""
) -> None:
    """``frame`` as a table, CSV or JSON (see :func:`_print_rows`)."""
    if fmt == "csv":
        click.echo(frame.to_csv(index=False), nl=False)
        if note:
            click.echo(f"note: {note}", err=True)
        return
    from harness.board.service import records

    _print_rows(list(frame.columns), records(frame), fmt, title=title, store=store, note=note)


def _print_rows(
    columns: list[str],
    rows: list[dict[str, Any]],
    fmt: str,
    *,
    title: str,
    store: str | None = None,
    note: str = "",
) -> None:
    """Records as a table (every cell is text: names and messages are data, never markup,
    their control characters escaped), CSV or JSON (the data as recorded). ``note`` follows
    the table, or goes to stderr beside CSV and JSON."""
    if fmt in ("csv", "json"):
        if fmt == "csv":
            import csv
            import io

            out = io.StringIO()
            writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
            writer.writeheader()
            writer.writerows(rows)
            click.echo(out.getvalue(), nl=False)
        else:
            import json

            click.echo(json.dumps(rows, indent=1, ensure_ascii=False))
        if note:
            click.echo(f"note: {note}", err=True)
        return
    from rich.table import Table
    from rich.text import Text

    table = Table()
    for column in columns:
        values = [r.get(column) for r in rows if r.get(column) is not None]
        numeric = bool(values) and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values
        )
        table.add_column(Text(printable(str(column))), justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*(Text(_cell(row.get(c), c)) for c in columns))
    if not rows:
        where = f" in {store}" if store else ""
        what = "on the current preparation " if note else ""
        click.echo(printable(f"{title}: no submissions {what}yet{where}."))
    else:
        click.echo(printable(title))
        _console().print(table)
    if note:
        click.echo(f"note: {printable(note)}")


TIME_COLUMNS = ("submitted_at", "last")


def _cell(value: Any, column: str = "") -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return "-" if value != value else f"{value:.5f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if column in TIME_COLUMNS and isinstance(value, str) and len(value) >= 19:
        return printable(value[:19].replace("T", " "))  # ISO UTC, shown to the second
    return printable(str(value))


def main(args: Sequence[str] | None = None) -> NoReturn:
    """The ``harness`` command. Once the command is done (its exit handlers run, its output
    flushed), the process leaves without the interpreter's teardown: after MLflow and
    SQLAlchemy are loaded, freeing their thousands of modules and objects one by one takes
    about half a second, which a user would wait for and nothing needs."""
    try:
        cli.main(args=args, prog_name="harness")  # standalone: ends by raising SystemExit
    except SystemExit as done:
        _leave(done.code)
    _leave(0)  # not reached: click always raises SystemExit in standalone mode


def _leave(code: object) -> NoReturn:
    """End the process as ``sys.exit(code)`` would, but skip the interpreter's teardown: stop
    the threads as Python's exit does (their exit callbacks, then a wait for those that are not
    daemons), run the exit handlers, flush, then ``os._exit``."""
    import atexit
    import os
    import threading

    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:  # sys.exit("message"): the message on stderr, status 1
        print(code, file=sys.stderr)
        status = 1
    # What Python's own exit does first: the threads' exit callbacks (a thread pool tells its
    # workers to stop there), then wait for every thread that is not a daemon.
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()
    else:  # another Python: join them (a pool's workers must then have been shut down)
        for thread in threading.enumerate():
            if thread is not threading.current_thread() and not thread.daemon:
                thread.join()
    atexit._run_exitfuncs()  # logging's flush, multiprocessing's clean-up, …
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`harness … | head`): nothing to flush to
            status = status or 1
    os._exit(status)


if __name__ == "__main__":
    main()
