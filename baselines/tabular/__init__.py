"""What every tabular baseline shares: column types inferred from the data, the competition's
own feature hints, the target transform its metric wants, and predictions in the form its
metric scores. Nothing here knows a competition by name.

A competition's hints come in three parts (see :class:`~harness.competition.Competition`):
``features`` sees the public train and test rows together (counts of a ticket's party),
``target_features`` learns from labels and is applied out-of-fold by :class:`Hinted`, and
``outliers`` names training rows no model learns from (they are still scored).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from harness.baselines import Kind
from harness.baselines.data import Data, encode_target, is_classification, predict, truth

from harness.competition import Competition, Task

if TYPE_CHECKING:
    import pandas as pd

    from harness.data.loading import Tables

TASKS = frozenset({Task.TABULAR_CLASSIFICATION, Task.TABULAR_REGRESSION})
MAX_CATEGORIES = 30  # text columns with more distinct values (names, tickets) are dropped
ENCODING_FOLDS = 5  # out-of-fold target features: each training row's from the other 4/5


@dataclass(frozen=True)
class Columns:
    numeric: list[str]
    categorical: list[str]
    dropped: list[str]  # high-cardinality text: names, ticket numbers, free-form ids
    encoded: list[str] = field(default_factory=list)  # target features (numeric), added by fit


def load_data(comp: Competition, tables: Tables) -> Data:
    """Features for ``train``/``test`` (public frames): the competition's hints applied to both
    at once, the id and target columns removed, column kinds inferred from train."""
    import pandas as pd

    train, test = tables.train, tables.test
    target = comp.target_columns[0]
    features = train.drop(columns=list(comp.target_columns))
    both = pd.concat([features, test[features.columns]], ignore_index=True)
    if comp.features is not None:
        both = comp.features(both)
        if len(both) != len(train) + len(test):
            raise ValueError(f"{comp.id}: features() must keep every row, got {len(both)}")
    x_train = both.iloc[: len(train)].drop(columns=[comp.id_column]).reset_index(drop=True)
    x_test = both.iloc[len(train) :].drop(columns=[comp.id_column]).reset_index(drop=True)
    y_train = encode_target(comp, train[target].to_numpy())
    columns = infer_columns(x_train)
    if comp.target_features is not None:  # their names, from one row learnt from all of train
        names = list(comp.target_features(x_train, y_train, x_train.iloc[:1]).columns)
        columns = Columns(columns.numeric, columns.categorical, columns.dropped, names)
    return Data(
        x_train=x_train,
        y_train=y_train,
        x_test=x_test,
        test_ids=test[comp.id_column].to_numpy(),
        columns=columns,
    )


def infer_columns(frame: pd.DataFrame) -> Columns:
    import pandas as pd

    numeric, categorical, dropped = [], [], []
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            numeric.append(name)
        elif column.nunique(dropna=True) <= MAX_CATEGORIES:
            categorical.append(name)
        else:
            dropped.append(name)
    return Columns(numeric, categorical, dropped)


def preprocessor(columns: Columns, *, scale: bool, one_hot: bool) -> Any:
    """Impute, then one-hot (linear, forests) or ordinal-encode (boosting) the categoricals."""
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

    numeric = [SimpleImputer(strategy="median", add_indicator=True)]
    if scale:
        numeric.append(StandardScaler())
    encoder = (
        OneHotEncoder(handle_unknown="ignore", sparse_output=False)
        if one_hot
        else OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    )
    categorical = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="(missing)"), encoder
    )
    return ColumnTransformer(
        [
            ("numeric", make_pipeline(*numeric), columns.numeric + columns.encoded),
            ("categorical", categorical, columns.categorical),
        ],
        remainder="drop",
        verbose_feature_names_out=False,
    )


class Hinted:
    """An sklearn-style model wrapped in the competition's label-using hints: ``fit`` leaves
    the ``outliers`` out and adds the ``target_features`` of each training row computed from
    the *other* folds' rows (:data:`ENCODING_FOLDS`, seeded), so the model never learns from a
    feature that holds the row's own label; ``predict`` adds those of new rows computed from
    every row it was fitted on. Rows are positions: ``x`` is a DataFrame indexed 0..n-1 or not.
    """

    def __init__(self, model: Any, comp: Competition, seed: int = 0) -> None:
        self.model, self.comp, self.seed = model, comp, seed

    def fit(self, x: pd.DataFrame, y: np.ndarray) -> Hinted:
        y = np.asarray(y)
        if self.comp.outliers is not None:
            keep = ~np.asarray(self.comp.outliers(x, y), dtype=bool)
            x, y = x.iloc[np.flatnonzero(keep)], y[keep]
        x = x.reset_index(drop=True)
        self._fit_x, self._fit_y = x, y
        self.model.fit(self._encoded_out_of_fold(x, y), y)
        if hasattr(self.model, "classes_"):
            self.classes_ = self.model.classes_
        return self

    def _encoded_out_of_fold(self, x: pd.DataFrame, y: np.ndarray) -> pd.DataFrame:
        encode = self.comp.target_features
        if encode is None:
            return x
        import pandas as pd
        from sklearn.model_selection import KFold

        parts = []
        splitter = KFold(ENCODING_FOLDS, shuffle=True, random_state=self.seed)
        for fit_rows, rows in splitter.split(x):
            part = encode(x.iloc[fit_rows], y[fit_rows], x.iloc[rows])
            parts.append(part.set_axis(rows, axis=0))
        return pd.concat([x, pd.concat(parts).sort_index()], axis=1)

    def _encoded(self, x: pd.DataFrame) -> pd.DataFrame:
        encode = self.comp.target_features
        x = x.reset_index(drop=True)
        if encode is None:
            return x
        import pandas as pd

        part = encode(self._fit_x, self._fit_y, x).set_axis(x.index, axis=0)
        return pd.concat([x, part], axis=1)

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.predict(self._encoded(x)))

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.predict_proba(self._encoded(x)))


def hinted(model: Any, comp: Competition, seed: int) -> Any:
    """``model`` with the competition's label-using hints (itself when it has none)."""
    if comp.target_features is None and comp.outliers is None:
        return model
    return Hinted(model, comp, seed)


KIND = Kind("tabular", TASKS, load_data, default="gbm")

__all__ = [
    "Columns",
    "Data",
    "Hinted",
    "encode_target",
    "hinted",
    "is_classification",
    "load_data",
    "predict",
    "preprocessor",
    "truth",
]
