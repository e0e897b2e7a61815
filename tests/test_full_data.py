"""The full datasets in ../shared/data, through the publishers' archives: opt in with
``pytest -m slow`` (about two minutes here; never in CI)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import harness

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ARCHIVES = {
    "titanic": ("titanic.zip", {"train": 712, "test": 179}),
    "house-prices": (
        "house-prices-advanced-regression-techniques.zip",
        {"train": 1168, "test": 292},
    ),
    "cifar10": ("cifar-10-python.tar.gz", {"train": 50_000, "test": 10_000}),
    "dogs-vs-cats": ("dogs-vs-cats.zip", {"train": 6_000, "test": 2_000}),
    "sentiment": ("aclImdb_v1.tar.gz", {"train": 25_000, "test": 25_000}),
}

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not (SHARED / "make_raw.py").is_file(), reason="needs ../shared/data"),
]


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("raw")
    subprocess.run([sys.executable, str(SHARED / "make_raw.py"), str(folder)], check=True)
    return folder


@pytest.mark.parametrize("comp", sorted(ARCHIVES))
def test_the_full_dataset_prepares_from_the_publishers_archive(
    comp: str, raw: Path, home: Path
) -> None:
    archive, rows = ARCHIVES[comp]
    done = harness.prepare(comp, raw / archive)
    assert done.manifest["rows"] == rows
    sample = done.public / "sample_submission.csv"
    result = harness.submit(comp, sample, message="sample")
    chance = {
        "accuracy": (0.0, 0.7),
        "rmse_log": (0.3, 0.5),
        "log_loss": (0.69, 0.7),
        "roc_auc": (0.5, 0.5),
    }[harness.registry.get_competition(comp).metric.name]
    assert chance[0] <= result.public_score <= chance[1]
    if comp == "cifar10":
        data = harness.load("cifar10")
        assert data.x_train.shape == (50_000, 32, 32, 3)  # type: ignore[union-attr]
        assert np.bincount(data.y_train).tolist() == [5_000] * 10  # type: ignore[union-attr]
