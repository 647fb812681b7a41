"""Projected gradient descent (PGD) attacks in L2 and Linf, batched, on any device.

For each example, maximise the cross-entropy loss over perturbations delta with ||delta|| <= eps
and x + delta in [0,1]:
    L2:   delta <- Proj(delta + alpha * g / ||g||_2),   Proj(d) = d * min(1, eps / ||d||_2)
    Linf: delta <- Proj(delta + alpha * sign(g)),       Proj(d) = clamp(d, -eps, eps)
then delta <- clamp(x + delta, 0, 1) - x. Gradients are taken with respect to delta only (no
parameter gradients). A zero gradient gives a zero step (no division by zero). With restarts,
each example keeps its worst case: misclassified beats correct, then the higher loss.
The caller chooses the model's mode (evaluation: ``model.eval()``).
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F

NORMS = ("l2", "linf")


def _per_example_norm(t: torch.Tensor) -> torch.Tensor:
    return t.flatten(1).norm(dim=1).view(-1, *([1] * (t.dim() - 1)))


def _random_start(x: torch.Tensor, eps: float, norm: str, generator: torch.Generator | None) -> torch.Tensor:
    """Uniform in the eps-ball: Linf per coordinate; L2 direction ~ N(0,I) with radius eps*u^(1/n)."""
    device = generator.device if generator is not None else x.device
    if norm == "linf":
        u = torch.rand(x.shape, generator=generator, device=device)
        return ((2 * u - 1) * eps).to(x.device, x.dtype)
    direction = torch.randn(x.shape, generator=generator, device=device).to(x.device, x.dtype)
    direction = direction / _per_example_norm(direction).clamp_min(1e-12)
    n = x[0].numel()
    radius = torch.rand(x.shape[0], generator=generator, device=device).to(x.device, x.dtype) ** (1.0 / n)
    return direction * (eps * radius).view(-1, *([1] * (x.dim() - 1)))


def _step(delta: torch.Tensor, grad: torch.Tensor, alpha: float, norm: str) -> torch.Tensor:
    if norm == "linf":
        return delta + alpha * grad.sign()
    return delta + alpha * grad / _per_example_norm(grad).clamp_min(1e-12)


def project(delta: torch.Tensor, eps: float, norm: str) -> torch.Tensor:
    """Project each example's perturbation onto the eps-ball of the norm.

    >>> import torch
    >>> delta = torch.tensor([[3.0, 4.0], [0.3, 0.0]]).view(2, 1, 1, 2)  # L2 norms 5 and 0.3
    >>> l2, linf = project(delta, 1.0, "l2").flatten(1), project(delta, 1.0, "linf").flatten(1)
    >>> torch.allclose(l2, torch.tensor([[0.6, 0.8], [0.3, 0]])), torch.allclose(linf, torch.tensor([[1, 1], [0.3, 0]]))
    (True, True)
    """
    if norm == "linf":
        return delta.clamp(-eps, eps)
    scale = (eps / _per_example_norm(delta).clamp_min(1e-12)).clamp(max=1.0)
    return delta * scale


def _attack_once(model, x, y, eps, steps, alpha, norm, random_start, generator) -> torch.Tensor:
    delta = _random_start(x, eps, norm, generator) if random_start else torch.zeros_like(x)
    delta = (x + delta).clamp(0, 1) - x
    for _ in range(steps):
        delta.requires_grad_(True)
        loss = F.cross_entropy(model(x + delta), y, reduction="sum")
        (grad,) = torch.autograd.grad(loss, delta)
        delta = project(_step(delta.detach(), grad, alpha, norm), eps, norm)
        delta = (x + delta).clamp(0, 1) - x
    return (x + delta).detach()


def _score(model, x_adv: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        logits = model(x_adv)
        loss = F.cross_entropy(logits, y, reduction="none").float()
        wrong = (logits.argmax(1) != y).float()
    return wrong * 1e6 + loss


def pgd(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, eps: float, steps: int = 20,
        alpha: float | None = None, norm: str = "l2", random_start: bool = True, restarts: int = 1,
        generator: torch.Generator | None = None) -> torch.Tensor:
    """Return adversarial examples for (x, y); ``alpha`` defaults to eps/4. eps = 0 returns x.

    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    >>> x, y = torch.rand(3, 1, 2, 2), torch.tensor([0, 1, 0])
    >>> xa = pgd(model, x, y, eps=0.1, steps=3, norm="linf", generator=torch.Generator().manual_seed(0))
    >>> bool((xa - x).abs().max() <= 0.1 + 1e-6), bool(((xa >= 0) & (xa <= 1)).all())
    (True, True)
    >>> torch.equal(pgd(model, x, y, eps=0.0), x)
    True
    """
    if norm not in NORMS:
        raise ValueError(f"unknown norm '{norm}'; use one of {', '.join(NORMS)}")
    if eps < 0 or steps < 0 or restarts < 1:
        raise ValueError("PGD needs eps >= 0, steps >= 0 and restarts >= 1")
    if eps == 0:
        return x
    alpha = eps / 4 if alpha is None else alpha
    if x.dim() == 4:  # NHWC convolutions (oneDNN, cuDNN) run the attack's passes faster
        x = x.contiguous(memory_format=torch.channels_last)
    with frozen_parameters(model):
        return _attack(model, x, y, eps, steps, alpha, norm, random_start, restarts, generator)


@contextmanager
def frozen_parameters(model: torch.nn.Module):
    """Parameters stop requiring grad inside the block (restored after): the attack's graph then
    holds no weight-gradient paths, which saves their saved activations and time."""
    params = [p for p in model.parameters() if p.requires_grad]
    for p in params:
        p.requires_grad_(False)
    try:
        yield
    finally:
        for p in params:
            p.requires_grad_(True)


def _attack(model, x, y, eps, steps, alpha, norm, random_start, restarts, generator) -> torch.Tensor:
    best = _attack_once(model, x, y, eps, steps, alpha, norm, random_start, generator)
    if restarts == 1:
        return best
    best_score = _score(model, best, y)
    for _ in range(restarts - 1):
        cand = _attack_once(model, x, y, eps, steps, alpha, norm, random_start, generator)
        score = _score(model, cand, y)
        better = score > best_score
        best = torch.where(better.view(-1, *([1] * (x.dim() - 1))), cand, best)
        best_score = torch.maximum(score, best_score)
    return best
