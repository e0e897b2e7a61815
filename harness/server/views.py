"""What each page shows: its template's context, from one or two calls of the board service
(:mod:`leaderboard.service`) plus the drawing (bars, plots, the rows' shapes). No rule here:
who may read what, what is left today and what a card says are the service's."""

from __future__ import annotations

from typing import Any

from harness.board.service import Board, RulesView, hosted
from harness.board.service import Viewer as Asker
from harness.errors import Forbidden, Unauthorized
from harness.server import charts
from harness.server.site import Site, Viewer, missing, rows_of


def asker(viewer: Viewer) -> Asker:
    """The pages' viewer as the service's (a name, host or not)."""
    return Asker(viewer.name, viewer.is_host)


def competitions_context(site: Site, viewer: Viewer) -> dict[str, Any]:
    cards = []
    for board in hosted(site.settings):  # only what the host prepared is shown
        card = board.card(asker(viewer), standing=viewer.name is not None)
        shown = dict(card.__dict__)
        shown.update(task=card.task.replace("_", " "), time_left=card.clock)
        cards.append(shown)
    return {"cards": cards, "title": "Competitions"}


def header(board: Board, view: RulesView) -> dict[str, Any]:
    """The competition's heading on its pages: title, metric, phase, the time left."""
    comp = board.comp
    return {
        "id": comp.id,
        "title": comp.title,
        "metric": comp.metric.name,
        "direction": comp.metric.direction,
        "phase": view.facts["phase"],
        "deadline": view.deadline,
        "time_left": view.clock,
        "private_open": view.private_open,
        "ended": view.ended,
    }


def board_context(site: Site, viewer: Viewer, cid: str, *, private: bool) -> dict[str, Any]:
    board = site.board(cid)
    rules = board.rules()
    table = board.standings(private=private)
    frame = table.frame
    rows = rows_of(frame)
    finite: list[float] = [
        float(v)
        for r in rows
        for v in (r.get("low"), r.get("high"), r.get("score"))
        if v is not None and not missing(v)
    ]
    axis = (min(finite), max(finite)) if finite else (0.0, 1.0)
    for r in rows:
        r["bar"] = charts.interval_bar(r.get("score"), r.get("low"), r.get("high"), axis)
        r["baseline"] = str(r["participant"]).startswith("baseline/")
        mine = viewer.name is not None and viewer.name in str(r.get("members") or "").split(", ")
        r["you"] = r["participant"] == viewer.name or mine
        cls = r.get("class")
        r["tie"] = "" if cls is None else f"={int(cls)}"
    holds = [r["holds"] for r in rows if r.get("holds") is not None]
    return {
        "comp": header(board, rules),
        "view": table.view,
        "rows": rows,
        "medals": "medal" in frame.columns,
        "note": table.note,
        "forecast": {"keep": sum(holds), "of": len(holds)} if holds else None,
        "shakeup": table.shakeup,
        "axis": axis,
        "title": f"{board.comp.title}: {table.view} leaderboard",
    }


def shakeup_context(site: Site, viewer: Viewer, cid: str) -> dict[str, Any]:
    board = site.board(cid)
    rules = board.rules()
    head = header(board, rules)
    if not head["ended"]:
        raise Forbidden(f"the shake-up of {board.id} is shown after the end of the competition")
    table = board.standings(private=True)
    rows = rows_of(table.frame)
    moves = []
    for r in rows:
        public = r.get("public_rank")
        if public is None and r.get("change") is not None and r.get("rank") is not None:
            public = int(r["rank"]) + int(r["change"])
        if public is None:
            continue
        moves.append(
            charts.Move(
                str(r["participant"]),
                int(public),
                None if r.get("rank") is None or r.get("score") is None else int(r["rank"]),
            )
        )
        r["public_rank_shown"] = int(public)
    shakeup = table.shakeup
    bars = None
    if shakeup:
        bars = charts.compare(
            [
                ("actual mean |rank change|", float(shakeup["mean_abs_change"])),
                ("forecast from public rows", float(shakeup["forecast_mean_abs_change"])),
            ],
            unit="places",
        )
    return {
        "comp": head,
        "rows": rows,
        "slope": charts.slope(sorted(moves, key=lambda m: m.public_rank)),
        "bars": bars,
        "shakeup": shakeup,
        "title": f"{board.comp.title}: shake-up",
    }


def submissions_context(
    site: Site, viewer: Viewer, cid: str, participant: str | None
) -> dict[str, Any]:
    if viewer.who is None:
        raise Unauthorized("sign in to read your submissions")
    board = site.board(cid)
    who = participant or viewer.name
    table = board.submissions(who, asker(viewer))
    rules = board.rules()
    head = header(board, rules)
    frame = table.frame
    rows = rows_of(frame)
    points = []
    for r in rows:
        t = r["submitted_at"].timestamp()
        if r["status"] in ("complete", "late"):
            points.append(charts.Point(t, r.get("public_score"), r.get("cv_score")))
    metric = board.comp.metric
    return {
        "comp": head,
        "rows": rows,
        "participant": who,
        "own": who == viewer.name,
        "can_select": who == viewer.name and not head["ended"],
        "selections": rules.facts["selections"],
        "has_cv": "cv_score" in frame.columns,
        "has_private": "private_score" in frame.columns,
        "plot": charts.history(
            points, greater_is_better=metric.greater_is_better, metric=metric.name
        ),
        "title": f"{board.comp.title}: submissions of {who}",
    }


def baselines_context(site: Site, viewer: Viewer, cid: str) -> dict[str, Any]:
    board = site.board(cid)
    head = header(board, board.rules())
    found = board.studies()
    return {
        "comp": head,
        "studies": [s.as_dict() for s in found.studies],
        "journal": found.journal,
        "ui": found.ui,
        "title": f"{board.comp.title}: baselines",
    }


def submit_context(site: Site, cid: str, *, message: str = "", cv: str = "") -> dict[str, Any]:
    board = site.board(cid)
    rules = board.rules()
    return {
        "comp": header(board, rules),
        "rules": rules.lines,
        "message": message,
        "cv": cv,
        "error": "",
        "result": None,
        "queued": None,
        "code_only": bool(rules.facts.get("code_only")),
        "title": f"{board.comp.title}: submit",
    }
