"""Feature hints for Titanic, applied by the tabular baselines (which know no competition):
the title in the name, family size, travelling alone, the cabin's deck, the ticket's party."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    return out
