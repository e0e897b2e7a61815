"""CIFAR-10, Dogs vs Cats and sentiment: every raw format each accepts, the public layout,
the tensor cache and the one-line loaders."""

from __future__ import annotations

import io
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import harness
from harness.cli import cli
from harness.data.images import decode
from harness.errors import RawDataError
from tests.fixtures import CIFAR_CLASSES, cifar_archive, dogs_archive, imdb_archive, jpeg


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_cifar10_public_layout_tensors_and_loader_agree(home: Path, tmp_path: Path) -> None:
    done = harness.prepare("cifar10", cifar_archive(tmp_path, per_class=(2, 3)))
    assert done.manifest["rows"] == {"train": 100, "test": 30}
    public = done.public
    train = pd.read_csv(public / "train.csv")
    assert list(train.columns) == ["id", "label"] and train["id"].tolist() == list(range(1, 101))
    assert train["label"].value_counts().to_dict() == dict.fromkeys(CIFAR_CLASSES, 10)
    data = harness.load("cifar10")
    assert isinstance(data, harness.data.loading.Images)
    assert data.x_train.shape == (100, 32, 32, 3) and data.x_train.dtype == np.uint8
    assert data.x_test.shape == (30, 32, 32, 3)
    assert data.classes == tuple(CIFAR_CLASSES)
    assert [data.classes[y] for y in data.y_train] == train["label"].tolist()
    for i in (0, 57, 99):  # the tensors hold exactly the pixels of the PNG files
        png = (public / "train" / f"{data.train_ids[i]}.png").read_bytes()
        np.testing.assert_array_equal(decode(png), data.x_train[i])
    np.testing.assert_array_equal(
        decode((public / "test" / f"{data.test_ids[4]}.png").read_bytes()), data.x_test[4]
    )


def test_cifar10_pixels_follow_the_publishers_row_layout(home: Path, tmp_path: Path) -> None:
    import pickle

    archive = cifar_archive(tmp_path)
    with tarfile.open(archive) as tf:
        member = tf.extractfile("cifar-10-batches-py/test_batch")
        assert member is not None
        batch = pickle.loads(member.read(), encoding="bytes")
    first = np.asarray(batch[b"data"][0]).reshape(3, 32, 32).transpose(1, 2, 0)
    harness.prepare("cifar10", archive)
    data = harness.load("cifar10")
    assert isinstance(data, harness.data.loading.Images)
    matches = [i for i in range(len(data.x_test)) if np.array_equal(data.x_test[i], first)]
    assert len(matches) == 1  # the same image, somewhere under its shuffled id


def test_cifar10_from_class_folders_matches_the_classes(home: Path, tmp_path: Path) -> None:
    from PIL import Image

    rng = np.random.default_rng(1)
    for split, n in (("train", 3), ("test", 2)):
        for cls in CIFAR_CLASSES:
            folder = tmp_path / "CIFAR-10-images" / split / cls
            folder.mkdir(parents=True)
            for i in range(n):
                pixels = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(folder / f"{i:04d}.png")
    done = harness.prepare("cifar10", tmp_path / "CIFAR-10-images")
    assert done.manifest["rows"] == {"train": 30, "test": 20}
    with pytest.raises(RawDataError, match=r"cifar10: no CIFAR-10 data in"):
        harness.prepare("cifar10", tmp_path / "CIFAR-10-images" / "train" / "cat", force=True)


def test_dogs_vs_cats_skips_unreadable_photos_and_names_them(home: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["prepare", "dogs-vs-cats", "--raw", str(dogs_archive(tmp_path))]
    )
    assert result.exit_code == 0, result.stderr
    assert (
        "note: skipped 2 unreadable or empty image(s): train/cat.900.jpg, train/dog.901.jpg"
    ) in result.stdout
    assert "note: 16 labelled photos: 12 train, 4 test" in result.stdout
    public = home / "public" / "dogs-vs-cats"
    assert len(list((public / "train").glob("*.jpg"))) == 12
    assert len(list((public / "test").glob("*.jpg"))) == 4
    assert sorted(pd.read_csv(public / "train.csv")["label"].value_counts()) == [6, 6]
    kept = {jpeg(100 * k + i) for k in range(2) for i in range(8)}
    assert set(_files(public / "train").values()) <= kept  # bytes as published


@pytest.mark.parametrize("form", ["inner train.zip", "class folders"])
def test_dogs_vs_cats_takes_the_inner_train_zip_or_class_folders(
    home: Path, tmp_path: Path, form: str
) -> None:
    reference = harness.prepare("dogs-vs-cats", dogs_archive(tmp_path), home=tmp_path / "ref")
    with zipfile.ZipFile(dogs_archive(tmp_path)) as outer:
        inner = zipfile.ZipFile(io.BytesIO(outer.read("train.zip")))
    raw = tmp_path / "raw"
    if form == "inner train.zip":
        raw.mkdir()
        (raw / "train.zip").write_bytes(zipfile.ZipFile(dogs_archive(tmp_path)).read("train.zip"))
    else:  # PetImages-style: Cat/ and Dog/ folders
        for name in inner.namelist():
            cls, number = Path(name).name.split(".")[:2]
            target = raw / "PetImages" / cls.capitalize() / f"{number}.jpg"
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(inner.read(name))
    done = harness.prepare("dogs-vs-cats", raw)
    assert done.manifest["rows"] == reference.manifest["rows"]
    if form == "inner train.zip":
        assert _files(done.public) == _files(reference.public)


def test_dogs_vs_cats_tensors_are_made_once_per_size(home: Path, tmp_path: Path) -> None:
    harness.prepare("dogs-vs-cats", dogs_archive(tmp_path))
    tensors = home / "public" / "dogs-vs-cats" / "tensors"
    assert not list(tensors.glob("*px.npy"))  # no size chosen yet
    data = harness.load("dogs-vs-cats", size=16)
    assert isinstance(data, harness.data.loading.Images)
    assert data.x_train.shape == (12, 16, 16, 3) and data.x_test.shape == (4, 16, 16, 3)
    made = {p.name: p.stat().st_mtime_ns for p in tensors.glob("*px.npy")}
    assert set(made) == {"train_16px.npy", "test_16px.npy"}
    harness.load("dogs-vs-cats", size=16)
    assert {p.name: p.stat().st_mtime_ns for p in tensors.glob("*px.npy")} == made
    assert harness.load("dogs-vs-cats").x_train.shape[1:] == (128, 128, 3)  # type: ignore[union-attr]


def test_sentiment_from_the_archive_or_the_unpacked_tree_is_identical(
    home: Path, tmp_path: Path
) -> None:
    archive = imdb_archive(tmp_path)
    from_archive = harness.prepare("sentiment", archive, home=tmp_path / "a")
    with tarfile.open(archive) as tf:
        tf.extractall(tmp_path / "unpacked", filter="data")
    from_tree = harness.prepare("sentiment", tmp_path / "unpacked", home=tmp_path / "b")
    assert _files(from_archive.public) == _files(from_tree.public)
    train = pd.read_csv(from_archive.public / "train.csv")
    assert list(train.columns) == ["id", "sentiment", "review"] and len(train) == 12
    assert train["id"].str.fullmatch(r"\d+_\d+").all()  # Kaggle's "<review>_<rating>" ids
    assert (train["sentiment"] == train["id"].str.split("_").str[1].astype(int).ge(7)).all()
    assert "<br /><br />" in train["review"].iloc[0]
    test = pd.read_csv(from_archive.public / "test.csv")
    assert list(test.columns) == ["id", "review"] and sorted(test["id"]) == list(range(1, 13))
    assert "unlabelled" not in (from_archive.public / "train.csv").read_text()


def test_sentiment_loads_as_dataframes(home: Path, tmp_path: Path) -> None:
    harness.prepare("sentiment", imdb_archive(tmp_path))
    data = harness.load("sentiment")
    assert isinstance(data, harness.data.loading.Tables)
    assert data.train.shape == (12, 3) and data.test.shape == (12, 2)
    assert list(data.sample_submission.columns) == ["id", "sentiment"]


def test_submissions_to_the_new_competitions_are_checked_and_scored(
    home: Path, tmp_path: Path
) -> None:
    harness.prepare("cifar10", cifar_archive(tmp_path))
    answers = pd.read_csv(home / "private" / "cifar10" / "answers.csv")
    guess = answers.drop(columns="Usage")
    guess.loc[0, "label"] = "Cat"
    with pytest.raises(harness.InvalidSubmission) as info:
        harness.validate("cifar10", guess)
    assert info.value.problems == [
        "'label' must be one of airplane, automobile, bird, cat, deer, dog, frog, horse, ship, "
        "truck; 1 row is not (first: row 0 'Cat')"
    ]
    guess.loc[0, "label"] = answers.loc[0, "label"]
    assert harness.submit("cifar10", guess).public_score == 1.0

    harness.prepare("dogs-vs-cats", dogs_archive(tmp_path))
    sample = pd.read_csv(home / "public" / "dogs-vs-cats" / "sample_submission.csv")
    sample.loc[1, "label"] = 1.5
    with pytest.raises(harness.InvalidSubmission, match=r"must be a probability in \[0, 1\]"):
        harness.validate("dogs-vs-cats", sample)
    sample["label"] = 0.5
    entry = harness.submit("dogs-vs-cats", sample).entry
    assert entry.public_score == pytest.approx(np.log(2))
    assert set(entry.extra) == {"accuracy_public", "accuracy_private"}
    board = harness.leaderboard("dogs-vs-cats")
    assert "accuracy_public" in board.columns
