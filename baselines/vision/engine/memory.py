"""How much memory a training run takes, measured on the network before it runs, and the batch
split that keeps it inside the budget of :func:`baselines.cpu.memory_budget`.

A network's activations grow with the batch and the image side squared: AirNet at 200 px holds
about 35 MB per image, so the GPU recipe's batch of 1,024 wanted 36 GB on a CPU. The engine
keeps the recipe's batch (what its learning rate is tuned for) and accumulates gradients over
*micro-batches* small enough to fit; a batch the user sets explicitly (``--batch-size``) is run
as it is, or refused before any work with the numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.baselines.cpu import size_text

from harness.errors import HarnessError

#: Training holds each layer's output for the backward pass, its gradient, and the
#: temporaries of the normalisation and activation kernels: about three times the forward
#: outputs (measured on AirNet and EfficientNet-Lite0 on the CPU, bench/RESULTS.md).
TRAIN_FACTOR = 3.0
#: Evaluation frees each output once the next layer has read it; two outputs at a time plus
#: the test-time-augmented views.
EVAL_FACTOR = 1.0
#: Parameters, their gradients and two optimizer states (AdamW, Muon's momentum + buffer).
PARAMETER_COPIES = 4


@dataclass(frozen=True)
class Footprint:
    """What one image costs while training and evaluating, and what does not scale."""

    train_per_image: int  # bytes (an image, or a sequence of a text model)
    eval_per_image: int  # bytes
    fixed: int  # bytes: parameters and optimizer state, the images held in memory


def activation_bytes(model: Any, side: int, *, channels: int = 3) -> int:
    """The bytes of every leaf module's output for one ``side``×``side`` image (float32),
    measured by running two images through ``model`` with forward hooks."""
    import torch

    def run(device: Any) -> Any:
        return model(torch.zeros(2, channels, side, side, device=device))

    return _leaf_output_bytes(model, run)


#: A Transformer layer's attention maps (heads × length² floats a sequence) kept for the
#: backward pass: the scores, their softmax, the dropout's output and its mask. Fused attention
#: kernels make them with no module output, so no hook sees them; they are counted here.
ATTENTION_MAPS_TRAIN = 4
ATTENTION_MAPS_EVAL = 1


def sequence_footprint(model: Any, length: int) -> Footprint:
    """The :class:`Footprint` of fine-tuning a Hugging Face encoder (``model``) on sequences of
    ``length`` tokens: its leaf modules' outputs, measured with hooks on two sequences, plus the
    attention maps its config implies (layers × heads × length², which grow with the square)."""
    import torch

    def run(device: Any) -> Any:
        ids = torch.zeros(2, length, dtype=torch.long, device=device)
        return model(input_ids=ids, attention_mask=torch.ones_like(ids))

    per_sequence = _leaf_output_bytes(model, run)
    config = getattr(model, "config", None)
    layers = int(getattr(config, "num_hidden_layers", 0) or 0)
    heads = int(getattr(config, "num_attention_heads", 0) or 0)
    maps = layers * heads * length * length * 4
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    return Footprint(
        train_per_image=int(per_sequence * TRAIN_FACTOR + maps * ATTENTION_MAPS_TRAIN),
        eval_per_image=int(per_sequence * EVAL_FACTOR + maps * ATTENTION_MAPS_EVAL),
        fixed=params * PARAMETER_COPIES,
    )


def _leaf_output_bytes(model: Any, run: Any) -> int:
    """The bytes of every leaf module's output while ``run(device)`` passes two examples
    through ``model`` (in evaluation mode, without gradients), for one example."""
    import torch

    total = [0]

    def count(module: Any, inputs: Any, output: Any) -> None:
        if isinstance(output, torch.Tensor):
            total[0] += output.numel() * 4

    hooks = [m.register_forward_hook(count) for m in model.modules() if not list(m.children())]
    device = next(iter(model.parameters())).device
    was_training = model.training
    try:
        model.eval()
        with torch.no_grad():
            run(device)
    finally:
        for hook in hooks:
            hook.remove()
        model.train(was_training)
    return total[0] // 2


def footprint(model: Any, side: int, data_bytes: int) -> Footprint:
    """The :class:`Footprint` of training ``model`` on ``side`` px images, ``data_bytes`` of
    which the run holds in memory."""
    per_image = activation_bytes(model, side)
    params = sum(p.numel() * p.element_size() for p in model.parameters())
    return Footprint(
        train_per_image=int(per_image * TRAIN_FACTOR),
        eval_per_image=int(per_image * EVAL_FACTOR),
        fixed=params * PARAMETER_COPIES + data_bytes,
    )


def micro_batch(
    batch: int,
    need: Footprint,
    budget: int,
    *,
    explicit: bool = False,
    what: str = "",
    unit: str = "image",
    smaller: str = "a smaller --image-size",
) -> int:
    """The largest micro-batch (at most ``batch``) whose training fits ``budget`` bytes. An
    ``explicit`` batch must fit whole; one that cannot, or a run whose fixed part leaves no
    room for even one ``unit`` (an image, a sequence), is refused with the numbers."""
    room = budget - need.fixed
    fits = max(0, room // max(1, need.train_per_image))
    if fits >= batch:
        return batch
    wanted = need.fixed + batch * need.train_per_image
    numbers = (
        f"{what}batch {batch} needs about {size_text(wanted)} "
        f"({size_text(need.train_per_image)} a{'n' if unit[0] in 'aeiou' else ''} {unit} × "
        f"{batch} + {size_text(need.fixed)} of weights and data), and this run may use "
        f"{size_text(budget)}"
    )
    if fits < 1:
        raise HarnessError(f"{numbers}: not even one {unit} fits; use {smaller}, or free memory")
    if explicit:
        raise HarnessError(f"{numbers}: use --batch-size {fits} or less")
    return int(fits)


def eval_chunk(need: Footprint, budget: int, *, views: int = 1, most: int = 1000) -> int:
    """Images per evaluation chunk: at most ``most``, within ``budget`` for ``views`` views."""
    room = budget - need.fixed
    return int(max(1, min(most, room // max(1, need.eval_per_image * max(1, views)))))
