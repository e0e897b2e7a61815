"""House Prices: predict the sale price of homes in Ames, Iowa (Kaggle
``house-prices-advanced-regression-techniques``)."""

from __future__ import annotations

from pathlib import Path

from harness.competition import Competition, Task
from harness.data.kit import prepare_from_labelled_train
from harness.metrics import RMSE_LOG

from .features import add_features, neighbourhood_prices, outliers

HERE = Path(__file__).parent

# 20% of the 1,460 labelled sales become the local test (292 rows, 146 per leaderboard half),
# split on deciles of SalePrice so the expensive tail, which dominates errors, lands on both
# sides; 1,168 sales remain for training.
TEST_SIZE = 0.2


def prepare(comp: Competition, raw: Path, public: Path, private: Path) -> None:
    prepare_from_labelled_train(
        comp,
        raw,
        public,
        private,
        test_size=TEST_SIZE,
        extra_files=("data_description.txt",),
    )


COMPETITION = Competition(
    id="house-prices",
    title="House Prices - Advanced Regression Techniques",
    task=Task.TABULAR_REGRESSION,
    metric=RMSE_LOG,
    id_column="Id",
    target_columns=("SalePrice",),
    prepare=prepare,
    description=(HERE / "description.md").read_text(encoding="utf-8"),
    embedded_raw=HERE / "raw",
    kaggle_slug="house-prices-advanced-regression-techniques",
    raw_hint=(
        "Kaggle's house-prices-advanced-regression-techniques.zip (train.csv, test.csv, "
        "sample_submission.csv, data_description.txt)"
    ),
    features=add_features,
    target_features=neighbourhood_prices,
    outliers=outliers,
)
