"""Rescale: downsample by a factor m >= 1 (antialiased bilinear) then upsample back (bilinear).

x -> U(D_m(x)): a linear map of rank at most (H/m)(W/m) out of H*W per channel, so it loses
information (a kernel of dimension ~ n(1 - 1/m^2)): a regularizing augmentation (theory T4).
m = 1 is the identity. SCIENCE.md's scale grid {1, .75, .5, .375, .25} is m = 1/scale.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from rt_core import Augmentation, AugmentationSpec, Strength, hookimpl


def rescale(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Down by ``factor`` (antialiased bilinear), then back to the input size (bilinear)."""
    h, w = x.shape[-2:]
    small = (max(1, round(h / factor)), max(1, round(w / factor)))
    down = F.interpolate(x, size=small, mode="bilinear", align_corners=False, antialias=True)
    up = F.interpolate(down, size=(h, w), mode="bilinear", align_corners=False)
    return up.clamp(0.0, 1.0)


class Rescale(Augmentation):
    """Deterministic rescale by factor m = strength (no random parameters); identity m = 1."""

    def apply(self, x, params):
        return rescale(x, self.strength)


@hookimpl
def rt_register_augmentations(register):
    register(AugmentationSpec(
        name="rescale", factory=Rescale,
        strength=Strength("factor", identity=1.0, low=1.0, high=32.0, default=2.0, unit="x"),
        description="downsample by factor m (antialiased), upsample back (bilinear)",
        linear=True, differentiable=True, random=False,
    ))
