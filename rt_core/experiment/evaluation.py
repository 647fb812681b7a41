"""Clean and robust evaluation in large batches, model in evaluation mode."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rt_core.experiment.attacks import pgd


def predict(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """Logits of ``model`` on ``x`` (no gradients), batch by batch."""
    model.eval()
    with torch.no_grad():
        return torch.cat([model(x[i:i + batch_size]).float() for i in range(0, len(x), batch_size)])


def accuracy_and_loss(logits: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(accuracy in percent, mean cross-entropy)."""
    acc = (logits.argmax(1) == y).float().mean().item() * 100
    return acc, F.cross_entropy(logits, y).item()


def robust_accuracy(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int,
                    alpha: float | None, norm: str, restarts: int, seed: int, batch_size: int = 512) -> float:
    """Accuracy (percent) on PGD adversarial examples of (x, y), one seeded generator for starts."""
    model.eval()
    g = torch.Generator(device=x.device.type).manual_seed(seed)
    correct = 0
    for i in range(0, len(x), batch_size):
        xb, yb = x[i:i + batch_size], y[i:i + batch_size]
        xa = pgd(model, xb, yb, eps=eps, steps=steps, alpha=alpha, norm=norm, restarts=restarts, generator=g)
        with torch.no_grad():
            correct += (model(xa).argmax(1) == yb).sum().item()
    return 100.0 * correct / max(1, len(x))
