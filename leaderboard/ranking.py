"""Standings from recorded submissions: pure pandas, no MLflow.

Kaggle's rules: a participant's entry is their best public-scoring submission (ties go to the
earlier one); the public leaderboard ranks entries by public score; the private leaderboard
ranks each participant's best private score among their final selections (by default, their
best ``selections`` by public score: Kaggle's rule), so overfitting the public half shows as
a fall in rank. Ties rank the earlier submission first.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

from harness.board.schema import CV_SCORE, LADDER_SCORE

if TYPE_CHECKING:
    import pandas as pd

#: Logged by baselines: their cross-validated score, shown beside the leaderboard score so the
#: gap between CV and leaderboard is in view.

#: Columns of the submissions frame that ``standings`` and ``history`` take.
COLUMNS = [
    "run_id",
    "participant",
    "kind",
    "message",
    "preparation",
    "submitted_at",
    "public_score",
    "private_score",
]


def standings(
    submissions: pd.DataFrame,
    *,
    greater_is_better: bool,
    private: bool = False,
    preparation: str | None = None,
    all_preparations: bool = False,
    selections: int = 1,
    selected: Collection[str] = (),
    ladder: bool = False,
) -> pd.DataFrame:
    """One row per participant, ranked; ``private`` adds the rank change from public.

    The public board ranks each participant's best public score (in ``ladder`` mode, the score
    the ladder showed). The private board ranks each participant's best private score among
    their final entries: those ``selected`` (run ids), else their best ``selections`` by public
    score. ``run_id`` names the entry each row ranks.

    ``preparation`` (the current preparation's digest) ranks only its entries and says in
    ``.attrs["note"]`` how many others were left out; with ``all_preparations`` too, every
    entry counts, each participant's best per preparation, with a ``preparation`` column:
    ``current``, ``earlier <digest[:12]>`` or ``unknown`` (recorded without one)."""
    keys = ["participant"]
    note = ""
    if preparation is not None:
        of = (
            submissions["preparation"]
            if "preparation" in submissions
            else submissions["run_id"].map(lambda _: "")
        )
        if all_preparations:
            labels = of.map(lambda digest: _which(digest, preparation))
            submissions = submissions.assign(preparation=labels)
            keys = ["participant", "preparation"]
        else:
            earlier = int((of != preparation).sum())
            submissions = submissions[of == preparation]
            if earlier:
                note = (
                    f"{earlier:,} {'entry' if earlier == 1 else 'entries'} from an earlier "
                    f"preparation {'is' if earlier == 1 else 'are'} not ranked "
                    "(--all-preparations shows them)"
                )
    out = _standings(
        submissions,
        keys,
        greater_is_better=greater_is_better,
        private=private,
        selections=selections,
        selected=selected,
        ladder=ladder,
    )
    out.attrs["note"] = note
    return out


def _which(digest: str, current: str) -> str:
    if digest == current:
        return "current"
    return f"earlier {digest[:12]}" if digest else "unknown"


def _standings(
    submissions: pd.DataFrame,
    keys: list[str],
    *,
    greater_is_better: bool,
    private: bool,
    selections: int,
    selected: Collection[str],
    ladder: bool,
) -> pd.DataFrame:
    import pandas as pd

    who = keys  # ["participant"], or ["participant", "preparation"]
    if submissions.empty:
        cols = ["rank", *who, "score", "submissions", "last", "message"]
        return pd.DataFrame(columns=[*cols[:1], "change", *cols[1:]] if private else cols)
    ascending = not greater_is_better
    counts = submissions.groupby(who).agg(
        submissions=("run_id", "size"), last=("submitted_at", "max")
    )
    shown = _shown(submissions, ladder)
    ordered = shown.sort_values(
        ["shown_score", "submitted_at", "run_id"], ascending=[ascending, True, True], kind="stable"
    )
    best = ordered.drop_duplicates(who, keep="first").copy()
    best = best.join(counts, on=who)
    best["public_rank"] = range(1, len(best) + 1)
    extra = [c for c in submissions.columns if c not in COLUMNS and c not in _INTERNAL]
    if not private:
        best["rank"] = best["public_rank"]
        best["score"] = best["shown_score"]
        cols = [c for c in extra if c.endswith("_public") or c == CV_SCORE]
        if ladder:
            cols = [c for c in cols if c == CV_SCORE]  # the raw public scores stay unseen
        return _finish(
            best, ["rank", *who, "score", *cols, "submissions", "last", "message", "run_id"]
        )
    final = _finals(submissions, who, ascending, selections, selected)
    final = final.join(best.set_index(who)[["public_rank", "submissions", "last"]], on=who)
    final = final.sort_values(
        ["private_score", "submitted_at", "run_id"],
        ascending=[ascending, True, True],
        kind="stable",
        na_position="last",
    )
    final["rank"] = range(1, len(final) + 1)
    final["change"] = final["public_rank"] - final["rank"]
    final["score"] = final["private_score"]
    cols = [c for c in extra if c.endswith("_private") or c == CV_SCORE]
    return _finish(
        final,
        [
            "rank",
            "change",
            *who,
            "score",
            "public_score",
            *cols,
            "submissions",
            "last",
            "message",
            "run_id",
        ],
    )


#: Columns of the records frame that no board shows.
_INTERNAL = (
    "status",
    "late",
    "selected",
    "file",
    "artifact",
    "sha256",
    "error",
    "selects",
    "ladder",
)


def _shown(submissions: pd.DataFrame, ladder: bool) -> pd.DataFrame:
    """Each entry's score on the public board: its public score, or in ladder mode the score
    the ladder showed, for the submissions it accepted (entries from before ladder mode, with
    no decision, count as accepted at their public score)."""
    if not ladder:
        return submissions.assign(shown_score=submissions["public_score"])
    decision = submissions.get("ladder", "")
    kept = submissions[(decision == "accepted") | (decision == "")]
    if LADDER_SCORE in kept:
        score = kept[LADDER_SCORE].fillna(kept["public_score"])
    else:
        score = kept["public_score"]
    return kept.assign(shown_score=score)


def _finals(
    submissions: pd.DataFrame,
    who: list[str],
    ascending: bool,
    selections: int,
    selected: Collection[str],
) -> pd.DataFrame:
    """Each participant's final entry: the best private score among the entries they selected,
    or, where they selected none, among their best ``selections`` by public score (Kaggle's
    rule; ties to the earlier). Entries with no private score yet rank last."""
    chosen = submissions["run_id"].isin(set(selected))
    has_choice = chosen.groupby([submissions[k] for k in who]).transform("any")
    by_public = submissions.sort_values(
        ["public_score", "submitted_at", "run_id"],
        ascending=[ascending, True, True],
        kind="stable",
    )
    auto = by_public.groupby(who, sort=False).head(selections).index
    pool = submissions[(has_choice & chosen) | (~has_choice & submissions.index.isin(auto))]
    pool = pool.sort_values(
        ["private_score", "submitted_at", "run_id"],
        ascending=[ascending, True, True],
        kind="stable",
        na_position="last",
    )
    return pool.drop_duplicates(who, keep="first").copy()


def history(submissions: pd.DataFrame, participant: str | None = None) -> pd.DataFrame:
    """Submissions in the order they were made (oldest first), optionally one participant's."""
    rows = (
        submissions
        if participant is None
        else submissions[submissions["participant"] == participant]
    )
    rows = rows.sort_values(["submitted_at", "run_id"], kind="stable")
    cols = ["submitted_at", "participant", "kind", "message", "public_score", "status", "run_id"]
    return _finish(rows, [c for c in cols if c in rows.columns])


def _finish(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    import pandas as pd

    out = frame[columns].reset_index(drop=True)
    for col in ("submitted_at", "last"):
        if col in out:
            out[col] = pd.to_datetime(out[col], unit="ms", utc=True)
    return out


def reference_rank(board: Path, score: float, *, greater_is_better: bool) -> tuple[int, int]:
    """Where ``score`` would have ranked on a real final leaderboard (a CSV with a ``score``
    column, Kaggle's as mle-bench keeps it): (rank, entries). Ties rank it first, as a tied
    score shares the better rank."""
    import numpy as np
    import pandas as pd

    frame = pd.read_csv(board)
    column = next((c for c in frame.columns if str(c).lower() == "score"), None)
    if column is None:
        raise ValueError(f"{board.name}: no score column")
    scores = pd.to_numeric(frame[column], errors="coerce").to_numpy(dtype=np.float64)
    scores = scores[np.isfinite(scores)]
    better = scores > score if greater_is_better else scores < score
    return int(better.sum()) + 1, len(scores) + 1
