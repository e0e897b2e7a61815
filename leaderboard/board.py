"""What participants read: the public and private boards and the submissions list, with the
competition's rules applied (:mod:`leaderboard.rules`) and the noise statistics beside the
scores (:mod:`leaderboard.stats`). One read of MLflow (through the index) per view.

- Before the end of a competition with a deadline, no view carries a private score: the
  private board is refused (:class:`~harness.errors.RuleBroken`), and no entry has one to show.
- At the end (the deadline passed, or ``reveal``), the private scores are computed here from
  the entries' artifacts, on the machine that holds the answers (:func:`grade`), once.
- Late entries are listed, never ranked. Errors are listed, never scored.
- The public board shows each entry's bootstrap 95% interval (``low``, ``high``), its tie
  class (``class``: the rank of the best entry it cannot be told from) and the chance its rank
  holds on an unseen test the size of the private half (``holds``), from public rows only.
- The private board (after the end) shows medals, "above median", the same intervals and
  classes on the private rows, and ``.attrs["shakeup"]``: Kendall's tau between the boards,
  the actual mean rank change and the one forecast.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from harness.board.index import entries
from harness.board.ranking import standings as rank
from harness.board.rules import Rules, now_utc
from harness.board.schema import COMPLETE, ERROR, PRIVATE_SCORE, PUBLIC_SCORE, SELECTION
from harness.board.store import Leaderboard
from harness.board.teams import Teams

from harness.competition import Competition
from harness.errors import RuleBroken

if TYPE_CHECKING:
    import pandas as pd

STATS_COLUMNS = ("low", "high", "class", "holds")

#: The finished standings of this process's latest reads, by the snapshot's state and the
#: view, each with the monotonic time it expires (None: never): a server answers the next
#: request for an unchanged board without ranking and bootstrapping every participant again
#: (any submission, selection, rule change or grading changes the state). A board some of
#: whose per-row values were missing (the artifact store unreachable, the answers elsewhere)
#: is kept :data:`_INCOMPLETE_S` seconds only, then its values are looked for again.
_FINISHED: OrderedDict[Hashable, tuple[pd.DataFrame, float | None]] = OrderedDict()
_FINISHED_KEPT = 32
_INCOMPLETE_S = 30.0
_FINISHED_LOCK = threading.Lock()


@dataclass
class Snapshot:
    """One read of a competition's records and rules."""

    board: Leaderboard
    comp: Competition
    records: pd.DataFrame
    rules: Rules
    manifest: Mapping[str, Any] | None
    preparation: str
    state: Hashable | None = None  # equal states, equal snapshots (None: unknown)
    teams: Teams = field(default_factory=Teams)

    @classmethod
    def read(cls, board: Leaderboard, comp: Competition) -> Snapshot:
        from harness.data.preparation import manifest_or_none

        records, rules, teams, state = board.read_teams(comp)
        manifest = manifest_or_none(comp, board.settings)
        preparation = current_preparation(records, manifest)
        if state is not None:
            rows = (manifest or {}).get("rows", {})
            state = (state, comp.id, preparation, repr(sorted(rows.items())))
        return cls(board, comp, records, rules, manifest, preparation, state, teams)

    def entries(self) -> pd.DataFrame:
        """Scored entries, untagged ones adopted by the current preparation; ``participant``
        is the team each counts for (:mod:`leaderboard.teams`), ``submitter`` who sent it."""
        found = adopt_untagged(entries(self.records), self.manifest, self.preparation)
        return self.teams.labelled(found)

    def selected(self) -> set[str]:
        """Run ids selected as final submissions: each selection event's latest state."""
        events = self.records[self.records["status"] == SELECTION]
        state: dict[str, bool] = {}
        for target, chosen in zip(events["selects"], events["selected"], strict=True):
            state[str(target)] = bool(chosen)
        return {rid for rid, on in state.items() if on}


def standings(
    board: Leaderboard,
    comp: Competition,
    *,
    private: bool = False,
    all_preparations: bool = False,
    stats: bool = True,
) -> pd.DataFrame:
    """The public (or, after the end, private) board; see the module's docstring."""
    now = now_utc()
    snap = Snapshot.read(board, comp)
    if private and snap.rules.hides_private(now):
        raise RuleBroken(snap.rules.private_refusal(comp.id, now))
    if private and snap.rules.ended(now) and _ungraded(snap) and grade(snap):
        snap = Snapshot.read(board, comp)
    phase = (snap.rules.hides_private(now), snap.rules.ended(now))
    key = None if snap.state is None else (snap.state, phase, private, all_preparations, stats)
    if key is not None:
        with _FINISHED_LOCK:  # a server reads from several threads
            kept, expires = _FINISHED.get(key, (None, None))
            if kept is not None and (expires is None or time.monotonic() < expires):
                _FINISHED.move_to_end(key)
                return kept.copy()
    table, complete = _standings(
        snap, now, private=private, all_preparations=all_preparations, stats=stats
    )
    if key is not None:
        with _FINISHED_LOCK:
            _FINISHED[key] = (table.copy(), None if complete else time.monotonic() + _INCOMPLETE_S)
            while len(_FINISHED) > _FINISHED_KEPT:
                _FINISHED.popitem(last=False)
    return table


def _standings(
    snap: Snapshot,
    now: dt.datetime,
    *,
    private: bool,
    all_preparations: bool,
    stats: bool,
) -> tuple[pd.DataFrame, bool]:
    """The board of one snapshot, and whether it is complete (no per-row values missing)."""
    comp = snap.comp
    complete = True
    ranked = snap.entries()
    ranked = ranked[~ranked["late"].astype(bool)] if "late" in ranked else ranked
    table = rank(
        ranked,
        greater_is_better=comp.metric.greater_is_better,
        private=private,
        preparation=snap.preparation,
        all_preparations=all_preparations,
        selections=snap.rules.selections,
        selected=snap.selected(),
        ladder=snap.rules.ladder,
    )
    note = table.attrs.get("note", "")
    if private:
        ungraded = int(table["score"].isna().sum()) if len(table) else 0
        if ungraded:
            extra = f"{ungraded} final {'entry has' if ungraded == 1 else 'entries have'} no "
            extra += "private score yet: the host (who holds the answers) runs `harness reveal`"
            note = f"{note}; {extra}" if note else extra
    if stats and not all_preparations and len(table):
        table, complete = _with_stats(snap, ranked, table, private=private)
    if private and snap.rules.ended(now) and len(table):
        table = _with_medals(table, comp)
    table = table.drop(columns=["run_id"], errors="ignore")
    if snap.teams.teams:
        table["members"] = table["participant"].map(snap.teams.listed()).fillna("")
    table.attrs["note"] = note
    return table, complete


def _ungraded(snap: Snapshot) -> bool:
    ranked = snap.entries()
    return bool(len(ranked)) and bool(ranked[PRIVATE_SCORE].isna().any())


def grade(snap: Snapshot) -> int:
    """Compute and record the private score of every entry that has none (the end of a
    competition that hid them), from its artifact; return how many. Only where the answers of
    the current preparation are (the host); elsewhere nothing."""
    from harness.board.rows import RowStore

    from harness.data.preparation import reading
    from harness.data.scoring import score
    from harness.data.validation import validate

    comp, settings = snap.comp, snap.board.settings
    todo = snap.entries()
    todo = todo[todo[PRIVATE_SCORE].isna() & (todo["preparation"] == snap.preparation)]
    if todo.empty or snap.manifest is None:
        return 0
    import tempfile
    from pathlib import Path

    rows = RowStore(comp, settings, snap.preparation)
    graded: dict[str, dict[str, float]] = {}
    settings.staging_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=settings.staging_dir) as tmp, reading(comp, settings):
        for run_id, sha, name in zip(
            todo["run_id"], todo["sha256"], todo["artifact"], strict=True
        ):
            folder = Path(tmp) / str(run_id)
            folder.mkdir()
            path = snap.board.fetch_artifact(str(run_id), str(name), folder)
            scores = score(comp, settings, validate(comp, settings, path, name=str(name)))
            assert scores.private is not None
            graded[str(run_id)] = {
                PRIVATE_SCORE: scores.private,
                **{k: v for k, v in scores.extra.items() if k.endswith("_private")},
            }
            for half, values in scores.rows.items():
                rows.put(str(sha), half, values)
    snap.board.add_private_scores(comp, graded)
    return len(graded)


def _seed(comp: Competition, preparation: str) -> int:
    return int(hashlib.sha256(f"{comp.id}\n{preparation}".encode()).hexdigest()[:8], 16)


def _values(
    snap: Snapshot, ranked: pd.DataFrame, run_ids: list[str], half: str
) -> np.ndarray | None:
    """The ``(rows, entries)`` per-row values of these entries, or None if any is missing."""
    from harness.board.rows import RowStore

    if snap.comp.metric.rows is None:
        return None
    by_id = ranked.set_index("run_id")
    wanted = [
        (rid, str(by_id.at[rid, "sha256"]), str(by_id.at[rid, "artifact"])) for rid in run_ids
    ]
    store = RowStore(snap.comp, snap.board.settings, snap.preparation)
    got = store.values(wanted, half, snap.board.fetch_artifact)
    columns = [got[rid] for rid in run_ids]
    if any(c is None for c in columns) or len({c.size for c in columns if c is not None}) != 1:
        return None
    return np.column_stack([c for c in columns if c is not None])


def _with_stats(
    snap: Snapshot, ranked: pd.DataFrame, table: pd.DataFrame, *, private: bool
) -> tuple[pd.DataFrame, bool]:
    """The board with its statistics, and False where some entry's per-row values were
    missing (its statistics are then blank)."""
    from harness.board import stats

    metric = snap.comp.metric
    ids = [str(r) for r in table["run_id"]]
    values = _values(snap, ranked, ids, "private" if private else "public")
    out = table.copy()
    if values is None:
        for col in STATS_COLUMNS:
            out[col] = np.nan
        return out, False
    seed = _seed(snap.comp, snap.preparation)
    counts = stats.resample_counts(values.shape[0], stats.RESAMPLES, seed=seed)
    scores = stats.resampled_scores(values, counts, metric.reduce)
    out["low"], out["high"] = stats.intervals(scores)
    out["class"] = stats.tie_classes(scores, metric.greater_is_better)
    if not private:
        out["holds"] = _forecast(snap, values, len(ids), seed)[0]
        return _order(out, "score"), True
    public = rank(
        ranked[ranked["preparation"] == snap.preparation],
        greater_is_better=metric.greater_is_better,
        ladder=snap.rules.ladder,
    )
    pub_ids = [str(r) for r in public["run_id"]]
    pub_values = _values(snap, ranked, pub_ids, "public")
    if pub_values is not None:
        holds, moves = _forecast(snap, pub_values, len(pub_ids), seed)
        forecast = dict(zip(public["participant"], holds, strict=True))
        out["holds"] = out["participant"].map(forecast)
        out.attrs["shakeup"] = {
            "kendall_tau": stats.kendall_tau(list(out["rank"]), list(out["rank"] + out["change"])),
            "mean_abs_change": float(out["change"].abs().mean()),
            "forecast_mean_abs_change": float(np.mean(moves)),
        }
    else:
        out["holds"] = np.nan
    return _order(out, "public_score"), pub_values is not None


def _forecast(
    snap: Snapshot, values: np.ndarray, entries_: int, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """P(rank holds) and the expected |rank change| of each public entry on an unseen test the
    size of the private half, by resampling the public rows only."""
    from harness.board import stats

    total = int((snap.manifest or {}).get("rows", {}).get("test") or 0)
    size = total - values.shape[0] if total > values.shape[0] else values.shape[0]
    counts = stats.resample_counts(values.shape[0], stats.RESAMPLES, size=size, seed=seed + 1)
    scores = stats.resampled_scores(values, counts, snap.comp.metric.reduce)
    return stats.rank_holds(scores, snap.comp.metric.greater_is_better, range(1, entries_ + 1))


def _order(table: pd.DataFrame, after: str) -> pd.DataFrame:
    """The statistics' columns right after ``after``."""
    cols = [c for c in table.columns if c not in STATS_COLUMNS]
    at = cols.index(after) + 1
    shown = [c for c in STATS_COLUMNS if c in table.columns]
    return table[[*cols[:at], *shown, *cols[at:]]]


def _with_medals(table: pd.DataFrame, comp: Competition) -> pd.DataFrame:
    from harness.board import stats

    scored = table["score"].notna()
    medal, above = stats.medals(list(table.loc[scored, "score"]), comp.metric.greater_is_better)
    out = table.copy()
    out["medal"] = ""
    out["above_median"] = False
    out.loc[scored, "medal"] = medal
    out.loc[scored, "above_median"] = above
    return out


def current_preparation(submissions: pd.DataFrame, manifest: Mapping[str, Any] | None) -> str:
    """The digest of the competition's preparation here (``manifest``); where it is not
    prepared (a reader of a team's tracking server), that of the latest entry."""
    if manifest is not None:
        from harness.data.preparation import digest_of

        return digest_of(manifest)
    if submissions.empty or "preparation" not in submissions:
        return ""
    return str(submissions["preparation"].iloc[-1])


def adopt_untagged(
    submissions: pd.DataFrame, manifest: Mapping[str, Any] | None, current: str
) -> pd.DataFrame:
    """Entries recorded before runs carried ``harness.preparation`` but after the current
    preparation was made were scored on it: they count as current, so an upgrade does not
    empty the board. Untagged entries older than the preparation stay unknown."""
    if manifest is None or submissions.empty or "preparation" not in submissions:
        return submissions
    made = dt.datetime.fromisoformat(str(manifest["prepared_at"])).timestamp() * 1000
    adopt = (submissions["preparation"] == "") & (submissions["submitted_at"] >= made)
    if not adopt.any():
        return submissions
    return submissions.assign(preparation=submissions["preparation"].where(~adopt, current))


# -- the submissions list ------------------------------------------------------------------------


def submissions(
    board: Leaderboard, comp: Competition, participant: str | None = None
) -> pd.DataFrame:
    """Submissions oldest first: id, time, participant, file, message, status (complete,
    late or error, with the error's message), public score (in ladder mode, the shown one),
    private score after the end, and whether it is a final selection ("yes", or "auto": the
    best by public score stand in where none was chosen)."""
    import pandas as pd

    now = now_utc()
    snap = Snapshot.read(board, comp)
    records = snap.records[snap.records["status"] != SELECTION]
    if participant is not None:  # their team's: a team shares its submissions
        records = records[records["participant"].isin(snap.teams.members(participant))]
    rows = records.sort_values(["submitted_at", "run_id"], kind="stable")
    chosen = snap.selected()
    auto = _auto_selected(snap, chosen)
    status = rows["status"].where(
        ~rows["late"].astype(bool) | (rows["status"] != COMPLETE), "late"
    )
    public = rows[PUBLIC_SCORE] if PUBLIC_SCORE in rows else pd.Series(np.nan, index=rows.index)
    if snap.rules.ladder and "ladder_score" in rows:
        public = rows["ladder_score"].fillna(public)
    out = pd.DataFrame(
        {
            "id": rows["run_id"].astype(str).str[:8],
            "submitted_at": pd.to_datetime(rows["submitted_at"], unit="ms", utc=True),
            "participant": rows["participant"],
            "kind": rows["kind"],
            "file": rows["file"],
            "message": rows["message"],
            "status": status.where(status != ERROR, "Error"),
            "error": rows["error"],
            "public_score": public,
        }
    )
    if not snap.rules.hides_private(now) and PRIVATE_SCORE in rows:
        out["private_score"] = rows[PRIVATE_SCORE]
    if "cv_score" in rows:
        out["cv_score"] = rows["cv_score"]
    out["selected"] = [
        "yes" if rid in chosen else "auto" if rid in auto else "" for rid in rows["run_id"]
    ]
    out["run_id"] = rows["run_id"]
    return out.reset_index(drop=True)


def _auto_selected(snap: Snapshot, chosen: set[str]) -> set[str]:
    """The entries Kaggle's rule uses for participants who chose none: their best
    ``selections`` by public score (current preparation, not late)."""
    ranked = snap.entries()
    ranked = ranked[(ranked["preparation"] == snap.preparation) & ~ranked["late"].astype(bool)]
    if ranked.empty:
        return set()
    picked = ranked["run_id"].isin(chosen)
    has = picked.groupby(ranked["participant"]).transform("any")
    rest = ranked[~has].sort_values(
        [PUBLIC_SCORE, "submitted_at", "run_id"],
        ascending=[not snap.comp.metric.greater_is_better, True, True],
        kind="stable",
    )
    return set(rest.groupby("participant", sort=False).head(snap.rules.selections)["run_id"])
