"""A time budget for an epoch-based run (``--minutes N``): the schedule's length is set from a
measured warm-up so that training, its evaluations and the test-time-augmented predictions
end within the budget.

After a few warm-up steps the engine knows what a step costs, and so what an image's forward
pass costs (a training step is a forward and a backward pass, about three forwards). What is
left of the budget, less the predictions still to make, buys the remaining steps; the one-cycle
schedule is then laid out over that many steps (the warm-up steps ran at its first, lowest
rates either way).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: A training step costs about this many forward passes of the same images.
STEP_FORWARDS = 3.0
#: Seconds kept for writing the submission and its MLflow run after the predictions.
SUBMIT_SECONDS = 5.0


@dataclass(frozen=True)
class Plan:
    total_steps: int  # the schedule's length
    epochs: float  # total_steps in epochs
    step_seconds: float  # measured in the warm-up
    predict_seconds: float  # what the evaluations and final predictions are expected to take
    budget_seconds: float  # what the run had, from its start


def plan(
    *,
    budget: float,
    elapsed: float,
    steps_done: int,
    step_seconds: float,
    batch: int,
    steps_per_epoch: int,
    eval_images: int,
    eval_every: int,
    final_images: int,
    views: int,
    forward_seconds: float | None = None,
) -> Plan:
    """How many steps fit: ``budget`` seconds in all, ``elapsed`` of them spent (start-up and
    warm-up), ``steps_done`` steps run at ``step_seconds`` each; every ``eval_every`` epochs an
    evaluation of ``eval_images`` images, and ``final_images`` predicted at the end, each image
    of them in ``views`` test-time views (``forward_seconds`` each, when measured)."""
    # one image, one view: measured, else guessed from the step
    forward = forward_seconds or step_seconds / max(1, batch) / STEP_FORWARDS
    per_epoch_eval = eval_images * views * forward / max(1, eval_every)
    final = final_images * views * forward + SUBMIT_SECONDS
    per_step = step_seconds + per_epoch_eval / max(1, steps_per_epoch)
    left = budget - elapsed - final
    total = steps_done + max(0, math.floor(left / per_step)) if per_step > 0 else steps_done
    total = max(total, steps_done, 1)
    evaluations = math.ceil(total / steps_per_epoch / max(1, eval_every))
    return Plan(
        total_steps=total,
        epochs=total / steps_per_epoch,
        step_seconds=step_seconds,
        predict_seconds=final + evaluations * eval_images * views * forward,
        budget_seconds=budget,
    )


def process_age() -> float:
    """Seconds since this process started (its start-up counts against a budget); 0 off
    Linux."""
    import os

    try:
        with open("/proc/self/stat", encoding="ascii") as f:
            start_ticks = int(f.read().rpartition(")")[2].split()[19])
        with open("/proc/uptime", encoding="ascii") as f:
            uptime = float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0
    return max(0.0, uptime - start_ticks / os.sysconf("SC_CLK_TCK"))


def start_up_seconds() -> float:
    """What this process spent before its first budgeted run: its age when it is the `harness`
    command (the start-up its user waited through counts against ``--minutes``); 0 in a
    notebook, a test or any other host process, whose age says nothing of this run."""
    import os
    import sys

    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    command = (spec is not None and spec.name == "harness.cli") or (
        os.path.basename(sys.argv[0] if sys.argv else "") == "harness"
    )
    return process_age() if command else 0.0


#: Test-time views of each ``tta`` level of :class:`~baselines.vision.engine.Recipe`.
VIEWS = {0: 1, 1: 2, 2: 6}
#: The most of a budget the final test-time-augmented predictions may take.
PREDICT_SHARE = 0.25


def tta_within(budget: float, images: int, forward_seconds: float, asked: int) -> int:
    """The richest test-time augmentation, at most ``asked``, whose predictions of ``images``
    take at most :data:`PREDICT_SHARE` of ``budget`` (0, plain predictions, at worst)."""
    for level in sorted((t for t in VIEWS if t <= asked), reverse=True):
        if images * VIEWS[level] * forward_seconds <= PREDICT_SHARE * budget:
            return level
    return 0
