"""The augmentation contract.

An augmentation maps a batch ``x`` of shape (B, C, H, W), values in [0,1], to a batch of the same
shape, dtype and device. Parameter sampling is separate from the pure functional op:

    params = aug.sample(x, generator)   # random, seeded by an explicit torch.Generator
    y = aug.apply(x, params)            # pure and deterministic: replaying params replays y

``aug.instance(params)`` freezes one sampled instance as a plain function of the images; that
replayable instance is what the theory module analyses (is it linear? a contraction?). ``Params``
(the type of ``params``) maps a parameter's name to a tensor with one row per image:

>>> import torch, rt_core
>>> aug, x = rt_core.create_augmentation("rotation", 30.0), torch.rand(4, 3, 8, 8)
>>> params = aug.sample(x, torch.Generator().manual_seed(0))
>>> {name: tuple(value.shape) for name, value in params.items()}
{'angle': (4,)}
>>> torch.equal(aug.instance(params)(x), aug.apply(x, params))
True
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

    >>> import torch
    >>> class Brighten(Augmentation):
    ...     def apply(self, x, params):
    ...         return (x + self.strength).clamp(0, 1)
    >>> Brighten(0.25)(torch.zeros(1, 1, 1, 2)).tolist(), Brighten(0.0).is_identity
    ([[[[0.25, 0.25]]]], True)
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
    """``batch`` floats uniform in [low, high], drawn on the generator's device (CPU by default).

    >>> import torch
    >>> u = uniform(1000, -2.0, 3.0, torch.Generator().manual_seed(0))
    >>> tuple(u.shape), u.dtype, bool(u.min() >= -2.0 and u.max() <= 3.0)
    ((1000,), torch.float32, True)
    """
    import torch

    device = generator.device if generator is not None else "cpu"
    u = torch.rand(batch, generator=generator, device=device, dtype=torch.float64)
    return (low + (high - low) * u).float()
