"""Weight decay: the optimizer's L2 penalty coefficient lambda, replacing the base value.

SGD with weight decay lambda minimises L(theta) + (lambda/2) ||theta||_2^2: the penalty form of the
constraint ||theta||_2 <= r(lambda), r decreasing (theory T3). Training is exactly the vanilla run
when lambda equals the config's base weight decay (the registry's identity 0 assumes a base of 0).
"""

from __future__ import annotations

from rt_core import Regularizer, RegularizerSpec, Strength, hookimpl


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
