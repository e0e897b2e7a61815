"""Muon for convolutional networks (after the published description: Jordan et al. 2024, as
used by the fast CIFAR-10 speedruns). Our implementation.

Nesterov momentum whose update, for groups marked ``muon``, is orthogonalised per filter bank
(weights flattened to out × in·k·k, singular values pushed towards 1 by a Newton–Schulz
iteration) and scaled by √max(1, out/in); plain Nesterov SGD for the other groups (heads, norms,
biases). Weight decay is decoupled: ``p *= 1 - lr·wd`` before each update.
"""

from __future__ import annotations

from typing import Any

import torch


def orthogonalise(g: torch.Tensor, steps: int = 5) -> torch.Tensor:
    """An approximately orthogonal matrix with ``g``'s singular vectors (rows × columns), by a
    quintic Newton–Schulz iteration with the coefficients published with Muon."""
    a, b, c = 3.4445, -4.7750, 2.0315
    x = g / (g.norm() + 1e-7)
    wide = x.shape[0] <= x.shape[1]
    if not wide:
        x = x.T
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x if wide else x.T


class Muon(torch.optim.Optimizer):
    def __init__(self, groups: Any, momentum: float, weight_decay: float) -> None:
        super().__init__(groups, {"momentum": momentum, "weight_decay": weight_decay})

    @torch.no_grad()
    def step(self, closure: Any = None) -> None:  # type: ignore[override]
        for group in self.param_groups:
            lr, beta, wd = group["lr"], group["momentum"], group["weight_decay"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "buffer" not in state:
                    state["buffer"] = torch.zeros_like(p)
                buffer = state["buffer"].mul_(beta).add_(p.grad)
                update = p.grad.add(buffer, alpha=beta)  # Nesterov
                if wd:
                    p.mul_(1 - lr * wd)
                if group["muon"]:
                    flat = update.reshape(len(update), -1).float()
                    scale = max(1.0, flat.shape[0] / flat.shape[1]) ** 0.5
                    update = orthogonalise(flat).reshape(p.shape).to(p.dtype) * scale
                p.add_(update, alpha=-lr)
