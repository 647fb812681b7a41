"""Weight decay: lambda added to the config's base weight decay lambda_0 in the optimizer.

SGD with weight decay lambda_0 + lambda minimises L(theta) + ((lambda_0 + lambda)/2) ||theta||_2^2:
the penalty form of the constraint ||theta||_2 <= r(lambda), r decreasing (theory T3). At lambda = 0
training is exactly the vanilla run, whatever the base.
"""

from __future__ import annotations

from rt_core import Bound, Regularizer, RegularizerSpec, Strength, hookimpl


class WeightDecay(Regularizer):
    """Adds the strength to the base ``weight_decay`` of the optimizer's keyword arguments.

    >>> WeightDecay(1e-3).optimizer_settings({"lr": 0.1, "momentum": 0.9, "weight_decay": 5e-4})
    {'lr': 0.1, 'momentum': 0.9, 'weight_decay': 0.0015}
    >>> WeightDecay(0.0).optimizer_settings({"lr": 0.1})  # the identity strength changes nothing
    {'lr': 0.1}
    """

    def optimizer_settings(self, base):
        if self.is_identity:
            return dict(base)
        return {**base, "weight_decay": base.get("weight_decay", 0.0) + self.strength}


def bound():
    """tau <= rho * W1 * (2 L0 / ((lambda_0 + lambda) D))^(D/2).

    With total decay c = lambda_0 + lambda, at the optimum (c/2)||theta||^2 <= L(0) <= L0 (zero
    weights give the chance loss L0 = ln k), so ||theta||_2 <= sqrt(2 L0 / c); the product of D layer norms is at most
    (||theta||_2^2 / D)^(D/2) (AM-GM) and bounds Lip(g . f); then T2 with B K <= that product."""
    import sympy as sp

    lam, lam0, rho, w1, l0, depth = sp.symbols("lambda lambda_0 rho W1 L0 D", positive=True)
    expr = rho * w1 * (2 * l0 / ((lam0 + lam) * depth)) ** (depth / 2)
    return expr, lam, {rho: "Lipschitz constant of the loss in the logits", w1: "W1(mu_S, mu_T)",
                       l0: "loss of the zero model (ln k)", depth: "number of weight layers",
                       lam0: "the config's base weight decay (a base of 0 is the limit lambda_0 -> 0)"}


@hookimpl
def rt_register_regularizers(register):
    register(RegularizerSpec(
        name="weight_decay", factory=WeightDecay,
        strength=Strength("lambda", identity=0.0, low=0.0, high=1.0, default=5e-4),
        description="weight decay lambda added to the base weight decay of the optimizer",
        acts_on="optimizer",
        bound=Bound(bound, constrains="||theta||_2 <= sqrt(2 L0 / (lambda_0 + lambda)): product of layer "
                       "norms, hence Lip(g . f)", description=bound.__doc__.splitlines()[0]),
    ))
