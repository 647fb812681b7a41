"""Clean and robust evaluation in large batches, model in evaluation mode."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rt_core.experiment.attacks import pgd


def predict_logits(model: torch.nn.Module, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
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
    """Accuracy (percent) on PGD adversarial examples of (x, y), one seeded generator for starts.

    One pixel, class 1 when it is above 0.5: at eps = 0 the clean accuracy, then the images closer to
    0.5 than eps are lost:

    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(1, 2))
    >>> with torch.no_grad():
    ...     _ = model[1].weight.copy_(torch.tensor([[-1.0], [1.0]])), model[1].bias.copy_(torch.tensor([0.5, -0.5]))
    >>> x, y = torch.tensor([0.1, 0.3, 0.7, 0.9]).view(4, 1, 1, 1), torch.tensor([0, 0, 1, 1])
    >>> tuple(robust_accuracy(model, x, y, eps, 5, None, "linf", 1, seed=0) for eps in (0.0, 0.3, 0.5))
    (100.0, 50.0, 0.0)
    """
    model.eval()
    g = torch.Generator(device=x.device.type).manual_seed(seed)
    correct = 0
    for i in range(0, len(x), batch_size):
        xb, yb = x[i:i + batch_size], y[i:i + batch_size]
        xa = pgd(model, xb, yb, eps=eps, steps=steps, alpha=alpha, norm=norm, restarts=restarts, generator=g)
        with torch.no_grad():
            correct += (model(xa).argmax(1) == yb).sum().item()
    return 100.0 * correct / max(1, len(x))
