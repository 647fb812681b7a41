"""Random rotation: each image is rotated by its own angle a ~ U[-theta, theta] degrees about the
image centre, bilinear interpolation, zero fill outside the image.

Output pixel p samples the input at R(-a) p (pixel coordinates). Away from borders and up to
interpolation this is an invertible isometry: not a regularizer but a symmetry prior (theory T4).
theta = 0 is the identity.
"""

from __future__ import annotations

import math

from rt_core import Augmentation, AugmentationSpec, Strength, hookimpl, lazy, uniform

torch = lazy("torch")  # imported on first use: loading the plugin stays cheap
F = lazy("torch.nn.functional")


def rotate(x: torch.Tensor, angles_deg: torch.Tensor) -> torch.Tensor:
    """Rotate x[i] by angles_deg[i] degrees (bilinear, zero fill); the pure functional op."""
    b, _, h, w = x.shape
    a = angles_deg.to(x.device, x.dtype) * (math.pi / 180)
    cos, sin = torch.cos(a), torch.sin(a)
    theta = torch.zeros(b, 2, 3, device=x.device, dtype=x.dtype)
    theta[:, 0, 0], theta[:, 0, 1] = cos, -sin * h / w
    theta[:, 1, 0], theta[:, 1, 1] = sin * w / h, cos
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
    return out.clamp(0.0, 1.0)


class RandomRotation(Augmentation):
    """Per-sample angle uniform in [-strength, strength] degrees.

    A zero angle returns the image; the same generator seed gives the same rotation:

    >>> import torch
    >>> aug, x = RandomRotation(30.0), torch.rand(2, 1, 8, 8)
    >>> torch.allclose(aug.apply(x, {"angle": torch.zeros(2)}), x, atol=1e-6)
    True
    >>> torch.equal(aug(x, torch.Generator().manual_seed(1)), aug(x, torch.Generator().manual_seed(1)))
    True
    """

    def sample_params(self, batch, image_shape, generator):
        return {"angle": uniform(batch, -self.strength, self.strength, generator)}

    def apply(self, x, params):
        return rotate(x, params["angle"])


@hookimpl
def rt_register_augmentations(register):
    register(AugmentationSpec(
        name="rotation", factory=RandomRotation,
        strength=Strength("theta", identity=0.0, low=0.0, high=180.0, default=30.0, unit="deg"),
        description="rotation by a ~ U[-theta, theta] degrees, bilinear, zero fill",
        linear=True, differentiable=True, random=True,
    ))
