"""The leaderboard: MLflow is the system of record (one experiment per competition, one run per
submission); ``ranking`` turns recorded submissions into standings; ``index`` keeps a derived,
rebuildable copy so standings stay fast at thousands of submissions."""

from leaderboard.ranking import history, standings
from leaderboard.store import Entry, Leaderboard

__all__ = ["Entry", "Leaderboard", "history", "standings"]
