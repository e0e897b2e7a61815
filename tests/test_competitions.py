"""Every registered competition, prepared from its raw data: the answers score perfectly, the
sample submission scores what its constant scores, nothing of the answers leaks into public
files, and preparing is deterministic, idempotent and checked."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import harness
from harness.data.preparation import ANSWERS, read_manifest
from harness.data.scoring import score
from harness.data.validation import validate
from harness.errors import IntegrityError, NotPrepared, RawDataError
from harness.registry import competitions, get_competition
from harness.settings import Settings
from tests.fixtures import RAW

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _tree_digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name != "MANIFEST.json"
    }


def _raw(comp_id: str, folder: Path) -> Path | None:
    """The embedded data (None) or a tiny archive in the publisher's format."""
    if comp_id in RAW:
        folder.mkdir(parents=True, exist_ok=True)
        return RAW[comp_id](folder)
    return None


@pytest.fixture(params=sorted(competitions()))
def prepared(request: pytest.FixtureRequest, home: Path, tmp_path: Path) -> str:
    harness.prepare(request.param, _raw(request.param, tmp_path / "raw"))
    return str(request.param)


def test_every_competition_without_embedded_data_has_a_tiny_raw_fixture() -> None:
    for comp in competitions().values():
        assert comp.embedded_raw is not None or comp.id in RAW, comp.id


def test_registry_holds_the_kaggle_slugs() -> None:
    assert {"titanic", "house-prices"} <= set(competitions())
    assert get_competition("house_prices").id == "house-prices"


def test_answers_themselves_score_perfectly(prepared: str, settings: Settings) -> None:
    comp = get_competition(prepared)
    answers = pd.read_csv(settings.private_dir(prepared) / ANSWERS)
    perfect = settings.home / "perfect.csv"
    answers.drop(columns=["Usage"]).to_csv(perfect, index=False)
    scores = score(comp, settings, validate(comp, settings, perfect))
    best = 1.0 if comp.metric.greater_is_better else 0.0
    assert scores.public == pytest.approx(best) and scores.private == pytest.approx(best)


def test_sample_submission_scores_exactly_its_constant(prepared: str, settings: Settings) -> None:
    comp = get_competition(prepared)
    sample = pd.read_csv(settings.public_dir(prepared) / "sample_submission.csv")
    target = comp.target_columns[0]
    assert sample[target].nunique() == 1
    constant = sample[target].iloc[0]
    answers = pd.read_csv(settings.private_dir(prepared) / ANSWERS)
    scores = score(
        comp,
        settings,
        validate(comp, settings, settings.public_dir(prepared) / "sample_submission.csv"),
    )
    for usage, got in (("Public", scores.public), ("Private", scores.private)):
        truth = answers.loc[answers["Usage"] == usage, target].to_numpy()
        pred = np.full(len(truth), constant)
        assert got == pytest.approx(_reference(comp.metric.name, truth, pred), rel=1e-12)


def _reference(metric: str, truth: np.ndarray, pred: np.ndarray) -> float:
    """The metric computed independently of harness.metrics (scikit-learn or numpy)."""
    from sklearn import metrics

    if metric == "accuracy":
        return float(metrics.accuracy_score(truth, pred))
    if metric == "rmse_log":
        return float(np.sqrt(np.mean((np.log(pred.astype(float)) - np.log(truth)) ** 2)))
    if metric == "log_loss":
        return float(metrics.log_loss(truth, np.clip(pred, 1e-15, 1 - 1e-15), labels=[0, 1]))
    assert metric == "roc_auc"
    return float(metrics.roc_auc_score(truth, pred))


def test_no_answer_column_leaks_into_public_files(prepared: str, settings: Settings) -> None:
    comp = get_competition(prepared)
    public = settings.public_dir(prepared)
    answers = pd.read_csv(settings.private_dir(prepared) / ANSWERS)
    sample = pd.read_csv(public / "sample_submission.csv")
    assert sorted(sample[comp.id_column]) == sorted(answers[comp.id_column])
    assert sample[comp.target_columns[0]].nunique() == 1
    assert "Usage" not in "".join(p.read_text(errors="ignore") for p in public.glob("*.csv"))
    if (public / "test.csv").is_file():
        test = pd.read_csv(public / "test.csv")
        assert not set(comp.target_columns) & set(test.columns)
        # a pixel table without an id column (Kaggle's digit-recognizer) numbers its rows from 1
        ids = test[comp.id_column] if comp.id_column in test else range(1, len(test) + 1)
        assert sorted(ids) == sorted(answers[comp.id_column])
    else:  # images: one file per test id, named by the id alone
        files = sorted(int(p.stem) for p in (public / "test").iterdir())
        assert files == sorted(answers[comp.id_column])
    if comp.task.value.startswith("tabular"):  # local train and test come from one pool
        train = pd.read_csv(public / "train.csv")
        assert not set(answers[comp.id_column]) & set(train[comp.id_column])
    assert not settings.private_dir(prepared).is_relative_to(public)
    assert not any(p.is_symlink() for p in public.rglob("*"))


def test_public_fraction_is_honoured(prepared: str, settings: Settings) -> None:
    comp = get_competition(prepared)
    usage = pd.read_csv(settings.private_dir(prepared) / ANSWERS)["Usage"]
    assert set(usage) == {"Public", "Private"}
    assert abs((usage == "Public").mean() - comp.public_fraction) <= 1 / len(usage) + 0.01


def test_prepare_is_deterministic_across_homes(
    prepared: str, settings: Settings, tmp_path: Path
) -> None:
    first = _tree_digest(settings.public_dir(prepared)) | {
        "answers": _tree_digest(settings.private_dir(prepared))[ANSWERS]
    }
    other = harness.prepare(prepared, _raw(prepared, tmp_path / "raw2"), home=tmp_path / "o")
    second = _tree_digest(other.public) | {"answers": _tree_digest(other.private)[ANSWERS]}
    assert first == second


def test_prepare_again_does_nothing_and_force_redoes_it_identically(
    settings: Settings, titanic: Path
) -> None:
    before = _tree_digest(titanic)
    again = harness.prepare("titanic")
    assert again.skipped
    redone = harness.prepare("titanic", force=True)
    assert not redone.skipped
    assert _tree_digest(titanic) == before


def test_a_changed_prepared_file_is_caught_on_use(settings: Settings, titanic: Path) -> None:
    answers = settings.private_dir("titanic") / ANSWERS
    answers.write_text(answers.read_text().replace("Public", "Private"))
    with pytest.raises(IntegrityError, match=r"private/answers.csv changed since it was prepared"):
        harness.submit("titanic", titanic / "sample_submission.csv")
    with pytest.raises(IntegrityError):
        harness.prepare("titanic")
    harness.prepare("titanic", force=True)  # the way out that the message names
    harness.validate("titanic", titanic / "sample_submission.csv")


def test_using_an_unprepared_competition_says_how_to_prepare_it(home: Path) -> None:
    with pytest.raises(NotPrepared, match=r"run `harness prepare titanic`"):
        harness.validate("titanic", home / "x.csv")


def test_manifest_records_every_file_and_the_sizes(settings: Settings, titanic: Path) -> None:
    manifest = read_manifest(get_competition("titanic"), settings)
    assert set(manifest["files"]) == {
        "public/train.csv",
        "public/test.csv",
        "public/sample_submission.csv",
        "public/description.md",
        "private/answers.csv",
    }
    assert manifest["rows"] == {"train": 712, "test": 179}


def test_house_prices_ships_its_data_description(house_prices: Path) -> None:
    assert (house_prices / "data_description.txt").read_text().startswith("MSSubClass")


def test_prepare_from_a_kaggle_zip_matches_the_embedded_data(home: Path, tmp_path: Path) -> None:
    raw = tmp_path / "house-prices-advanced-regression-techniques.zip"
    embedded = get_competition("house-prices").embedded_raw
    assert embedded is not None
    with zipfile.ZipFile(raw, "w") as zf:
        for path in embedded.iterdir():
            zf.write(path, path.name)
    from_zip = harness.prepare("house-prices", raw, home=tmp_path / "a")
    from_package = harness.prepare("house-prices", home=tmp_path / "b")
    assert _tree_digest(from_zip.public).keys() == _tree_digest(from_package.public).keys()
    for name in ("train.csv", "test.csv", "sample_submission.csv"):
        assert (from_zip.public / name).read_bytes() == (from_package.public / name).read_bytes()


@pytest.mark.skipif(not (SHARED / "make_raw.py").is_file(), reason="needs ../shared/data")
def test_prepare_from_the_publishers_archives(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            str(SHARED / "make_raw.py"),
            str(tmp_path / "raw"),
            "titanic",
            "house-prices",
        ],
        check=True,
        capture_output=True,
    )
    titanic = harness.prepare("titanic", tmp_path / "raw" / "titanic.zip", home=tmp_path / "h")
    assert titanic.manifest["rows"] == {"train": 712, "test": 179}
    houses = harness.prepare(
        "house-prices",
        tmp_path / "raw" / "house-prices-advanced-regression-techniques.zip",
        home=tmp_path / "h",
    )
    assert houses.manifest["rows"] == {"train": 1168, "test": 292}


def test_raw_data_of_the_wrong_competition_is_named(home: Path, tmp_path: Path) -> None:
    embedded = get_competition("titanic").embedded_raw
    assert embedded is not None
    with pytest.raises(RawDataError, match=r"train.csv: missing column\(s\) 'Id', 'SalePrice'"):
        harness.prepare("house-prices", embedded)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(RawDataError, match=r"house-prices: no train.csv in the raw data"):
        harness.prepare("house-prices", empty)
    not_archive = tmp_path / "notes.txt"
    not_archive.write_text("hello")
    with pytest.raises(RawDataError, match=r"not a folder or an archive"):
        harness.prepare("titanic", not_archive)


def test_a_failed_prepare_leaves_the_previous_preparation_intact(
    settings: Settings, titanic: Path, tmp_path: Path
) -> None:
    before = _tree_digest(titanic)
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"not a zip")
    with pytest.raises(RawDataError, match=r"cannot read the archive"):
        harness.prepare("titanic", broken, force=True)
    assert _tree_digest(titanic) == before
    harness.validate("titanic", titanic / "sample_submission.csv")


def test_another_package_adds_a_competition_through_the_entry_point_group(
    monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    import dataclasses
    from importlib.metadata import EntryPoint

    import harness.registry as registry

    extra = dataclasses.replace(get_competition("titanic"), id="titanic-extra")
    monkeypatch.setattr(sys.modules[__name__], "EXTRA", extra, raising=False)
    point = EntryPoint("titanic-extra", f"{__name__}:EXTRA", registry.ENTRY_POINT_GROUP)
    monkeypatch.setattr(registry, "entry_points", lambda group: [point])
    registry.competitions.cache_clear()
    try:
        assert get_competition("titanic-extra") is extra
        assert harness.prepare("titanic-extra").manifest["rows"] == {"train": 712, "test": 179}
        assert "titanic-extra" in set(harness.list_competitions()["id"])
    finally:
        registry.competitions.cache_clear()
