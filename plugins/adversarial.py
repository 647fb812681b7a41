"""Adversarial training: train on PGD examples x' = argmax_{||x'-x|| <= eps} l(h(x'), y).

Defaults: L2 (``norm="linf"`` for Linf), 7 steps, step alpha = 2.5 eps / steps, one random start;
the model is in evaluation mode during the attack and its mode is restored after. To first order
this constrains the input-gradient norm E||grad_x l||_* <= c(eps) (theory T3). eps = 0 is the
identity (the clean batch is returned).
"""

from __future__ import annotations

from rt_core import Bound, Regularizer, RegularizerSpec, Strength, hookimpl


class AdversarialTraining(Regularizer):
    """Replaces each training batch with its PGD adversarial examples at radius eps = strength.

    >>> import torch
    >>> model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4, 2))
    >>> x, y = torch.rand(3, 1, 2, 2), torch.tensor([0, 1, 0])
    >>> xa = AdversarialTraining(0.1, norm="linf", steps=3).perturb(model, x, y, torch.Generator().manual_seed(0))
    >>> bool((xa - x).abs().max() <= 0.1 + 1e-6), model.training  # inside the ball; the mode restored
    (True, True)
    """

    def __init__(self, strength, norm="l2", steps=7, alpha=None, random_start=True):
        if norm not in ("l2", "linf"):
            raise ValueError(f"unknown norm '{norm}'; use l2 or linf")
        super().__init__(strength, norm=norm, steps=int(steps), alpha=alpha,
                         random_start=bool(random_start))

    @property
    def step_size(self) -> float:
        alpha = self.options["alpha"]
        return 2.5 * self.strength / max(1, self.options["steps"]) if alpha is None else float(alpha)

    def perturb(self, model, x, y, generator=None):
        if self.is_identity:
            return x
        from rt_core import pgd  # imports torch: loading the plugin (rt --help) does not

        was_training = model.training
        model.eval()
        try:
            return pgd(model, x, y, eps=self.strength, steps=self.options["steps"],
                       alpha=self.step_size, norm=self.options["norm"],
                       random_start=self.options["random_start"], generator=generator)
        finally:
            model.train(was_training)


def bound():
    """tau <= W1 * L0 / eps (first order).

    To first order the adversarial loss is L + eps E||grad_x l||_*; a constant classifier has zero
    input gradient and loss L0 = ln k, so at the optimum eps E||grad_x l||_* <= L0: the input-gradient
    norm of l . h, which bounds |L_T - L_S| <= E-Lip * W1 under covariate shift (T2)."""
    import sympy as sp

    eps, w1, l0 = sp.symbols("epsilon W1 L0", positive=True)
    return w1 * l0 / eps, eps, {w1: "W1(mu_S, mu_T)", l0: "loss of a constant classifier (ln k)"}


@hookimpl
def rt_register_regularizers(register):
    register(RegularizerSpec(
        name="adversarial", factory=AdversarialTraining,
        strength=Strength("eps", identity=0.0, low=0.0, high=16.0, default=0.25),
        description="PGD adversarial training, L2 by default, 7 steps, alpha = 2.5 eps / steps",
        acts_on="inputs",
        bound=Bound(bound, constrains="E||grad_x loss||_* <= L0 / eps (first order): "
                       "input-gradient norm of g . f", description=bound.__doc__.splitlines()[0]),
    ))
