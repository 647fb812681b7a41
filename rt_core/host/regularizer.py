"""The regularizer contract: one class with optional methods, each a no-op by default.

A regularizer may act on
- the inputs: ``perturb(model, x, y, generator)`` returns the batch to train on (adversarial);
- the loss: ``penalty(model, x, y, features, logits)`` returns a scalar added to the loss, or None
  (Jacobian, last-layer norm); ``needs_input_grad`` asks the trainer to run the forward pass with
  ``x.requires_grad_(True)`` so the penalty can differentiate through it without a second forward;
- the optimizer: ``optimizer_settings(base)`` returns the optimizer keyword arguments to use
  (weight decay).
At its identity strength a regularizer must change nothing: training is exactly the vanilla run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rt_core.host.strength_op import StrengthOp

if TYPE_CHECKING:  # torch is imported by whoever calls these methods; importing this module stays cheap
    import torch


class Regularizer(StrengthOp):
    """Base class; override only the methods the regularizer acts through; ``strength``, ``options``,
    ``identity_strength`` and ``is_identity`` come from ``StrengthOp``.

    >>> class ScaleLR(Regularizer):
    ...     def optimizer_settings(self, base):
    ...         return {**base, "lr": base["lr"] * self.strength}
    >>> reg = ScaleLR(0.5)
    >>> reg.optimizer_settings({"lr": 0.1, "momentum": 0.9}), reg.penalty(None, None, None, None, None)
    ({'lr': 0.05, 'momentum': 0.9}, None)
    """

    needs_input_grad: bool = False

    def perturb(self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                generator: torch.Generator | None = None) -> torch.Tensor:
        """Return the inputs to train on (default: ``x`` unchanged)."""
        return x

    def penalty(self, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                features: torch.Tensor, logits: torch.Tensor) -> torch.Tensor | None:
        """Return a scalar added to the training loss, or None for no penalty."""
        return None

    def optimizer_settings(self, base: dict[str, Any]) -> dict[str, Any]:
        """Return the optimizer keyword arguments to use, given the base ones (default: base)."""
        return dict(base)

