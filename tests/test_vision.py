"""The image baselines on the CPU with tiny networks: the engine's augmentation, whitening and
calibration, training that learns, per-epoch pruning reports, submissions with class names or
calibrated probabilities, and clear errors for settings that cannot work."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import harness  # noqa: E402
from harness.errors import HarnessError  # noqa: E402
from tests.fixtures import cifar_archive, dogs_archive  # noqa: E402

TINY = {"epochs": 4.0, "batch_size": 64, "lr": 0.2, "compile": False}


@pytest.fixture
def tiny_airnet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("harness.baselines.vision.airnet.WIDTHS", (8, 16, 16))


@pytest.fixture
def cifar(home: Path, tmp_path: Path) -> Path:
    """A learnable CIFAR-10 in the publisher's format: 500 train and 200 test images."""
    return harness.prepare(
        "cifar10", cifar_archive(tmp_path, per_class=(10, 20), learnable=True)
    ).public


def test_augmentation_translates_flips_and_cuts_per_image() -> None:
    from harness.baselines.vision.engine import Recipe, augment

    batch = torch.arange(2 * 6 * 6 * 3, dtype=torch.uint8).reshape(2, 6, 6, 3)
    generator = torch.Generator().manual_seed(0)
    plain = Recipe(flip=False, translate=0, cutout=0)
    assert torch.equal(augment(batch, plain, generator), batch)

    moved = augment(batch, Recipe(flip=False, translate=2), generator)
    padded = torch.nn.functional.pad(batch.permute(0, 3, 1, 2).float(), (2,) * 4, mode="reflect")
    padded = padded.to(torch.uint8).permute(0, 2, 3, 1)
    for image, out in zip(padded, moved, strict=True):  # every output is one 6×6 window
        windows = [image[dy : dy + 6, dx : dx + 6] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(out, w) for w in windows)

    flips = augment(batch.repeat(32, 1, 1, 1), Recipe(flip=True, translate=0), generator)
    flipped = [torch.equal(out, batch[i % 2].flip(1)) for i, out in enumerate(flips)]
    assert 5 < sum(flipped) < 59  # about half, chosen per image

    cut = augment(batch + 1, Recipe(flip=False, translate=0, cutout=3), generator)
    assert ((cut == 0).all(dim=3).sum(dim=(1, 2)) >= 4).all()  # a hole in every image


def test_whitening_layer_decorrelates_patches() -> None:
    from harness.baselines.vision.engine.nets import whitening_weights

    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (200, 16, 16, 1))
    images = np.clip(base + rng.integers(-20, 20, (200, 16, 16, 3)), 0, 255).astype(np.uint8)
    weights = whitening_weights(images)
    assert weights.shape == (24, 3, 2, 2)
    from harness.baselines.vision.engine import normalise

    x = normalise(torch.from_numpy(images), torch.float32)
    out = torch.nn.functional.conv2d(x, weights[:12]).permute(0, 2, 3, 1).reshape(-1, 12)
    cov = torch.cov(out.T.double())
    assert torch.allclose(cov, torch.eye(12, dtype=torch.float64), atol=0.05)


def test_temperature_calibrates_overconfident_logits() -> None:
    from harness.baselines.vision.engine import fit_temperature

    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 2000)
    correct = rng.random(2000) < 0.8  # 80% right, but 99.99% sure
    predicted = np.where(correct, y, 1 - y)
    logits = torch.zeros(2000, 2)
    logits[torch.arange(2000), torch.from_numpy(predicted)] = 10.0
    t = fit_temperature(logits, y)
    p = torch.softmax(logits / t, 1)[torch.arange(2000), torch.from_numpy(predicted)]
    assert t > 3 and float(p.mean()) == pytest.approx(0.8, abs=0.02)


def test_airnet_learns_cifar_on_the_cpu_and_submits_class_names(
    cifar: Path, tiny_airnet: None, settings
) -> None:  # type: ignore[no-untyped-def]
    from mlflow import MlflowClient

    result = harness.baseline("cifar10", model="airnet", overrides=TINY, device="cpu")
    assert result.cv_score > 0.5  # chance is 0.1; scored on the held-out slice of train
    entry = result.entry
    assert entry.participant == "baseline/airnet" and entry.public_score > 0.5
    run = MlflowClient(settings.tracking_uri).get_run(entry.run_id)
    assert run.data.metrics["train_seconds"] > 0
    assert run.data.params["epochs"] == "4.0" and run.data.params["batch_size"] == "64"
    file = Path(MlflowClient(settings.tracking_uri).download_artifacts(entry.run_id, ""))
    submitted = next(file.glob("*.csv")).read_text().splitlines()
    assert submitted[0] == "id,label" and submitted[1].split(",")[1] in {
        "airplane", "automobile", "bird", "cat", "deer",
        "dog", "frog", "horse", "ship", "truck",
    }  # fmt: skip


def test_tuning_reports_every_epoch_and_submits_the_best_trial(
    cifar: Path, tiny_airnet: None, settings
) -> None:  # type: ignore[no-untyped-def]
    from mlflow import MlflowClient

    result = harness.tune(
        "cifar10",
        model="airnet",
        trials=3,
        overrides={"epochs": 2.0, "batch_size": 64},
        device="cpu",
        compile=False,
    )
    trials = result.study.trials
    assert len(trials) == 3 and trials[0].params["lr"] == 2.0  # the defaults first
    assert all(sorted(t.intermediate_values) == [1, 2] for t in trials)  # an epoch a report
    assert all(t.params.get("epochs", 2.0) == 2.0 for t in trials)
    best = max(t.value for t in trials if t.value is not None)
    assert result.cv_score == best
    run = MlflowClient(settings.tracking_uri).get_run(result.entry.run_id)
    assert run.data.metrics["cv_score"] == pytest.approx(best)
    assert run.data.params["epochs"] == "2.0"  # the pinned value, not the searched one


def test_dogs_vs_cats_with_a_timm_model_submits_calibrated_probabilities(
    home: Path, tmp_path: Path
) -> None:
    harness.prepare("dogs-vs-cats", dogs_archive(tmp_path, per_class=24, broken=False))
    result = harness.baseline(
        "dogs-vs-cats",
        model="timm:resnet10t",
        overrides={"epochs": 1.0, "batch_size": 8},
        device="cpu",
        image_size=32,
    )
    entry = result.entry
    assert entry.participant == "baseline/timm:resnet10t"
    assert 0 < entry.public_score < 2.0  # log loss of calibrated probabilities on noise
    assert "accuracy_public" in harness.leaderboard("dogs-vs-cats").columns


def test_settings_that_cannot_work_are_refused_by_name(
    cifar: Path, titanic: Path, tmp_path: Path
) -> None:
    with pytest.raises(HarnessError, match=r"--device does not apply to the gbm baseline"):
        harness.baseline("titanic", model="gbm", device="cuda")
    with pytest.raises(HarnessError, match=r"--checkpoint .*missing\.pt: no such file"):
        harness.baseline(
            "cifar10", model="airnet", checkpoint=str(tmp_path / "missing.pt"), device="cpu"
        )
    with pytest.raises(HarnessError, match="timm has no model 'no_such_net'"):
        harness.baseline("cifar10", model="timm:no_such_net", device="cpu")
    if not torch.cuda.is_available():
        with pytest.raises(HarnessError, match="no CUDA GPU"):
            harness.baseline("cifar10", model="airnet", device="cuda")
    assert harness.leaderboard("cifar10").empty  # nothing recorded by the refusals


def test_a_checkpoint_on_disk_starts_training_from_its_weights(
    cifar: Path, tiny_airnet: None, tmp_path: Path
) -> None:
    from harness.baselines.vision.airnet import make_net

    sample = np.zeros((4, 32, 32, 3), dtype=np.uint8) + np.arange(3, dtype=np.uint8) * 40
    net = make_net(10, sample, None)
    with torch.no_grad():
        net.head.weight.fill_(0.5)
    torch.save({"state_dict": net.state_dict()}, tmp_path / "weights.pt")
    loaded = make_net(10, sample, str(tmp_path / "weights.pt"))
    assert torch.equal(loaded.head.weight, net.head.weight)
    other = make_net(3, sample, str(tmp_path / "weights.pt"))  # another head: left as is
    assert other.head.weight.shape == (3, 16)


def test_the_cli_trains_on_the_cpu(cifar: Path, tiny_airnet: None) -> None:
    from click.testing import CliRunner

    from harness.cli import cli

    args = ["baseline", "cifar10", "--model", "airnet", "--device", "cpu", "--epochs", "2"]
    result = CliRunner().invoke(cli, [*args, "--no-compile"])
    assert result.exit_code == 0, result.output
    assert "submitted as baseline/airnet" in result.output
    result = CliRunner().invoke(cli, ["baseline", "titanic", "--device", "cuda"])
    assert result.exit_code == 1 and "--device does not apply" in result.output


def test_muon_orthogonalises_filter_updates_and_trains(cifar: Path, tiny_airnet: None) -> None:
    from harness.baselines.vision.engine.muon import orthogonalise

    g = torch.randn(16, 72, generator=torch.Generator().manual_seed(0))
    g[0] *= 100  # one dominant direction, as in a raw gradient
    singular = torch.linalg.svdvals(orthogonalise(g))
    assert float(singular.min()) > 0.5 and float(singular.max()) < 1.3  # all near 1
    assert orthogonalise(g.T).shape == (72, 16)

    result = harness.baseline(
        "cifar10",
        model="airnet",
        overrides={**TINY, "optimizer": "muon"},
        device="cpu",
    )
    assert result.cv_score > 0.5
