"""What every tabular baseline shares: column types inferred from the data, the competition's
own feature hints, the target transform its metric wants, and predictions in the form its
metric scores. Nothing here knows a competition by name."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from baselines import Kind
from baselines.data import Data, encode_target, is_classification, predict, truth
from harness.competition import Competition, Task

if TYPE_CHECKING:
    import pandas as pd

    from harness.data.loading import Tables

TASKS = frozenset({Task.TABULAR_CLASSIFICATION, Task.TABULAR_REGRESSION})
MAX_CATEGORIES = 30  # text columns with more distinct values (names, tickets) are dropped


@dataclass(frozen=True)
class Columns:
    numeric: list[str]
    categorical: list[str]
    dropped: list[str]  # high-cardinality text: names, ticket numbers, free-form ids


def load_data(comp: Competition, tables: Tables) -> Data:
    """Features for ``train``/``test`` (public frames): the competition's hints applied, the id
    and target columns removed, column kinds inferred from train."""
    train, test = tables.train, tables.test
    if comp.features is not None:
        train, test = comp.features(train), comp.features(test)
    target = comp.target_columns[0]
    x_train = train.drop(columns=[comp.id_column, *comp.target_columns])
    x_test = test[x_train.columns]
    return Data(
        x_train=x_train,
        y_train=encode_target(comp, train[target].to_numpy()),
        x_test=x_test,
        test_ids=test[comp.id_column].to_numpy(),
        columns=infer_columns(x_train),
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
            ("numeric", make_pipeline(*numeric), columns.numeric),
            ("categorical", categorical, columns.categorical),
        ],
        remainder="drop",
        verbose_feature_names_out=False,
    )


KIND = Kind("tabular", TASKS, load_data, default="gbm")

__all__ = [
    "Columns",
    "Data",
    "encode_target",
    "is_classification",
    "load_data",
    "predict",
    "preprocessor",
    "truth",
]
