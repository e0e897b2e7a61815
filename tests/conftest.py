"""Shared fixtures: every test gets its own HARNESS_HOME and sqlite MLflow store under tmp_path,
and nothing ever reaches the network."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty HARNESS_HOME; MLflow's store is the default sqlite file inside it."""
    root = tmp_path / "home"
    monkeypatch.setenv("HARNESS_HOME", str(root))
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("HARNESS_PARTICIPANT", "tester")
    return root


@pytest.fixture
def settings(home: Path):  # type: ignore[no-untyped-def]
    from harness.settings import Settings

    return Settings.resolve()


@pytest.fixture
def titanic(home: Path) -> Iterator[Path]:
    """Titanic prepared from the embedded data; yields the public directory."""
    import harness

    yield harness.prepare("titanic").public


@pytest.fixture
def house_prices(home: Path) -> Iterator[Path]:
    import harness

    yield harness.prepare("house-prices").public
