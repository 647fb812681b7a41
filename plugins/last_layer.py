"""Last-layer norm penalty: lambda * ||W_g||_F on the head's weight matrix.

The penalty form of ||W_g||_F <= c(lambda): it bounds B in the Lipschitz bound rho*B*K*W1 (T2, T3).
lambda = 0 is the identity (no penalty is added).
"""

from __future__ import annotations

from rt_core import Regularizer, RegularizerSpec, Strength, hookimpl


class LastLayerNorm(Regularizer):
    """penalty = strength * ||head.weight||_F."""

    def penalty(self, model, x, y, features, logits):
        if self.is_identity:
            return None
        return self.strength * model.head.weight.norm()


@hookimpl
def rt_register_regularizers(register):
    register(RegularizerSpec(
        name="last_layer", factory=LastLayerNorm,
        strength=Strength("lambda", identity=0.0, low=0.0, high=1e3, default=0.01),
        description="lambda * ||W_head||_F penalty on the linear head",
        acts_on="loss", needs_model=True,
    ))
