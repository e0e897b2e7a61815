"""Feature hints for Titanic, applied by the tabular baselines (which know no competition).

``add_features`` sees the public train and test passengers together (no labels): the title in
the name, family size, fare per person, the cabin's deck, and the passenger's *group*: the
people linked by a shared ticket or by one family (surname, class, ticket stem, port), joined
transitively, and counted over train and test alike (counted apart, a ticket's party is
mis-sized: mean 1.79 passengers together against 1.35 apart).

``group_survival`` is the strongest hint a Kaggler adds: women and children of one group tend
to live or die together, men mostly die. It learns from labels, so the baselines call it
out-of-fold (:class:`baselines.tabular.Hinted`): a passenger's figures come only from the
labelled rows of *other* folds, never from their own label.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

TITLES = {
    "Mr": "Mr",
    "Mrs": "Mrs",
    "Mme": "Mrs",
    "Miss": "Miss",
    "Mlle": "Miss",
    "Ms": "Miss",
    "Master": "Master",
}


def add_features(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    title = out["Name"].str.extract(r",\s*([^.]+)\.", expand=False).str.strip()
    out["Title"] = title.map(TITLES).fillna("Rare")
    out["FamilySize"] = out["SibSp"] + out["Parch"] + 1
    out["Alone"] = (out["FamilySize"] == 1).astype(int)
    out["Deck"] = out["Cabin"].str[0].fillna("U")
    out["TicketParty"] = out.groupby("Ticket")["Ticket"].transform("size")
    out["FarePerPerson"] = out["Fare"] / out["TicketParty"]
    out["AgeMissing"] = out["Age"].isna().astype(int)
    out["Age"] = out["Age"].fillna(out.groupby("Title")["Age"].transform("median"))
    # women and boys ("Master"): the "women and children first" rule the crew applied
    out["WomanOrChild"] = ((out["Sex"] == "female") | (out["Title"] == "Master")).astype(int)
    surname = out["Name"].str.split(",").str[0].str.strip()
    stem = out["Ticket"].astype(str).str[:-1]
    port = out["Embarked"].fillna("")
    family = surname + "|" + out["Pclass"].astype(str) + "|" + stem + "|" + port
    out["Group"] = _linked(out["Ticket"].astype(str).to_numpy(), family.to_numpy())
    out["GroupSize"] = out.groupby("Group")["Group"].transform("size")
    return out


def group_survival(fit: pd.DataFrame, y: np.ndarray, rows: pd.DataFrame) -> pd.DataFrame:
    """For each of ``rows``: how the labelled women and children of its group fared in ``fit``
    (their survival rate, how many, whether all died or all lived) and the whole group's rate;
    NaN / 0 where ``fit`` holds nobody of the group."""
    import pandas as pd

    labelled = pd.DataFrame({"Group": fit["Group"].to_numpy(), "y": np.asarray(y, dtype=float)})
    wc = labelled[fit["WomanOrChild"].to_numpy() == 1].groupby("Group")["y"].agg(["mean", "size"])
    everyone = labelled.groupby("Group")["y"].mean()
    group = rows["Group"]
    rate = group.map(wc["mean"]).to_numpy(dtype=float)
    known = group.map(wc["size"]).fillna(0).to_numpy(dtype=float)
    died, lived = (rate == 0).astype(int), (rate == 1).astype(int)
    # The rule in one column: women live unless their group's women and children all died,
    # boys die unless they all lived, men die (a linear model cannot build it from the others).
    woman = (rows["Sex"] == "female").to_numpy()
    boy = (rows["Title"] == "Master").to_numpy()
    rule = np.where(woman, 1 - died, np.where(boy, lived, 0))
    return pd.DataFrame(
        {
            "GroupWCSurvival": rate,
            "GroupWCKnown": known,
            "GroupWCAllDied": died,
            "GroupWCAllLived": lived,
            "GroupSurvival": group.map(everyone).to_numpy(dtype=float),
            "WomenChildrenRule": rule,
        }
    )


def _linked(*keys: np.ndarray) -> np.ndarray:
    """A group label per row: rows sharing a value of any key are one group (union-find)."""
    parent = list(range(len(keys[0])))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for key in keys:
        first: dict[object, int] = {}
        for i, value in enumerate(key):
            j = first.setdefault(value, i)
            parent[root(i)] = root(j)
    return np.asarray([f"g{root(i)}" for i in range(len(parent))], dtype=object)
