"""Feature hints for House Prices, applied by the tabular baselines: quality grades as the
ordinals they are (data_description.txt: Ex > Gd > TA > Fa > Po > NA), total floor area, age."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

# Areas and counts skewed to the right (skew > 0.75 on the training set): their logarithm is
# closer to linear in the log price, which is what linear models need. Trees barely notice (the
# order is kept): default gbm CV 0.13465 before, 0.13460 after; ridge 0.152 -> 0.137 tuned.
SKEWED = [
    "MiscVal",
    "PoolArea",
    "LotArea",
    "3SsnPorch",
    "LowQualFinSF",
    "BsmtFinSF2",
    "ScreenPorch",
    "EnclosedPorch",
    "MasVnrArea",
    "OpenPorchSF",
    "TotalSF",
    "BsmtFinSF1",
    "LotFrontage",
    "TotalBsmtSF",
    "WoodDeckSF",
    "1stFlrSF",
    "GrLivArea",
    "BsmtUnfSF",
    "2ndFlrSF",
]
GRADES = {"Ex": 5, "Gd": 4, "TA": 3, "Fa": 2, "Po": 1}
GRADED = [
    "ExterQual",
    "ExterCond",
    "BsmtQual",
    "BsmtCond",
    "HeatingQC",
    "KitchenQual",
    "FireplaceQu",
    "GarageQual",
    "GarageCond",
    "PoolQC",
]


def add_features(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in GRADED:
        out[column] = out[column].map(GRADES).fillna(0)  # missing means "none": the lowest
    out["TotalSF"] = out[["TotalBsmtSF", "1stFlrSF", "2ndFlrSF"]].fillna(0).sum(axis=1)
    out["Age"] = out["YrSold"] - out["YearBuilt"]
    out["SinceRemodel"] = out["YrSold"] - out["YearRemodAdd"]
    for column in SKEWED:
        out[column] = np.log1p(out[column].clip(lower=0))
    return out
