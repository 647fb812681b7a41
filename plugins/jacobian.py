"""Jacobian regularization of the feature extractor f (Hoffman et al. 2019, arXiv 1908.02729).

penalty = lambda * mean_x ||J_f(x)||_F^2, J_f(x) = d f(x) / d x, estimated with random projections:
    ||J||_F^2 = C * E_v ||v^T J||_2^2,  v uniform on the unit sphere of R^C (C = feature dim),
one backward pass with create_graph per projection (``projections``, default 1).
Option ``hold`` (default false): the penalty is held at 0 until training has left its initial loss
plateau, read by the trainer's own rule (``rt_core.plateau_step``) on the batch cross-entropies seen
so far: the first n >= w = 10 with mean(c_{n-w+1..n}) < 0.9 * min(mean(c_1..c_w), ln k). From that
batch on the penalty is applied as without the hold (times the trainer's treatment dose); until then
the run is the vanilla run step for step, so its plateau step is vanilla's by construction. With
``ramp_steps`` R > 0 (needs the hold) the penalty is further scaled by min(1, n / R) at the n-th batch
since it came in (the first counts 1): a warm-up of its own that starts when the plateau is left.
Modes: "projection" (default), "exact" (C backward passes, for tests and small C), and
"feature_norm", the released [XU22] code's variant lambda * mean_x ||d ||f(x)||_2 / d x||_2^2.
It constrains E||J_f||_F^2 <= c(lambda): the local Lipschitz constant K (theory T3).
Random directions come from the global torch RNG on the features' device (the trainer seeds it).
"""

from __future__ import annotations

from rt_core import Bound, Regularizer, RegularizerSpec, Strength, hookimpl, lazy, plateau_step

torch = lazy("torch")  # imported on first use: loading the plugin stays cheap

MODES = ("projection", "exact", "feature_norm")


def _input_grad(out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    (g,) = torch.autograd.grad(out, x, create_graph=True)
    return g


def frobenius_projection(features: torch.Tensor, x: torch.Tensor, projections: int = 1) -> torch.Tensor:
    """Unbiased estimate of mean_i ||J_f(x_i)||_F^2 from random unit projections."""
    b, c = features.shape
    total = features.new_zeros(())
    for _ in range(projections):
        v = torch.randn(b, c, device=features.device, dtype=features.dtype)
        v = v / v.norm(dim=1, keepdim=True).clamp_min(1e-12)
        g = _input_grad((v * features).sum(), x)
        total = total + c * g.pow(2).sum() / b
    return total / projections


def frobenius_exact(features: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """mean_i ||J_f(x_i)||_F^2, one backward pass per feature coordinate."""
    b, c = features.shape
    total = features.new_zeros(())
    for k in range(c):
        total = total + _input_grad(features[:, k].sum(), x).pow(2).sum()
    return total / b


def feature_norm_gradient(features: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """mean_i ||d ||f(x_i)||_2 / d x_i||_2^2 (the released [XU22] code's penalty)."""
    g = _input_grad(features.norm(dim=1).sum(), x)
    return g.pow(2).sum() / features.shape[0]


class PlateauWatch:
    """Whether training has left its initial loss plateau, fed one batch's (logits, labels) a step:
    true once ``rt_core.plateau_step`` finds the step in the batch cross-entropies seen so far (so the
    penalty starts at the batch whose step count is that step), and true after."""

    def __init__(self) -> None:
        self.losses: list[float] = []
        self.done = False

    def left(self, logits, y) -> bool:
        if not self.done:
            if y is None:
                raise ValueError("Jacobian hold needs the batch labels to watch the cross-entropy")
            self.losses.append(float(torch.nn.functional.cross_entropy(logits.detach().float(), y)))
            self.done = plateau_step(self.losses, num_classes=logits.shape[1]) is not None
        return self.done


class JacobianRegularizer(Regularizer):
    """lambda * (estimate of) mean ||J_f||_F^2; options ``mode``, ``projections``, ``hold`` and ``ramp_steps``.

    For a linear f(x) = A x the Jacobian is A, so the exact penalty is lambda * ||A||_F^2:

    >>> import torch
    >>> from rt_core import SplitModel
    >>> f = torch.nn.Linear(3, 2, bias=False)
    >>> model, x = SplitModel(f, torch.nn.Linear(2, 2)), torch.rand(4, 3)
    >>> penalty = JacobianRegularizer(0.1, mode="exact").penalty(model, x, None, f(x), None)
    >>> torch.allclose(penalty, 0.1 * f.weight.pow(2).sum())
    True
    """

    needs_input_grad = True

    def __init__(self, strength, mode="projection", projections=1, hold=False, ramp_steps=0):
        if mode not in MODES:
            raise ValueError(f"unknown Jacobian mode '{mode}'; use one of {', '.join(MODES)}")
        if int(projections) < 1:
            raise ValueError("Jacobian regularization needs projections >= 1")
        if not isinstance(hold, bool):
            raise ValueError(f"Jacobian option hold must be true or false, not {hold!r}")
        if int(ramp_steps) < 0 or (int(ramp_steps) > 0 and not hold):
            raise ValueError("Jacobian option ramp_steps must be >= 0, and above 0 only with hold = true")
        super().__init__(strength, mode=mode, projections=int(projections), hold=hold, ramp_steps=int(ramp_steps))
        self.plateau = PlateauWatch() if hold else None
        self.since = 0  # batches penalised since the hold let the penalty in

    def penalty(self, model, x, y, features, logits):
        if self.is_identity:
            return None
        if self.plateau is not None and not self.plateau.left(logits, y):
            return None
        self.since += 1
        ramp = self.options["ramp_steps"]
        scale = min(1.0, self.since / ramp) if ramp else 1.0
        if not x.requires_grad:
            x = x.detach().requires_grad_(True)
            features = model.features(x)
        mode = self.options["mode"]
        if mode == "exact":
            value = frobenius_exact(features, x)
        elif mode == "feature_norm":
            value = feature_norm_gradient(features, x)
        else:
            value = frobenius_projection(features, x, self.options["projections"])
        return self.strength * scale * value


def bound():
    """tau <= rho * B * W1 * sqrt(L0 / lambda).

    A constant feature map has J_f = 0 and loss L0 = ln k, so at the optimum
    lambda E||J_f||_F^2 <= L0: the (mean-square) local Lipschitz constant K <= sqrt(L0 / lambda)
    (spectral norm <= Frobenius norm); then T2."""
    import sympy as sp

    lam, rho, b, w1, l0 = sp.symbols("lambda rho B W1 L0", positive=True)
    expr = rho * b * w1 * sp.sqrt(l0 / lam)
    return expr, lam, {rho: "Lipschitz constant of the loss in the logits", b: "head norm ||g||_2",
                       w1: "W1(mu_S, mu_T)", l0: "loss of a constant model (ln k)"}


@hookimpl
def rt_register_regularizers(register):
    register(RegularizerSpec(
        name="jacobian", factory=JacobianRegularizer,
        strength=Strength("lambda", identity=0.0, low=0.0, high=1e4, default=0.1),
        description="lambda * E||J_f(x)||_F^2, random-projection estimator (Hoffman et al. 2019)",
        acts_on="loss",
        bound=Bound(bound, constrains="E||J_f(x)||_F^2 <= L0 / lambda: local Lipschitz constant K",
                       description=bound.__doc__.splitlines()[0]),
    ))
