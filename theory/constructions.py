"""Robustness is neither necessary nor sufficient for transferability (theory T5), runnable.

Inputs x = (u, v, w) in [0,1]^3, label y = 1[v > 1/2] on both domains; the domains differ by a
covariate shift in u only (source u in [0, 0.3], target u in [0.5, 1]); w = 1/2 always.

- Not necessary: f(x) = (v - 1/2) + A sin((w - 1/2) / eta). On the data w = 1/2, so f = v - 1/2 on
  both domains: tau = 0 up to sampling. But an L2 step of eta*pi/2 along w adds A to every feature:
  zero robust accuracy at eps just above eta*pi/2, and perfect transfer.
- Not sufficient: f(x) = (v - 1/2) * clamp((0.5 - u) / delta, 0, 1). Source v keeps a margin
  (|v - 1/2| >= 0.2) and u <= 0.3, so no eps <= min(0.2, 0.2 - delta) perturbation changes a source
  prediction: full robust accuracy. Every target point has u >= 0.5, so f = 0 there: target
  features carry no label information, L*_T = ln 2 and tau is large.
tau is measured as in the engine: test cross-entropy of a linear probe fitted on each domain's
training features; robust accuracy with the engine's PGD (L2, random start, 50 steps).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
from torch import nn

from rt_core import SplitModel, fit_linear_probe, robust_accuracy


class SineFeature(nn.Module):
    """f(u, v, w) = (v - 1/2) + A sin((w - 1/2) / eta)."""

    def __init__(self, amplitude: float, eta: float) -> None:
        super().__init__()
        self.amplitude, self.eta = amplitude, eta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((x[:, 1] - 0.5) + self.amplitude * torch.sin((x[:, 2] - 0.5) / self.eta)).unsqueeze(1)


class GatedFeature(nn.Module):
    """f(u, v, w) = (v - 1/2) * clamp((0.5 - u) / delta, 0, 1)."""

    def __init__(self, delta: float) -> None:
        super().__init__()
        self.delta = delta

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = ((0.5 - x[:, 0]) / self.delta).clamp(0.0, 1.0)
        return ((x[:, 1] - 0.5) * gate).unsqueeze(1)


def _head(scale: float = 1.0) -> nn.Linear:
    """Logits (-scale f, scale f). A large scale would saturate the float32 softmax (p = 1 exactly)
    and zero the cross-entropy gradient: PGD would then be blind, gradient masking, not robustness."""
    head = nn.Linear(1, 2)
    with torch.no_grad():
        head.weight.copy_(torch.tensor([[-scale], [scale]]))
        head.bias.zero_()
    return head


def domain(n: int, u_range: tuple[float, float], margin: float, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n points: u ~ U(u_range), v ~ U([0, 1/2 - margin] or [1/2 + margin, 1]), w = 1/2; y = 1[v > 1/2]."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    side = torch.rand(n, generator=g) * (0.5 - margin)
    v = torch.where(y == 1, 0.5 + margin + side, 0.5 - margin - side)
    u = u_range[0] + (u_range[1] - u_range[0]) * torch.rand(n, generator=g)
    return torch.stack([u, v, torch.full((n,), 0.5)], 1), y


@dataclass
class ConstructionResult:
    name: str
    claim: str
    acc_src: float
    rob_src: float
    acc_tgt: float
    loss_src: float
    loss_tgt: float
    tau: float
    eps: float

    def to_dict(self) -> dict:
        return asdict(self)


def _measure(name: str, claim: str, model: SplitModel, eps: float, n: int, margin: float, seed: int):
    src_tr, src_te = domain(n, (0.0, 0.3), margin, seed), domain(n, (0.0, 0.3), margin, seed + 1)
    tgt_tr, tgt_te = domain(n, (0.5, 1.0), margin, seed + 2), domain(n, (0.5, 1.0), margin, seed + 3)
    model.eval()
    out = {}
    for key, (tr, te) in {"src": (src_tr, src_te), "tgt": (tgt_tr, tgt_te)}.items():
        with torch.no_grad():
            z_tr, z_te = model.features(tr[0]), model.features(te[0])
        probe = fit_linear_probe(z_tr, tr[1], 2, l2=1e-6, max_iter=500)
        with torch.no_grad():
            logits = probe(z_te)
        out[f"loss_{key}"] = nn.functional.cross_entropy(logits, te[1]).item()
        out[f"acc_{key}"] = (logits.argmax(1) == te[1]).float().mean().item() * 100
    rob = robust_accuracy(model, src_te[0], src_te[1], eps=eps, steps=50, alpha=eps / 4, norm="l2",
                          restarts=1, seed=seed)
    return ConstructionResult(name, claim, out["acc_src"], rob, out["acc_tgt"], out["loss_src"],
                              out["loss_tgt"], out["loss_tgt"] - out["loss_src"], eps)


def not_necessary(amplitude: float = 10.0, eta: float = 0.01, n: int = 2000, seed: int = 0) -> ConstructionResult:
    """Perfect transfer (tau ~ 0) with zero robust accuracy at eps = 1.05 eta pi / 2."""
    model = SplitModel(SineFeature(amplitude, eta), _head())
    return _measure("not_necessary", "robustness is not necessary: tau ~ 0, robust accuracy ~ 0", model,
                    eps=1.05 * eta * math.pi / 2, n=n, margin=0.05, seed=seed)


def not_sufficient(delta: float = 0.1, eps: float = 0.1, n: int = 2000, seed: int = 0) -> ConstructionResult:
    """Full robust accuracy on the source at eps, chance accuracy on the target, tau ~ ln 2."""
    model = SplitModel(GatedFeature(delta), _head())
    return _measure("not_sufficient", "robustness is not sufficient: robust accuracy ~ 100%, tau ~ ln 2",
                    model, eps=eps, n=n, margin=0.2, seed=seed)
