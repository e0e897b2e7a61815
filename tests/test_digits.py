"""Handwritten digits: ``digits`` prepared from scikit-learn's bundled copy with no raw data and
no network, ``digit-recognizer`` from MNIST's IDX files (the publisher's split) or Kaggle's zip
(a seeded, stratified split) in Kaggle's pixel-table format, the four IDX archives downloaded
and checked, and the pixel baselines (classical on the core install, the CPU CNN) learning."""

from __future__ import annotations

import dataclasses
import gzip
import hashlib
import socket
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import harness
import harness.registry as registry
from harness.data.kit import read_idx
from harness.errors import RawDataError
from harness.settings import Settings
from tests.fixtures import _idx, digit_recognizer_zip, mnist_idx
from tests.test_download import Server


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a network connection fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the network was used")

    monkeypatch.setattr(socket.socket, "connect", refuse)


def _answers(settings: Settings, comp: str) -> pd.DataFrame:
    return pd.read_csv(settings.private_dir(comp) / "answers.csv")


def _rows(pixels: np.ndarray) -> dict[bytes, int]:
    return {image.tobytes(): n for n, image in enumerate(pixels)}


# ---------------------------------------------------------------------------------------------
# digits: embedded
# ---------------------------------------------------------------------------------------------


def test_digits_prepares_from_scikit_learns_copy_with_no_raw_data_and_no_network(
    home: Path, settings: Settings, offline: None
) -> None:
    from sklearn.datasets import load_digits

    done = harness.prepare("digits")
    assert done.manifest["raw"] == "the data embedded in the package"
    assert done.manifest["rows"] == {"train": 1347, "test": 450}
    public = done.public
    assert (public / "train" / "1.png").is_file() and (public / "test" / "450.png").is_file()
    train = pd.read_csv(public / "train.csv")
    assert list(train.columns) == ["id", "label"] and set(train["label"]) == set(range(10))

    images = harness.load("digits")
    assert images.x_train.shape == (1347, 8, 8, 3) and images.x_test.shape == (450, 8, 8, 3)
    assert (images.x_train[..., :1] == images.x_train).all()  # grey in three equal channels
    assert images.classes == tuple(str(d) for d in range(10))
    # every image is one of scikit-learn's, its 0-16 levels stretched to 0-255, with its label
    bundled = load_digits()
    levels = np.rint(bundled.images * (255 / 16)).astype(np.uint8)
    where = _rows(levels)
    found = [where[img[..., 0].tobytes()] for img in images.x_train]
    assert (bundled.target[found] == images.y_train).all()
    answers = _answers(settings, "digits").sort_values("id")
    held = [where[img[..., 0].tobytes()] for img in images.x_test]
    assert (bundled.target[held] == answers["label"].to_numpy()).all()
    assert len(set(found) | set(held)) == 1797
    # stratified: every digit has its share of the local test
    assert (np.bincount(answers["label"], minlength=10) >= 40).all()


def test_digits_refuses_a_raw_folder_without_the_table(home: Path, tmp_path: Path) -> None:
    (tmp_path / "raw").mkdir()
    with pytest.raises(RawDataError, match=r"digits: no digits.csv.gz in the raw data"):
        harness.prepare("digits", tmp_path / "raw")
    (tmp_path / "raw" / "digits.csv.gz").write_bytes(gzip.compress(b"1,2,3\n"))
    with pytest.raises(RawDataError, match=r"expected rows of 64 pixels and a digit, got 3"):
        harness.prepare("digits", tmp_path / "raw")


# ---------------------------------------------------------------------------------------------
# digit-recognizer: the IDX files and Kaggle's zip
# ---------------------------------------------------------------------------------------------


def test_idx_files_are_read_as_published(tmp_path: Path) -> None:
    mnist_idx(tmp_path, per_class=(2, 1))
    images = (tmp_path / "train-images-idx3-ubyte.gz").read_bytes()
    assert gzip.decompress(images)[:8] == bytes([0, 0, 8, 3, 0, 0, 0, 20])  # magic 2051, 20
    assert read_idx(images).shape == (20, 28, 28)
    labels = read_idx((tmp_path / "t10k-labels-idx1-ubyte.gz").read_bytes())
    assert labels.dtype == np.uint8 and list(labels) == list(range(10))
    with pytest.raises(RawDataError, match=r"x: not an IDX file \(magic 89504e47\)"):
        read_idx(b"\x89PNG\r\n", "x")
    with pytest.raises(RawDataError, match=r"the header says 2 x 2 values, but the file holds 3"):
        read_idx(bytes([0, 0, 8, 2, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3]))


def test_digit_recognizer_from_the_idx_files_keeps_the_publishers_split_in_kaggles_format(
    home: Path, settings: Settings, tmp_path: Path
) -> None:
    raw = mnist_idx(tmp_path / "raw", per_class=(3, 2))
    done = harness.prepare("digit-recognizer", raw)
    assert done.manifest["rows"] == {"train": 30, "test": 20}
    public = done.public
    assert sorted(p.name for p in public.iterdir()) == [
        "description.md",
        "sample_submission.csv",
        "tensors",
        "test.csv",
        "train.csv",
    ]
    pixels = [f"pixel{i}" for i in range(784)]
    train, test = pd.read_csv(public / "train.csv"), pd.read_csv(public / "test.csv")
    assert list(train.columns) == ["label", *pixels] and list(test.columns) == pixels
    sample = pd.read_csv(public / "sample_submission.csv")
    assert list(sample.columns) == ["ImageId", "Label"]
    assert list(sample["ImageId"]) == list(range(1, 21)) and set(sample["Label"]) == {0}

    def publisher(split: str) -> tuple[np.ndarray, np.ndarray]:
        return (
            read_idx((raw / f"{split}-images-idx3-ubyte.gz").read_bytes()),
            read_idx((raw / f"{split}-labels-idx1-ubyte.gz").read_bytes()),
        )

    # train.csv holds exactly the publisher's training images with their labels (shuffled)
    images, labels = publisher("train")
    where = _rows(images)
    order = [where[row.astype(np.uint8).tobytes()] for row in train[pixels].to_numpy()]
    assert sorted(order) == list(range(30)) and (labels[order] == train["label"]).all()
    # test.csv row k is ImageId k + 1, and the answers hold its publisher's label
    images, labels = publisher("t10k")
    where = _rows(images)
    order = [where[row.astype(np.uint8).tobytes()] for row in test[pixels].to_numpy()]
    answers = _answers(settings, "digit-recognizer").sort_values("ImageId")
    assert list(answers.columns) == ["ImageId", "Label", "Usage"]
    assert sorted(order) == list(range(20)) and (labels[order] == answers["Label"]).all()

    loaded = harness.load("digit-recognizer")
    assert loaded.x_train.shape == (30, 28, 28, 3) and list(loaded.train_ids) == list(range(1, 31))
    assert (loaded.x_test[..., 0].reshape(20, -1) == test.to_numpy()).all()
    assert (loaded.y_train == train["label"]).all()
    assert harness.load("digit-recognizer", size=14).x_test.shape == (20, 14, 14, 3)


def test_the_pixel_tables_are_the_csv_pandas_writes(home: Path, tmp_path: Path) -> None:
    public = harness.prepare("digit-recognizer", mnist_idx(tmp_path / "raw")).public
    for name in ("train.csv", "test.csv"):
        written = (public / name).read_bytes()
        again = pd.read_csv(public / name).to_csv(index=False, lineterminator="\n").encode()
        assert written == again


def test_plain_idx_files_with_dotted_names_prepare_the_same(home: Path, tmp_path: Path) -> None:
    gz = harness.prepare("digit-recognizer", mnist_idx(tmp_path / "gz"), home=tmp_path / "a")
    plain = mnist_idx(tmp_path / "plain", gz=False)
    for path in plain.iterdir():  # train-images.idx3-ubyte, as some copies name them
        path.rename(path.with_name(path.name.replace("-idx", ".idx")))
    other = harness.prepare("digit-recognizer", plain, home=tmp_path / "b")
    for name in ("train.csv", "test.csv", "sample_submission.csv"):
        assert (gz.public / name).read_bytes() == (other.public / name).read_bytes()


def test_digit_recognizer_from_kaggles_zip_splits_its_labelled_rows(
    home: Path, settings: Settings, tmp_path: Path
) -> None:
    raw = digit_recognizer_zip(tmp_path, per_class=10)
    done = harness.prepare("digit-recognizer", raw)
    assert done.manifest["rows"] == {"train": 76, "test": 24}  # 10,000 of 42,000 in proportion
    with zipfile.ZipFile(raw) as zf:
        kaggle = pd.read_csv(zf.open("train.csv"))
    train = pd.read_csv(done.public / "train.csv")
    test = pd.read_csv(done.public / "test.csv")
    assert list(train.columns) == list(kaggle.columns) and list(test.columns) == list(
        kaggle.columns[1:]
    )
    # every labelled row lands once, in train (with its label) or in the test (in the answers)
    answers = _answers(settings, "digit-recognizer").sort_values("ImageId")
    held = test.assign(label=answers["Label"].to_numpy())[list(kaggle.columns)]
    both = pd.concat([train, held]).sort_values(list(kaggle.columns)).reset_index(drop=True)
    assert both.equals(kaggle.sort_values(list(kaggle.columns)).reset_index(drop=True))
    assert set(answers["Label"]) == set(range(10))  # stratified: every digit in the test


def test_broken_mnist_raw_data_is_named(home: Path, tmp_path: Path) -> None:
    raw = mnist_idx(tmp_path / "raw")
    (raw / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(RawDataError, match=r"the IDX files lack t10k-labels"):
        harness.prepare("digit-recognizer", raw)
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(np.zeros(3, np.uint8))))
    with pytest.raises(RawDataError, match=r"holds 20 images but t10k-labels-idx1-ubyte.gz 3"):
        harness.prepare("digit-recognizer", raw)
    (raw / "t10k-labels-idx1-ubyte.gz").write_bytes(gzip.compress(_idx(np.full(20, 11))))
    with pytest.raises(RawDataError, match=r"labels must be digits 0-9, found \[11\]"):
        harness.prepare("digit-recognizer", raw)
    wrong = tmp_path / "wrong.zip"
    with zipfile.ZipFile(wrong, "w") as zf:
        zf.writestr("train.csv", "label,a,b\n1,2,3\n")
    with pytest.raises(RawDataError, match=r"train.csv: expected the columns label, pixel0"):
        harness.prepare("digit-recognizer", wrong)
    (tmp_path / "empty").mkdir()
    with pytest.raises(RawDataError, match=r"digit-recognizer: no MNIST data in"):
        harness.prepare("digit-recognizer", tmp_path / "empty")


def test_the_pinned_mnist_archives_are_the_publishers() -> None:
    files = registry.competitions()["digit-recognizer"].downloads
    assert [(f.filename, f.size) for f in files] == [
        ("train-images-idx3-ubyte.gz", 9_912_422),
        ("train-labels-idx1-ubyte.gz", 28_881),
        ("t10k-images-idx3-ubyte.gz", 1_648_877),
        ("t10k-labels-idx1-ubyte.gz", 4_542),
    ]
    assert files[0].sha256 == "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609"
    assert all(
        f.url == f"https://ossci-datasets.s3.amazonaws.com/mnist/{f.filename}" for f in files
    )
    assert registry.competitions()["digit-recognizer"].kaggle_slug == "digit-recognizer"


def test_download_fetches_the_four_archives_checks_each_and_prepare_uses_them(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from click.testing import CliRunner

    from harness.cli import cli

    made = mnist_idx(tmp_path / "made")
    server = Server()
    try:
        real = registry.competitions()
        comp = real["digit-recognizer"]
        pinned = []
        for official in comp.downloads:
            data = (made / official.filename).read_bytes()
            server.files[f"/mnist/{official.filename}"] = data
            digest = hashlib.sha256(data).hexdigest()
            pinned.append(dataclasses.replace(official, sha256=digest, size=len(data)))
        mirror = {**real, comp.id: dataclasses.replace(comp, download=tuple(pinned))}
        monkeypatch.setattr(registry, "competitions", lambda home=None: mirror)
        result = CliRunner().invoke(
            cli, ["download", "digit-recognizer", "--url", f"{server.url}/mnist/"]
        )
        assert result.exit_code == 0, result.output
        folder = home / "raw" / "digit-recognizer"
        assert f"digit-recognizer: raw data in {folder};" in result.stdout
        assert sorted(p.name for p in folder.iterdir()) == sorted(f.filename for f in pinned)
        assert harness.prepare("digit-recognizer").manifest["rows"] == {"train": 30, "test": 20}

        # one archive that does not match its pin is refused (and removed), by its URL
        server.files["/mnist/t10k-labels-idx1-ubyte.gz"] = b"tampered"
        result = CliRunner().invoke(
            cli,
            ["download", "digit-recognizer", "--force", "--url", f"{server.url}/mnist"],
        )
        assert result.exit_code == 1
        assert "t10k-labels-idx1-ubyte.gz: sha256 " in result.stderr
        assert not (folder / "t10k-labels-idx1-ubyte.gz").exists()
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


# ---------------------------------------------------------------------------------------------
# Baselines on the pixels
# ---------------------------------------------------------------------------------------------


@pytest.fixture
def digits(home: Path) -> Path:
    return harness.prepare("digits").public


@pytest.mark.parametrize(
    ("model", "params", "floor"),
    [
        ("logistic", {}, 0.9),
        ("svc", {}, 0.97),
        ("hgb", {"max_iter": 15, "max_leaf_nodes": 8}, 0.8),
    ],
)
def test_classical_pixel_baselines_learn_the_digits(
    digits: Path, model: str, params: dict[str, float], floor: float
) -> None:
    from harness.baselines import get_baseline, load_data

    comp = registry.get_competition("digits")
    baseline = get_baseline(comp, model)
    assert baseline.requires == () and baseline.holdout is None  # core install, k-fold CV
    data = load_data(baseline, comp, harness.load("digits"))
    estimator = baseline.build({**baseline.defaults, **params}, comp, data.columns, 0)
    estimator.fit(data.x_train[:1000], data.y_train[:1000])
    accuracy = (estimator.predict(data.x_train[1000:]) == data.y_train[1000:]).mean()
    assert accuracy > floor


def test_the_svc_baseline_runs_from_the_cli_and_submits_digits(digits: Path) -> None:
    from click.testing import CliRunner

    from harness.cli import cli

    result = CliRunner().invoke(cli, ["baseline", "digits", "--model", "svc"])
    assert result.exit_code == 0, result.output
    assert "submitted as baseline/svc: public score 0.9" in result.stdout
    standings = harness.leaderboard("digits")
    assert list(standings["participant"]) == ["baseline/svc"]


def test_the_pixel_svc_width_is_a_multiple_of_the_scale_rule() -> None:
    from harness.baselines.vision.shared import Pixels

    rng = np.random.default_rng(0)
    grey = np.repeat(rng.integers(0, 256, (50, 8, 8, 1), dtype=np.uint8), 3, axis=3)
    rows = Pixels(unit_width=True).fit(grey).transform(grey)
    assert rows.shape == (50, 64)  # one channel of three equal ones
    assert rows.shape[1] * rows.var() == pytest.approx(1.0, rel=1e-4)
    colour = rng.integers(0, 256, (5, 4, 4, 3), dtype=np.uint8)
    assert Pixels().fit(colour).transform(colour).max() <= 1.0
    assert Pixels().fit(colour).transform(colour).shape == (5, 48)


def test_the_cnn_learns_digits_on_the_cpu_and_submits_them(digits: Path) -> None:
    pytest.importorskip("torch")
    result = harness.baseline(
        "digits", model="cnn", overrides={"epochs": 6.0, "batch_size": 64}, device="cpu"
    )
    assert result.cv_score > 0.8  # chance is 0.1; the held-out tenth of train
    assert result.entry.participant == "baseline/cnn" and result.entry.public_score > 0.8


def test_the_cnn_sees_one_grey_channel_and_any_side(home: Path, tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from harness.baselines.vision.cnn import make_net

    public = harness.prepare("digit-recognizer", mnist_idx(tmp_path / "raw")).public
    x = np.load(public / "tensors" / "train_28px.npy")
    net = make_net(10, x, None)
    assert net.grey and net.features[0].in_channels == 1
    assert net(torch.zeros(2, 3, 28, 28)).shape == (2, 10)
    colour = make_net(10, np.random.default_rng(0).integers(0, 256, (4, 8, 8, 3), np.uint8), None)
    assert not colour.grey and colour(torch.zeros(2, 3, 8, 8)).shape == (2, 10)
