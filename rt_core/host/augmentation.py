"""The augmentation contract.

An augmentation maps a batch ``x`` of shape (B, C, H, W), values in [0,1], to a batch of the same
shape, dtype and device. Parameter sampling is separate from the pure functional op:

    params = aug.sample(x, generator)   # random, seeded by an explicit torch.Generator
    y = aug.apply(x, params)            # pure and deterministic: replaying params replays y

``aug.instance(params)`` freezes one sampled instance as a plain function of the images; that
replayable instance is what the theory module analyses (is it linear? a contraction?).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from rt_core.host.strength_op import StrengthOp

if TYPE_CHECKING:  # torch is imported where it is used, so importing this module (and plugins) stays cheap
    import torch

Params = dict[str, "torch.Tensor"]


class Augmentation(StrengthOp):
    """Base class: subclasses implement ``sample_params`` and ``apply``; ``strength``, ``options``,
    ``identity_strength`` and ``is_identity`` come from ``StrengthOp`` (at the identity strength the
    op short-circuits and leaves every image unchanged).
    """

    def sample(self, x: torch.Tensor, generator: torch.Generator | None = None) -> Params:
        """Sample the parameters of one instance per image of ``x`` (only its shape is read)."""
        return self.sample_params(x.shape[0], tuple(x.shape[1:]), generator)

    def sample_params(self, batch: int, image_shape: tuple, generator: torch.Generator | None) -> Params:
        return {}

    def apply(self, x: torch.Tensor, params: Params) -> torch.Tensor:
        raise NotImplementedError

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.is_identity:
            return x
        return self.apply(x, self.sample(x, generator))

    def instance(self, params: Params) -> Callable[[torch.Tensor], torch.Tensor]:
        """The sampled instance as a function of images: ``lambda x: self.apply(x, params)``."""
        if self.is_identity:
            return lambda x: x
        return lambda x: self.apply(x, params)



def uniform(batch: int, low: float, high: float, generator: torch.Generator | None) -> torch.Tensor:
    """``batch`` floats uniform in [low, high], drawn on the generator's device (CPU by default)."""
    import torch

    device = generator.device if generator is not None else "cpu"
    u = torch.rand(batch, generator=generator, device=device, dtype=torch.float64)
    return (low + (high - low) * u).float()
