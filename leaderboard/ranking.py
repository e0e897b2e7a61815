"""Standings from recorded submissions: pure pandas, no MLflow.

Kaggle's rules: a participant's entry is their best public-scoring submission (ties go to the
earlier one); the public leaderboard ranks entries by public score; the private leaderboard
ranks *the same entries* by private score (Kaggle's default selection when none is made), so
overfitting the public half shows as a fall in rank. Ties rank the earlier submission first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

#: Logged by baselines: their cross-validated score, shown beside the leaderboard score so the
#: gap between CV and leaderboard is in view.
CV_SCORE = "cv_score"

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
) -> pd.DataFrame:
    """One row per participant, ranked; ``private`` adds the rank change from public.

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
    out = _standings(submissions, keys, greater_is_better=greater_is_better, private=private)
    out.attrs["note"] = note
    return out


def _which(digest: str, current: str) -> str:
    if digest == current:
        return "current"
    return f"earlier {digest[:12]}" if digest else "unknown"


def _standings(
    submissions: pd.DataFrame, keys: list[str], *, greater_is_better: bool, private: bool
) -> pd.DataFrame:
    import pandas as pd

    who = keys  # ["participant"], or ["participant", "preparation"]
    if submissions.empty:
        cols = ["rank", *who, "score", "submissions", "last", "message"]
        return pd.DataFrame(columns=[*cols[:1], "change", *cols[1:]] if private else cols)
    ascending = not greater_is_better
    ordered = submissions.sort_values(
        ["public_score", "submitted_at", "run_id"],
        ascending=[ascending, True, True],
        kind="stable",
    )
    best = ordered.drop_duplicates(who, keep="first").copy()
    counts = submissions.groupby(who).agg(
        submissions=("run_id", "size"), last=("submitted_at", "max")
    )
    best = best.join(counts, on=who)
    best["public_rank"] = range(1, len(best) + 1)
    extra = [c for c in submissions.columns if c not in COLUMNS]
    if not private:
        best["rank"] = best["public_rank"]
        best["score"] = best["public_score"]
        shown = [c for c in extra if c.endswith("_public") or c == CV_SCORE]
        return _finish(best, ["rank", *who, "score", *shown, "submissions", "last", "message"])
    best = best.sort_values(
        ["private_score", "submitted_at", "run_id"],
        ascending=[ascending, True, True],
        kind="stable",
    )
    best["rank"] = range(1, len(best) + 1)
    best["change"] = best["public_rank"] - best["rank"]
    best["score"] = best["private_score"]
    shown = [c for c in extra if c.endswith("_private") or c == CV_SCORE]
    return _finish(
        best,
        [
            "rank",
            "change",
            *who,
            "score",
            "public_score",
            *shown,
            "submissions",
            "last",
            "message",
        ],
    )


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
