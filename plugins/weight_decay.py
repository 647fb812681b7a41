"""Weight decay: the optimizer's L2 penalty coefficient lambda, replacing the base value.

SGD with weight decay lambda minimises L(theta) + (lambda/2) ||theta||_2^2: the penalty form of the
constraint ||theta||_2 <= r(lambda), r decreasing (theory T3). Training is exactly the vanilla run
when lambda equals the config's base weight decay (the registry's identity 0 assumes a base of 0).
"""

from __future__ import annotations

from rt_core import BoundSpec, Regularizer, RegularizerSpec, Strength, hookimpl


class WeightDecay(Regularizer):
    """Sets ``weight_decay`` = strength in the optimizer's keyword arguments."""

    def optimizer_settings(self, base):
        return {**base, "weight_decay": self.strength}


@hookimpl
def rt_register_regularizers(register):
    register(RegularizerSpec(
        name="weight_decay", factory=WeightDecay,
        strength=Strength("lambda", identity=0.0, low=0.0, high=1.0, default=5e-4),
        description="optimizer weight decay lambda (replaces the base value)",
        acts_on="optimizer", needs_model=False,
    ))


def bound():
    """tau <= rho * W1 * (2 L0 / (lambda D))^(D/2).

    At the optimum, (lambda/2)||theta||^2 <= L(0) <= L0 (zero weights give the chance loss L0 = ln k),
    so ||theta||_2 <= sqrt(2 L0 / lambda); the product of D layer norms is at most
    (||theta||_2^2 / D)^(D/2) (AM-GM) and bounds Lip(g . f); then T2 with B K <= that product."""
    import sympy as sp

    lam, rho, w1, l0, depth = sp.symbols("lambda rho W1 L0 D", positive=True)
    expr = rho * w1 * (2 * l0 / (lam * depth)) ** (depth / 2)
    return expr, lam, {rho: "Lipschitz constant of the loss in the logits", w1: "W1(mu_S, mu_T)",
                       l0: "loss of the zero model (ln k)", depth: "number of weight layers"}


@hookimpl
def rt_register_bounds(register):
    register(BoundSpec("weight_decay", bound, constrains="||theta||_2 <= sqrt(2 L0 / lambda): product of layer "
                       "norms, hence Lip(g . f)", description=bound.__doc__.splitlines()[0]))
