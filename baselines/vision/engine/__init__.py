"""The image-classification training engine every vision baseline shares, written for one GPU:

- the whole uint8 training set lives on the device (uploaded once, reused by every trial);
- augmentation runs on the device, per sample: flip, translate (reflect-padded crop), cutout;
- channels_last, bf16 autocast, fused optimizers, one-cycle or linear-decay schedules, label
  smoothing, an optional EMA of the weights, flip (and translate) test-time augmentation;
- ``torch.compile`` when asked (it pays for runs longer than its compile time);
- a per-epoch evaluation handed to a ``report`` callback (Optuna prunes on it).

It runs on the CPU too (no compile; bf16 autocast where the CPU computes bf16 natively, see
:func:`baselines.cpu.precision`, else float32): tests use it there with a tiny network. The
recipe's batch is split into micro-batches whose gradients accumulate when it does not fit the
memory free (:mod:`baselines.vision.engine.memory`), and evaluation runs in chunks that fit.
"""

from __future__ import annotations

import functools
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from harness.baselines.vision.engine.budget import VIEWS, tta_within
from harness.baselines.vision.engine.budget import plan as budget_plan

from harness.errors import HarnessError

#: Steps timed before a time budget lays out the schedule (after one untimed first step).
WARMUP_STEPS = 3
#: After the warm-up, a budgeted run lays its schedule out again at every tenth of it, from
#: the pace of the steps since the last time: a machine that slows down (another program,
#: heat) shortens the run instead of overrunning its budget; one that speeds up lengthens it.
REPLANS = 10
#: Per-channel statistics of the CIFAR-10 train set; close enough for natural photos too.
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)


@dataclass(frozen=True)
class Recipe:
    """Everything about one training run except the network."""

    epochs: float = 10.0
    batch_size: int = 512
    optimizer: str = "sgd"  # "sgd" (Nesterov), "adamw", or "muon" (conv filters; SGD the rest)
    lr: float = 0.2  # peak learning rate
    muon_lr: float = 0.2  # peak rate of the orthogonalised updates ("muon")
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "onecycle"  # "onecycle" (linear warm-up then decay) or "linear" (decay)
    warmup: float = 0.2  # fraction of the steps spent warming up (onecycle)
    label_smoothing: float = 0.2
    flip: bool = True
    translate: int = 2  # pixels of reflect-padded random translation
    cutout: int = 0  # side of a random square zeroed per image (0: off)
    ema: float = 0.0  # EMA decay of the weights per step (0: off)
    tta: int = 1  # 0: none, 1: + horizontal flip, 2: + 1-pixel translations
    bf16: bool = True  # autocast on CUDA
    compile: bool = False  # torch.compile the network (CUDA)
    eval_every: int = 1  # epochs between evaluations when a validation set is given


def device_of(name: str | None) -> Any:
    """``cuda`` when there is one (or asked for), else ``cpu``; a clear error for a missing GPU."""
    import torch

    if name in (None, "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise HarnessError("--device cuda: no CUDA GPU is visible to torch on this machine")
    return device


# ----------------------------------------------------------------------------------------------
# Data on the device
# ----------------------------------------------------------------------------------------------
_UPLOADED: dict[tuple[int, str], tuple[Any, Any]] = {}


def on_device(images: np.ndarray, device: Any) -> Any:
    """``images`` (uint8 N×H×W×C) as a uint8 tensor on ``device``, uploaded once per array and
    device: trials of one study share the copy. Keeps the array alive with its copy."""
    import torch

    key = (id(images), str(device))
    if key not in _UPLOADED:
        if len(_UPLOADED) >= 4:
            _UPLOADED.pop(next(iter(_UPLOADED)))
        if device.type == "cpu":  # the memory map itself: only ever gathered, never written
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "not writable"
                tensor = torch.from_numpy(np.asarray(images))
        else:
            tensor = torch.from_numpy(np.array(images)).to(device)
        _UPLOADED[key] = (images, tensor)
    return _UPLOADED[key][1]


def autocast(device: Any, recipe: Recipe) -> tuple[Any, str]:
    """The autocast context of a run on ``device`` and its precision's name: bf16 on CUDA and
    on CPUs that compute it natively (when the recipe allows bf16), else float32."""
    import torch
    from harness.baselines.cpu import precision

    chosen = precision(device.type) if recipe.bf16 else "fp32"
    context = torch.autocast(device.type, dtype=torch.bfloat16, enabled=chosen == "bf16")
    return context, chosen


def plan_memory(model: Any, x: np.ndarray, recipe: Recipe, device: Any) -> tuple[int, int]:
    """(micro-batch, evaluation chunk) for training ``model`` on ``x`` within the memory this
    run may use (the GPU's free memory on CUDA); a run that cannot fit is refused here, before
    any training."""
    from harness.baselines.cpu import memory_budget
    from harness.baselines.vision.engine.memory import eval_chunk, footprint, micro_batch

    if device.type == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info(device)
        budget, held = int(free * 0.9), 0
    else:
        budget, held = memory_budget(), int(np.asarray(x).nbytes)
    need = footprint(model, int(x.shape[1]), held)
    side = f"{x.shape[1]} px: "
    micro = micro_batch(min(recipe.batch_size, len(x)), need, budget, what=side)
    views = {0: 1, 1: 2}.get(recipe.tta, 6)
    return micro, eval_chunk(need, budget, views=views)


def normalise(batch: Any, dtype: Any) -> Any:
    """uint8 N×H×W×C → float N×C×H×W in channels_last memory (a free permute), standardised."""
    import torch

    x = batch.permute(0, 3, 1, 2).to(dtype).div_(255)
    mean, std = _statistics(x.device, dtype)
    return x.sub_(mean).div_(std).contiguous(memory_format=torch.channels_last)


@functools.cache
def _statistics(device: Any, dtype: Any) -> tuple[Any, Any]:
    """MEAN and STD as 1×3×1×1 tensors on ``device``, made once (no copy to the GPU per step)."""
    import torch

    mean = torch.tensor(MEAN, device=device, dtype=dtype).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=device, dtype=dtype).view(1, 3, 1, 1)
    return mean, std


def augment(batch: Any, recipe: Recipe, generator: Any) -> Any:
    """Per-image random flip, translation and cutout of a uint8 N×H×W×C batch, on its device."""
    import torch
    import torch.nn.functional as F

    n, h, w, _ = batch.shape
    device = batch.device
    if recipe.translate:
        p = recipe.translate
        padded = F.pad(batch.permute(0, 3, 1, 2).float(), (p, p, p, p), mode="reflect")
        padded = padded.to(torch.uint8).permute(0, 2, 3, 1)  # N×(H+2p)×(W+2p)×C
        dy = torch.randint(0, 2 * p + 1, (n,), device=device, generator=generator)
        dx = torch.randint(0, 2 * p + 1, (n,), device=device, generator=generator)
        rows = (dy[:, None] + torch.arange(h, device=device))[:, :, None]
        cols = (dx[:, None] + torch.arange(w, device=device))[:, None, :]
        batch = padded[torch.arange(n, device=device)[:, None, None], rows, cols]
    if recipe.flip:
        flip = torch.rand(n, device=device, generator=generator) < 0.5
        batch = torch.where(flip[:, None, None, None], batch.flip(2), batch)
    if recipe.cutout:
        size = recipe.cutout
        cy = torch.randint(0, h, (n,), device=device, generator=generator)[:, None, None]
        cx = torch.randint(0, w, (n,), device=device, generator=generator)[:, None, None]
        ys = torch.arange(h, device=device)[None, :, None]
        xs = torch.arange(w, device=device)[None, None, :]
        hole = ((ys - cy).abs() <= size // 2) & ((xs - cx).abs() <= size // 2)
        batch = batch.masked_fill(hole[..., None], 0)
    return batch


# ----------------------------------------------------------------------------------------------
# Training
# ----------------------------------------------------------------------------------------------
Report = Callable[[int, np.ndarray], None]  # (epoch, class probabilities on the validation set)


@dataclass
class Trained:
    model: Any  # the network (or its EMA) in eval mode
    recipe: Recipe
    device: Any
    seconds: float  # wall time of training + the final evaluation, CUDA-synchronised
    epochs_run: int
    temperature: float = 1.0
    micro_batch: int = 0  # images per forward pass (the batch when it fits whole)
    eval_chunk: int = 1000  # images per evaluation pass
    precision: str = "fp32"  # "bf16" (autocast) or "fp32"
    plan: Any = None  # the budget's plan (engine.budget.Plan) of a run given --minutes


def train(
    model: Any,
    x: np.ndarray,
    y: np.ndarray,
    recipe: Recipe,
    *,
    device: Any,
    seed: int = 0,
    rows: np.ndarray | None = None,
    valid_rows: np.ndarray | None = None,
    report: Report | None = None,
    progress: Callable[[str], None] | None = None,
    budget: float | None = None,
    spent: float = 0.0,
    final_images: int = 0,
) -> Trained:
    """Train ``model`` on ``x[rows]`` (all rows by default); evaluate on ``x[valid_rows]`` every
    ``recipe.eval_every`` epochs and hand the probabilities to ``report``.

    ``budget``: seconds for the whole run, ``spent`` of them gone before training (start-up),
    ``final_images`` to predict after it: the schedule's length is then set after a warm-up of
    :data:`WARMUP_STEPS` steps (:mod:`baselines.vision.engine.budget`), not by
    ``recipe.epochs``."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    cuda = device.type == "cuda"
    images = on_device(x, device)
    labels = torch.as_tensor(np.asarray(y), dtype=torch.long, device=device)
    train_rows = (
        torch.arange(len(x), device=device)
        if rows is None
        else torch.as_tensor(np.asarray(rows), dtype=torch.long, device=device)
    )
    n = len(train_rows)
    batch_size = min(recipe.batch_size, n)
    steps_per_epoch = max(1, n // batch_size)  # drop the last partial batch: few, fixed shapes
    total_steps = max(1, round(recipe.epochs * steps_per_epoch))
    epochs = math.ceil(total_steps / steps_per_epoch)

    model = model.to(device).to(memory_format=torch.channels_last)
    micro, chunk = plan_memory(model, x, recipe, device)
    net = torch.compile(model) if (recipe.compile and cuda) else model
    optimizer = _optimizer(model, recipe, cuda)
    ema = _ema(model, recipe.ema)
    generator = torch.Generator(device=device)
    generator.manual_seed(seed)
    cast, chosen = autocast(device, recipe)
    if progress is not None and micro < batch_size:
        progress(f"batch {batch_size} as micro-batches of {micro} (memory)")

    if cuda:
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    step = 0
    epochs_run = 0
    timed_from: float | None = None  # after the first step (one-off costs), for a budget
    forward = 0.0  # seconds of one image's forward pass, measured for a budget
    planned: Any = None
    paced_from = (0, 0.0)  # (step, time) the pace of the next re-plan is measured from
    warm_pace = 0.0  # seconds a step in the warm-up, to scale the measured forward pass by
    if budget is not None:
        total_steps, epochs = 10**9, 10**9  # until the warm-up has measured a step
    views = {0: 1, 1: 2}.get(recipe.tta, 6)

    def replan(step_seconds: float, forward_seconds: float) -> Any:
        """The budget's plan from here, at ``step_seconds`` a step (``budget`` is set)."""
        assert budget is not None
        return budget_plan(
            budget=budget,
            elapsed=spent + time.perf_counter() - started,
            steps_done=step,
            step_seconds=step_seconds,
            batch=batch_size,
            steps_per_epoch=steps_per_epoch,
            eval_images=0 if valid_rows is None or report is None else len(valid_rows),
            eval_every=recipe.eval_every,
            final_images=final_images,
            views=views,
            forward_seconds=forward_seconds,
        )

    for epoch in range(10**9):
        if epoch >= epochs:
            break
        model.train()
        perm = train_rows[torch.randperm(n, device=device, generator=generator)]
        for i in range(steps_per_epoch):
            if step >= total_steps:
                break
            index = perm[i * batch_size : (i + 1) * batch_size]
            batch = augment(images[index], recipe, generator)
            multiplier = _schedule(step, total_steps, recipe)
            for group in optimizer.param_groups:
                group["lr"] = group["peak_lr"] * multiplier
            optimizer.zero_grad(set_to_none=True)
            for start in range(0, len(index), micro):  # gradients accumulate over the parts
                part = slice(start, start + micro)
                inputs = normalise(batch[part], torch.float32)
                with cast:
                    loss = F.cross_entropy(
                        net(inputs), labels[index[part]], label_smoothing=recipe.label_smoothing
                    )
                (loss * (len(inputs) / len(index))).backward()
            optimizer.step()
            if ema is not None:
                ema.update_parameters(model)
            step += 1
            if budget is not None and step == 1:
                forward = _time_forward(model, images, train_rows, recipe, cast, chunk)
                level = tta_within(budget, final_images, forward, recipe.tta)
                if level != recipe.tta:  # predictions that would eat the training time
                    recipe = replace(recipe, tta=level)
                    views = VIEWS[level]
                    if progress is not None:
                        progress(f"test-time augmentation {level} to fit {budget / 60:.1f} min")
                timed_from = time.perf_counter()
            # re-planned after each warm-up step: a step that takes a large part of the
            # budget must not wait for the warm-up to end
            if budget is not None and 2 <= step <= WARMUP_STEPS + 1:
                assert timed_from is not None
                planned = replan((time.perf_counter() - timed_from) / (step - 1), forward)
                total_steps = planned.total_steps
                epochs = math.ceil(total_steps / steps_per_epoch)
                paced_from, warm_pace = (step, time.perf_counter()), planned.step_seconds
                if progress is not None and step == WARMUP_STEPS + 1:
                    progress(
                        f"{budget / 60:.1f} min: {planned.epochs:.2f} epochs "
                        f"({planned.step_seconds:.2f} s a step)"
                    )
            elif (
                budget is not None
                and step > WARMUP_STEPS + 1
                and step - paced_from[0] >= max(1, total_steps // REPLANS)
            ):
                pace = (time.perf_counter() - paced_from[1]) / (step - paced_from[0])
                planned = replan(pace, forward * pace / max(warm_pace, 1e-9))  # slowed alike
                if planned.total_steps != total_steps and progress is not None:
                    progress(
                        f"{budget / 60:.1f} min at {pace:.2f} s a step now: "
                        f"{planned.epochs:.2f} epochs"
                    )
                total_steps = planned.total_steps
                epochs = math.ceil(total_steps / steps_per_epoch)
                paced_from = (step, time.perf_counter())
        epochs_run = epoch + 1
        last = step >= total_steps
        if (
            valid_rows is not None
            and report is not None
            and (last or epochs_run % recipe.eval_every == 0)
        ):
            evaluated = ema.module if ema is not None else model
            proba = predict_proba(
                evaluated, x, recipe, device=device, rows=valid_rows, batch_size=chunk
            )
            report(epochs_run, proba)
        if progress is not None:
            progress(f"epoch {epochs_run}/{epochs}  loss {loss.item():.4f}")
        if last:
            break
    final = ema.module if ema is not None else model
    final.eval()
    if cuda:
        torch.cuda.synchronize(device)
    seconds = time.perf_counter() - started
    trained = Trained(final, recipe, device, seconds, epochs_run, 1.0, micro, chunk, chosen)
    trained.plan = planned
    return trained


def _time_forward(
    model: Any, images: Any, rows: Any, recipe: Recipe, cast: Any, chunk: int
) -> float:
    """Seconds of one image's forward pass in evaluation, timed on a chunk of training rows."""
    import torch

    index = rows[: max(1, min(chunk, 256, len(rows)))]
    model.eval()
    with torch.no_grad(), cast:
        inputs = normalise(images[index], torch.float32)
        started = time.perf_counter()
        model(inputs)
        seconds = time.perf_counter() - started
    model.train()
    return seconds / len(index)


def predict_proba(
    model: Any,
    x: np.ndarray,
    recipe: Recipe,
    *,
    device: Any,
    rows: np.ndarray | None = None,
    temperature: float = 1.0,
    batch_size: int = 1000,
) -> np.ndarray:
    """Class probabilities for ``x[rows]`` with the recipe's test-time augmentation."""
    import torch

    logits = predict_logits(model, x, recipe, device=device, rows=rows, batch_size=batch_size)
    return torch.softmax(logits / temperature, dim=1).numpy()


def predict_logits(
    model: Any,
    x: np.ndarray,
    recipe: Recipe,
    *,
    device: Any,
    rows: np.ndarray | None = None,
    batch_size: int = 1000,
) -> Any:
    import torch
    import torch.nn.functional as F

    images = on_device(x, device)
    index = (
        torch.arange(len(x), device=device)
        if rows is None
        else torch.as_tensor(np.asarray(rows), dtype=torch.long, device=device)
    )
    was_training = model.training
    model.eval()
    out = []
    cast, _ = autocast(device, recipe)
    with torch.no_grad(), cast:
        for start in range(0, len(index), batch_size):
            inputs = normalise(images[index[start : start + batch_size]], torch.float32)
            logits = model(inputs).float()
            if recipe.tta >= 1:
                logits = logits + model(inputs.flip(3)).float()
                views = 2
                if recipe.tta >= 2:  # 1-pixel shifts up-left and down-right, both flips
                    padded = F.pad(inputs, (1, 1, 1, 1), mode="reflect")
                    h, w = inputs.shape[2:]
                    for view in (padded[:, :, :h, :w], padded[:, :, 2:, 2:]):
                        view = view.contiguous(memory_format=torch.channels_last)
                        logits = logits + 0.5 * (model(view).float() + model(view.flip(3)).float())
                    views = 3
                logits = logits / views
            out.append(logits.cpu())
    model.train(was_training)
    return torch.cat(out)


def fit_temperature(logits: Any, y: np.ndarray) -> float:
    """The temperature minimising the log loss of ``softmax(logits / T)`` on held-out labels."""
    import torch
    import torch.nn.functional as F

    target = torch.as_tensor(np.asarray(y), dtype=torch.long)
    log_t = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([log_t], lr=0.1, max_iter=100)

    def closure() -> Any:
        optimizer.zero_grad()
        loss = F.cross_entropy(logits / log_t.exp(), target)
        loss.backward()
        return loss

    optimizer.step(closure)
    return float(log_t.detach().exp().clamp(0.05, 20.0))


def _schedule(step: int, total: int, recipe: Recipe) -> float:
    """The learning-rate multiplier at ``step``: piecewise linear, ending at zero."""
    progress = step / total
    if recipe.schedule == "onecycle" and progress < recipe.warmup:
        return 0.1 + 0.9 * progress / recipe.warmup
    start = recipe.warmup if recipe.schedule == "onecycle" else 0.0
    return max(0.0, (1 - progress) / (1 - start))


def _optimizer(model: Any, recipe: Recipe, cuda: bool) -> Any:
    """Nesterov SGD or AdamW, fused on CUDA; no weight decay on norms and biases."""
    import torch

    decay = [p for p in model.parameters() if p.requires_grad and p.ndim > 1]
    rest = [p for p in model.parameters() if p.requires_grad and p.ndim <= 1]
    groups = [
        {"params": decay, "weight_decay": recipe.weight_decay},
        {"params": rest, "weight_decay": 0.0},
    ]
    fused = {"fused": True} if cuda else {}
    optimizer: Any
    if recipe.optimizer == "sgd":
        optimizer = torch.optim.SGD(
            groups, lr=recipe.lr, momentum=recipe.momentum, nesterov=True, **fused
        )
    elif recipe.optimizer == "adamw":
        optimizer = torch.optim.AdamW(
            groups, lr=recipe.lr, betas=(recipe.momentum, 0.999), **fused
        )
    elif recipe.optimizer == "muon":
        from harness.baselines.vision.engine.muon import Muon

        filters = [p for p in decay if p.ndim == 4]
        others = [p for p in decay if p.ndim != 4]
        optimizer = Muon(
            [
                {"params": filters, "lr": recipe.muon_lr, "muon": True},
                {"params": others, "lr": recipe.lr, "muon": False},
                {"params": rest, "lr": recipe.lr, "muon": False, "weight_decay": 0.0},
            ],
            momentum=recipe.momentum,
            weight_decay=recipe.weight_decay,
        )
    else:
        raise HarnessError(f"unknown optimizer '{recipe.optimizer}': expected sgd, adamw or muon")
    for group in optimizer.param_groups:
        group["peak_lr"] = group["lr"]
    return optimizer


def _ema(model: Any, decay: float) -> Any:
    if not decay:
        return None
    from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

    return AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
