"""Transfer to the target domain: a fresh head on frozen features, or full fine-tuning.

``linear_probe`` (default): extract f(x) once, standardise with the train statistics, and fit a
multinomial logistic regression min_{W,b} mean CE(W z + b, y) + l2 ||W||_F^2 by full-batch L-BFGS
(strong Wolfe line search). ``finetune``: a fresh head, all parameters trained by SGD with
batch-norm statistics frozen (what the released [XU22] code does).
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn


def extract_features(model, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
    """f(x) for every row of x, in evaluation mode, no gradients, float32."""
    model.eval()
    with torch.no_grad():
        return torch.cat([model.features(x[i:i + batch_size]).float() for i in range(0, len(x), batch_size)])


class LinearProbe(nn.Module):
    """z -> W (z - mean) / std + b, the statistics frozen from the training features."""

    def __init__(self, mean: torch.Tensor, std: torch.Tensor, num_classes: int) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.linear = nn.Linear(mean.numel(), num_classes)
        nn.init.zeros_(self.linear.weight)
        nn.init.zeros_(self.linear.bias)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.linear((z - self.mean) / self.std)


def fit_linear_probe(z: torch.Tensor, y: torch.Tensor, num_classes: int, l2: float = 1e-4,
                     max_iter: int = 200, tol: float = 1e-9) -> LinearProbe:
    """Fit a LinearProbe on features z by L-BFGS; the objective is convex, so this is its optimum."""
    z = z.double()
    probe = LinearProbe(z.mean(0), z.std(0).clamp_min(1e-6), num_classes).double().to(z.device)
    opt = torch.optim.LBFGS(probe.parameters(), lr=1, max_iter=max_iter, tolerance_grad=tol,
                            tolerance_change=tol * 1e-3, history_size=20, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(probe(z), y) + l2 * probe.linear.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return probe.float()


def _freeze_batchnorm(model: nn.Module) -> None:
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def finetune(model, x: torch.Tensor, y: torch.Tensor, num_classes: int, cfg, generator: torch.Generator):
    """A copy of ``model`` with a fresh head, all parameters trained by SGD; BN statistics frozen."""
    tuned = copy.deepcopy(model)
    tuned.head = nn.Linear(tuned.head.in_features, num_classes).to(x.device)
    opt = torch.optim.SGD(tuned.parameters(), lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=list(cfg.milestones), gamma=0.1)
    for _ in range(cfg.epochs):
        tuned.train()
        _freeze_batchnorm(tuned)
        order = torch.randperm(len(x), generator=generator, device=generator.device).to(x.device)
        for i in range(0, len(x), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            loss = F.cross_entropy(tuned(x[idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        sched.step()
    return tuned.eval()
