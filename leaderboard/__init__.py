"""The leaderboard: MLflow is the system of record (one experiment per competition, one run per
submission); ``ranking`` turns recorded submissions into standings; ``index`` keeps a derived,
rebuildable copy so standings stay fast at thousands of submissions; ``service`` is the board
service every front door calls.

The names below import lazily, so importing one light module (``leaderboard.service``,
``leaderboard.results``) does not import the store."""

from __future__ import annotations

from typing import Any

__all__ = ["Entry", "Leaderboard", "history", "standings"]


def __getattr__(name: str) -> Any:
    if name in ("history", "standings"):
        from harness.board import ranking

        return getattr(ranking, name)
    if name == "Entry":
        from harness.board.results import Entry

        return Entry
    if name == "Leaderboard":
        from harness.board.store import Leaderboard

        return Leaderboard
    raise AttributeError(f"module 'leaderboard' has no attribute {name!r}")
