"""Do the bounds hold? Train small models on a synthetic covariate shift where T2's assumptions hold
by construction, and compare the measured tau with the bound computed from measured constants
(as PEPit compares each computed bound with its theorem).

The pair: x_S uniform on [0.1, 0.6]^d (images of shape (1, 1, d)), x_T = x_S + v with v = 0.3 * 1,
labels y = 1[x_0 > x_1] on both (one labelling function, shifted input marginal: covariate shift;
the shift keeps x_0 - x_1, so the classes stay balanced). W1 between the two empirical marginals is
exactly ||v||_2 (the translation coupling gives <=, the 1-Lipschitz test function v.x/||v|| gives >=).
Heads range over ||W_g||_F <= 1 (T2's ||g|| <= B). For a trained f: g_S = the head fitted on source
features, L*_S = L_S(g_S); g_T fitted on target features from g_S; tau = min(L_T(g_T), L_T(g_S)) - L*_S.
Then, for cross-entropy (rho = sqrt 2 in
the logits), tau <= L_T(g_S . f) - L_S(g_S . f) <= rho B K W1 (T2) with the measured
B = ||W_{g_S}||_2 and K = prod_i ||W_i||_2 (ReLU is 1-Lipschitz): ``bound``; ``tightness`` =
bound / tau. The registered bound (its symbols replaced by these measured constants, L0 = ln 2,
D = number of weight layers) is reported beside it. The quantity each regularizer constrains (T3)
is measured on the source model: ||theta||_2, E||J_f||_F^2, ||W_g||_F, E||grad_x loss||_2.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from rt_core import SplitModel, create_regularizer
from theory.bounds import bound_expression

GRIDS = {"weight_decay": (0.0, 1e-3, 1e-2, 5e-2), "jacobian": (0.0, 0.01, 0.1, 1.0),
         "last_layer": (0.0, 0.03, 0.1, 0.3), "adversarial": (0.0, 0.05, 0.1, 0.2)}
RHO = math.sqrt(2.0)  # ||softmax(z) - e_y||_2 <= sqrt(2): cross-entropy is sqrt(2)-Lipschitz in z
SHIFT = 0.3
LR = 0.05
HEAD_NORM = 1.0


@dataclass
class HoldsRow:
    regularizer: str
    strength: float
    constrained: float
    tau: float
    bound: float
    tightness: float
    registered_bound: float
    B: float
    K: float
    W1: float
    acc_src: float

    def to_dict(self) -> dict:
        return asdict(self)


def covariate_shift_pair(n: int = 256, d: int = 8, seed: int = 0) -> tuple:
    """(x_S, x_T, y, W1): x_T = x_S + 0.3 * 1, y = 1[x_0 > x_1], W1 = 0.3 sqrt(d)."""
    g = torch.Generator().manual_seed(seed)
    xs = 0.1 + 0.5 * torch.rand(n, 1, 1, d, generator=g)
    y = (xs[..., 0] > xs[..., 1]).long().view(n)
    return xs, xs + SHIFT, y, SHIFT * math.sqrt(d)


def small_model(d: int = 8, width: int = 32, features: int = 16, seed: int = 0) -> SplitModel:
    """f = Flatten, Linear d->width, ReLU, Linear width->features, ReLU; g = Linear features->2."""
    torch.manual_seed(seed)
    f = nn.Sequential(nn.Flatten(), nn.Linear(d, width), nn.ReLU(), nn.Linear(width, features), nn.ReLU())
    return SplitModel(f, nn.Linear(features, 2))


def train_small_model(name: str, strength: float, xs: torch.Tensor, y: torch.Tensor, steps: int = 150,
                 seed: int = 0) -> SplitModel:
    """Full-batch SGD (lr LR, momentum 0.9) on cross-entropy with regularizer ``name`` at ``strength``."""
    model, reg = small_model(xs.shape[-1], seed=seed), create_regularizer(name, strength)
    opt = torch.optim.SGD(model.parameters(), **reg.optimizer_settings({"lr": LR, "momentum": 0.9,
                                                                        "weight_decay": 0.0}))
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        x = reg.perturb(model, xs, y, g)
        if reg.needs_input_grad:
            x = x.detach().requires_grad_(True)
        feats = model.features(x)
        logits = model.head(feats)
        loss = F.cross_entropy(logits, y)
        penalty = reg.penalty(model, x, y, feats, logits)
        opt.zero_grad()
        (loss if penalty is None else loss + penalty).backward()
        opt.step()
    return model


def fit_head(z: torch.Tensor, y: torch.Tensor, start: nn.Linear | None = None, steps: int = 300) -> nn.Linear:
    """argmin over heads with ||W_g||_F <= HEAD_NORM of mean CE(g(z), y): projected full-batch gradient
    descent (Adam, lr 0.05), from ``start`` or zero."""
    head = nn.Linear(z.shape[1], 2)
    with torch.no_grad():
        for p in head.parameters():
            p.zero_()
        for p, q in zip(head.parameters(), start.parameters() if start else [], strict=False):
            p.copy_(q)
    opt = torch.optim.Adam(head.parameters(), lr=0.05)
    for _ in range(steps):
        opt.zero_grad()
        F.cross_entropy(head(z), y).backward()
        opt.step()
        with torch.no_grad():
            head.weight.mul_(HEAD_NORM / head.weight.norm().clamp_min(HEAD_NORM))
    return head


def _ce(head: nn.Linear, z: torch.Tensor, y: torch.Tensor) -> float:
    with torch.no_grad():
        return float(F.cross_entropy(head(z), y))


def lipschitz_upper(model: SplitModel) -> float:
    """prod of the spectral norms of f's linear layers: an upper bound on Lip(f) (ReLU 1-Lipschitz)."""
    norms = [torch.linalg.matrix_norm(m.weight.detach(), 2) for m in model.features.modules()
             if isinstance(m, nn.Linear)]
    return float(torch.stack(norms).prod())


def constrained_quantity(name: str, model: SplitModel, xs: torch.Tensor, y: torch.Tensor) -> float:
    """The T3 quantity: ||theta||_2, E||J_f||_F^2 (exact), ||W_g||_F or E||grad_x CE||_2."""
    if name == "weight_decay":
        return float(torch.cat([p.detach().ravel() for p in model.parameters()]).norm())
    if name == "last_layer":
        return float(model.head.weight.detach().norm())
    x = xs.clone().requires_grad_(True)
    if name == "adversarial":
        (grad,) = torch.autograd.grad(F.cross_entropy(model(x), y, reduction="sum"), x)
        return float(grad.flatten(1).norm(dim=1).mean())
    feats = model.features(x)
    total = sum(torch.autograd.grad(feats[:, k].sum(), x, retain_graph=True)[0].pow(2).sum()
                for k in range(feats.shape[1]))
    return float(total / len(xs))


def registered_bound(name: str, strength: float, constants: dict) -> float:
    """The registered bound with its symbols replaced by measured constants (inf at strength 0)."""
    if strength == 0:
        return math.inf
    expr, symbol, _ = bound_expression(name)
    values = {s: constants[str(s)] for s in expr.free_symbols if str(s) in constants}
    return float(expr.subs(values).subs(symbol, strength))


def check_holds(name: str, strength: float, n: int = 256, d: int = 8, steps: int = 150, seed: int = 0) -> HoldsRow:
    """Train at ``strength`` on the synthetic pair; measure tau, the T2 bound and the constrained quantity."""
    xs, xt, y, w1 = covariate_shift_pair(n, d, seed)
    model = train_small_model(name, strength, xs, y, steps, seed)
    with torch.no_grad():
        zs, zt = model.features(xs), model.features(xt)
    g_s = fit_head(zs, y)
    g_t = fit_head(zt, y, start=g_s)
    loss_s = _ce(g_s, zs, y)
    tau = min(_ce(g_t, zt, y), _ce(g_s, zt, y)) - loss_s
    b, k = float(torch.linalg.matrix_norm(g_s.weight.detach(), 2)), lipschitz_upper(model)
    bound = RHO * b * k * w1
    consts = {"rho": RHO, "W1": w1, "L0": math.log(2), "B": b, "K": k, "D": 3, "lambda_0": 0.0}  # base decay 0 here
    with torch.no_grad():
        acc = float((g_s(zs).argmax(1) == y).float().mean() * 100)
    return HoldsRow(name, strength, constrained_quantity(name, model, xs, y), tau, bound,
                    bound / tau if tau > 0 else math.inf, registered_bound(name, strength, consts), b, k, w1, acc)


def holds_table(grids: dict | None = None, **kwargs) -> list[HoldsRow]:
    """check_holds for every regularizer and strength of ``grids`` (default GRIDS)."""
    return [check_holds(name, s, **kwargs) for name, strengths in (grids or GRIDS).items() for s in strengths]
