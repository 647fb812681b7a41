"""Last-layer norm penalty: lambda * ||W_g||_F on the head's weight matrix.

The penalty form of ||W_g||_F <= c(lambda): it bounds B in the Lipschitz bound rho*B*K*W1 (T2, T3).
lambda = 0 is the identity (no penalty is added).
"""

from __future__ import annotations

from rt_core import Bound, Regularizer, RegularizerSpec, Strength, hookimpl


class LastLayerNorm(Regularizer):
    """penalty = strength * ||head.weight||_F.

    >>> import torch
    >>> from rt_core import SplitModel
    >>> model = SplitModel(torch.nn.Flatten(), torch.nn.Linear(2, 2))
    >>> _ = torch.nn.init.constant_(model.head.weight, 3.0)  # ||W||_F = sqrt(4 * 9) = 6
    >>> float(LastLayerNorm(0.5).penalty(model, None, None, None, None).detach())
    3.0
    """

    def penalty(self, model, x, y, features, logits):
        if self.is_identity:
            return None
        return self.strength * model.head.weight.norm()


def bound():
    """tau <= rho * K * W1 * L0 / lambda.

    A zero head has loss L0 = ln k and no penalty, so at the optimum lambda ||W_g||_F <= L0:
    B <= ||W_g||_F <= L0 / lambda; then T2."""
    import sympy as sp

    lam, rho, k, w1, l0 = sp.symbols("lambda rho K W1 L0", positive=True)
    expr = rho * k * w1 * l0 / lam
    return expr, lam, {rho: "Lipschitz constant of the loss in the logits", k: "Lipschitz constant of f",
                       w1: "W1(mu_S, mu_T)", l0: "loss of the zero head (ln k)"}


@hookimpl
def rt_register_regularizers(register):
    register(RegularizerSpec(
        name="last_layer", factory=LastLayerNorm,
        strength=Strength("lambda", identity=0.0, low=0.0, high=1e3, default=0.01),
        description="lambda * ||W_head||_F penalty on the linear head",
        acts_on="loss",
        bound=Bound(bound, constrains="||W_g||_F <= L0 / lambda: the head norm B",
                       description=bound.__doc__.splitlines()[0]),
    ))
