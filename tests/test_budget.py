"""``--minutes``: the budget arithmetic (steps that fit once start-up, evaluations and the final
predictions are paid for), the engine laying its schedule over what its warm-up measured, and
the flag refused by baselines without epochs."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from harness.baselines.vision.engine.budget import SUBMIT_SECONDS, plan, process_age

from harness.errors import HarnessError


def test_the_steps_that_fit_the_budget() -> None:
    # 600 s, 60 spent; a step of 1.2 s on 120 images: an image forward 1/300 s
    found = plan(
        budget=600,
        elapsed=60,
        steps_done=4,
        step_seconds=1.2,
        batch=120,
        steps_per_epoch=100,
        eval_images=0,
        eval_every=1,
        final_images=3000,
        views=2,
    )
    final = 3000 * 2 / 300 + SUBMIT_SECONDS  # 25 s of predictions and submission
    assert found.total_steps == 4 + int((600 - 60 - final) // 1.2)  # 4 + 429
    assert found.epochs == pytest.approx(4.33)
    assert found.predict_seconds == pytest.approx(final)


def test_evaluations_each_epoch_are_paid_for() -> None:
    common = dict(budget=300, elapsed=0, steps_done=4, step_seconds=1.0, batch=300)
    without = plan(**common, steps_per_epoch=10, eval_images=0, eval_every=1, final_images=0,
                   views=1)  # fmt: skip
    with_eval = plan(**common, steps_per_epoch=10, eval_images=900, eval_every=1,
                     final_images=0, views=1)  # fmt: skip
    # 900 images a epoch at 1/900 s each: 1 s an epoch, 0.1 s a step
    assert without.total_steps == 4 + int(295 // 1.0)
    assert with_eval.total_steps == 4 + int(295 // 1.1)


def test_a_budget_already_spent_keeps_the_steps_run() -> None:
    found = plan(budget=60, elapsed=90, steps_done=4, step_seconds=1.0, batch=8,
                 steps_per_epoch=10, eval_images=0, eval_every=1, final_images=0,
                 views=1)  # fmt: skip
    assert found.total_steps == 4


def test_process_age_counts_this_process() -> None:
    assert 0 < process_age() < 24 * 3600


torch = pytest.importorskip("torch")


def test_the_engine_sizes_its_schedule_from_the_warm_up() -> None:
    from harness.baselines.vision import engine

    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (256, 16, 16, 3), dtype=np.uint8)
    y = np.repeat([0, 1], 128)
    net = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3, padding=1),
        torch.nn.ReLU(),
        torch.nn.AdaptiveAvgPool2d(1),
        torch.nn.Flatten(),
        torch.nn.Linear(8, 2),
    )
    recipe = engine.Recipe(epochs=1000.0, batch_size=32, optimizer="sgd", lr=0.05, tta=0)
    trained = engine.train(net, x, y, recipe, device=torch.device("cpu"), budget=6.0)
    assert trained.plan is not None
    assert trained.plan.total_steps < 1000 * 8  # not the recipe's 1,000 epochs
    assert trained.plan.total_steps >= engine.WARMUP_STEPS + 1
    assert trained.seconds < 6.0 * 1.1 + 1  # within the budget


def test_minutes_apply_to_epoch_based_models_only(home: Path) -> None:
    import harness

    harness.prepare("titanic")
    with pytest.raises(HarnessError, match="--minutes does not apply to the gbm baseline"):
        harness.baseline("titanic", model="gbm", minutes=1.0)


def test_a_budgeted_baseline_records_what_it_did(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mlflow.tracking import MlflowClient

    import harness
    from harness.settings import Settings
    from tests.fixtures import cifar_archive

    monkeypatch.setattr("harness.baselines.vision.airnet.WIDTHS", (8, 16, 16))
    harness.prepare("cifar10", cifar_archive(tmp_path, per_class=(10, 4), learnable=True))
    result = harness.baseline(
        "cifar10", model="airnet", minutes=0.5, device="cpu", overrides={"batch_size": 16}
    )
    params = MlflowClient(Settings.resolve().tracking_uri).get_run(result.entry.run_id).data.params
    assert params["minutes"] == "0.5"
    assert float(params["budget_epochs"]) > 0 and int(params["budget_steps"]) >= 4
    assert float(params["budget_step_s"]) > 0
    assert params["precision"] in ("bf16", "fp32") and int(params["micro_batch"]) == 16


def test_test_time_views_shrink_to_fit_the_budget() -> None:
    from harness.baselines.vision.engine.budget import tta_within

    # 15,000 images at 3 ms a view: 6 views 270 s, 2 views 90 s, 1 view 45 s
    assert tta_within(1200, 15_000, 0.003, asked=2) == 2  # 270 ≤ 300
    assert tta_within(600, 15_000, 0.003, asked=2) == 1  # 90 ≤ 150 < 270
    assert tta_within(100, 15_000, 0.003, asked=2) == 0  # even one view is over: plain
    assert tta_within(1200, 15_000, 0.003, asked=1) == 1  # never more than asked


def test_a_measured_forward_pass_replaces_the_guess() -> None:
    common = dict(budget=600, elapsed=0, steps_done=2, step_seconds=30.0, batch=1024,
                  steps_per_epoch=48, eval_images=0, eval_every=1, final_images=15_000,
                  views=6)  # fmt: skip
    guessed = plan(**common)  # 30 / 1024 / 3 ≈ 9.8 ms a view: 879 s of predictions
    measured = plan(**common, forward_seconds=0.0033)  # 297 s
    assert guessed.total_steps == 2
    assert measured.total_steps == 2 + int((600 - 15_000 * 6 * 0.0033 - SUBMIT_SECONDS) // 30)


def test_only_the_harness_command_counts_its_start_up_against_the_budget(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A notebook kernel or a test worker may be hours old: its age is not this run's start-up."""
    import sys

    from harness.baselines.vision.engine import budget

    monkeypatch.setattr(budget, "process_age", lambda: 7.5)
    monkeypatch.setattr(sys, "argv", ["/home/me/.venv/bin/harness", "baseline", "cifar10"])
    assert budget.start_up_seconds() == 7.5
    monkeypatch.setattr(sys, "argv", ["/usr/lib/python3/ipykernel_launcher.py", "-f", "k.json"])
    assert budget.start_up_seconds() == 0.0


def test_a_machine_that_slows_down_mid_run_shortens_the_schedule_within_the_budget() -> None:
    """The warm-up sees fast steps, then every step takes five times as long (as when another
    program takes the cores): the re-plans at every tenth of the schedule end the run within
    its budget, where the warm-up's plan alone would overrun it."""
    from harness.baselines.vision import engine

    class Slowing(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
            self.head = torch.nn.Linear(4, 2)
            self.calls = 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            self.calls += 1
            time.sleep(0.01 if self.calls <= 12 else 0.05)
            return self.head(self.conv(x).mean((2, 3)))

    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, (256, 8, 8, 3), dtype=np.uint8)
    y = np.repeat([0, 1], 128)
    recipe = engine.Recipe(epochs=1000.0, batch_size=16, optimizer="sgd", lr=0.05, tta=0)
    notes: list[str] = []
    trained = engine.train(
        Slowing(), x, y, recipe, device=torch.device("cpu"), budget=9.0, progress=notes.append
    )
    assert trained.seconds < 9.0 - SUBMIT_SECONDS + 0.9, notes  # the budget less the submit
    assert any("s a step now" in note for note in notes), notes  # it said what it re-planned
    first = next(n for n in notes if n.startswith("0.1 min: "))
    overrun = float(first.split()[2]) * 16 * 0.05 / (9.0 - SUBMIT_SECONDS)
    assert overrun > 1.5  # the warm-up's plan alone, at the slowed pace: half as much again
