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
from typing import Any

import torch

Params = dict[str, torch.Tensor]


class Augmentation:
    """Base class: subclasses implement ``sample_params`` and ``apply``.

    ``identity_strength`` is the strength that changes nothing. Its one source is the registry
    record (``Strength.identity``): ``create_augmentation`` sets it on every instance it builds
    (an instance built directly keeps the default 0).
    """

    identity_strength: float = 0.0

    def __init__(self, strength: float, **options: Any) -> None:
        self.strength = float(strength)
        self.options = options

    @property
    def is_identity(self) -> bool:
        """True when this strength leaves every image unchanged (the op short-circuits)."""
        return self.strength == self.identity_strength

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

    def __repr__(self) -> str:
        return f"{type(self).__name__}(strength={self.strength})"


def uniform(batch: int, low: float, high: float, generator: torch.Generator | None) -> torch.Tensor:
    """``batch`` floats uniform in [low, high], drawn on the generator's device (CPU by default)."""
    device = generator.device if generator is not None else "cpu"
    u = torch.rand(batch, generator=generator, device=device, dtype=torch.float64)
    return (low + (high - low) * u).float()
