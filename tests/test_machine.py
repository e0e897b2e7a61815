"""What a run may assume of the machine it runs on: the memory free and the budget taken from
it, the micro-batches and evaluation chunks that fit, the refusal with the numbers of a run
that cannot, and the precision chosen from the CPU's flags (faked here: never this CPU's)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from harness.baselines import cpu

from harness.errors import HarnessError

GB = 1024**3
MB = 1024**2


def test_available_memory_reads_meminfo(tmp_path: Path) -> None:
    info = tmp_path / "meminfo"
    info.write_text("MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   2000000 kB\n")
    assert cpu.available_memory(str(info)) == 2_000_000 * 1024
    assert cpu.available_memory(str(tmp_path / "missing")) is None


def test_memory_budget_is_capped_shared_and_less_what_is_held() -> None:
    # plenty free: the 4 GB cap, less the 1 GB this process already holds
    assert cpu.memory_budget(available=20 * GB, resident=1 * GB) == 3 * GB
    # little free: three quarters of it
    assert cpu.memory_budget(available=2 * GB, resident=0) == int(1.5 * GB)
    assert cpu.memory_budget(available=GB, resident=2 * GB) == 0  # never negative


def test_micro_batch_fits_splits_and_refuses_with_the_numbers() -> None:
    from harness.baselines.vision.engine.memory import Footprint, eval_chunk, micro_batch

    need = Footprint(train_per_image=10 * MB, eval_per_image=4 * MB, fixed=500 * MB)
    assert micro_batch(64, need, budget=2 * GB) == 64  # 1.1 GB: the batch whole
    assert micro_batch(1024, need, budget=2 * GB) == (2048 - 500) // 10  # 154 per pass
    with pytest.raises(HarnessError) as explicit:
        micro_batch(1024, need, budget=2 * GB, explicit=True)
    assert "batch 1024 needs about 10.5 GB" in str(explicit.value)
    assert "10 MB an image" in str(explicit.value) and "2.0 GB" in str(explicit.value)
    assert "--batch-size 154 or less" in str(explicit.value)
    with pytest.raises(HarnessError, match="not even one image fits"):
        micro_batch(8, need, budget=505 * MB)
    assert eval_chunk(need, 2 * GB, views=2) == (2048 - 500) // 8
    assert eval_chunk(need, 100 * GB) == 1000


def test_precision_follows_the_cpu_flags() -> None:
    assert cpu.precision("cpu", frozenset({"avx2", "amx_bf16", "amx_tile"})) == "bf16"
    assert cpu.precision("cpu", frozenset({"avx512f", "avx512_bf16"})) == "bf16"
    assert cpu.precision("cpu", frozenset({"avx2", "fma"})) == "fp32"
    assert cpu.precision("cpu", frozenset()) == "fp32"
    assert cpu.precision("cuda", frozenset()) == "bf16"


def test_cpu_flags_reads_the_first_cpu(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nflags\t\t: fpu sse avx2 amx_bf16\n\nflags\t: other\n")
    assert cpu.cpu_flags(str(info)) == {"fpu", "sse", "avx2", "amx_bf16"}
    assert cpu.cpu_flags(str(tmp_path / "none")) == frozenset()


torch = pytest.importorskip("torch")


def test_activation_bytes_counts_every_layer_output() -> None:
    from harness.baselines.vision.engine.memory import activation_bytes

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU())
    assert activation_bytes(net, 8) == 2 * 4 * 8 * 8 * 4  # two outputs of 4×8×8 floats


def _tiny_net() -> torch.nn.Module:
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        torch.nn.BatchNorm2d(8),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(8, 2),
    )


def test_training_splits_a_batch_that_does_not_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.baselines.vision import engine
    from harness.baselines.vision.engine.memory import footprint

    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (96, 16, 16, 3), dtype=np.uint8)
    y = np.repeat([0, 1], 48)
    net = _tiny_net()
    need = footprint(net, 16, x.nbytes)
    budget = need.fixed + 10 * need.train_per_image  # room for ten images a pass
    monkeypatch.setattr(cpu, "memory_budget", lambda: budget)
    recipe = engine.Recipe(epochs=1, batch_size=32, optimizer="sgd", lr=0.05, tta=0)
    trained = engine.train(net, x, y, recipe, device=torch.device("cpu"))
    assert trained.micro_batch == 10
    assert trained.precision in ("bf16", "fp32")
    proba = engine.predict_proba(
        trained.model, x, recipe, device=torch.device("cpu"), batch_size=trained.eval_chunk
    )
    assert proba.shape == (96, 2) and np.allclose(proba.sum(1), 1, atol=1e-5)


def test_a_run_that_cannot_fit_is_refused_before_training(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from harness.baselines.vision import engine

    x = np.zeros((64, 16, 16, 3), dtype=np.uint8)
    monkeypatch.setattr(cpu, "memory_budget", lambda: x.nbytes // 2)  # not even the images
    recipe = engine.Recipe(epochs=1, batch_size=32, optimizer="sgd")
    with pytest.raises(HarnessError, match=r"16 px: batch 32 needs about .* not even one image"):
        engine.train(_tiny_net(), x, np.zeros(64, np.int64), recipe, device=torch.device("cpu"))


def test_precision_is_fp32_on_a_cpu_without_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    from harness.baselines.vision import engine

    monkeypatch.setattr(cpu, "cpu_flags", lambda path="": frozenset({"avx2"}))
    context, chosen = engine.autocast(torch.device("cpu"), engine.Recipe())
    assert chosen == "fp32" and not context._enabled
    monkeypatch.setattr(cpu, "cpu_flags", lambda path="": frozenset({"amx_bf16"}))
    context, chosen = engine.autocast(torch.device("cpu"), engine.Recipe())
    assert chosen == "bf16" and context._enabled
