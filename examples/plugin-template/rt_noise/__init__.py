"""Additive Gaussian noise: x -> clamp(x + sigma * n, 0, 1), n ~ N(0, I) per pixel.

An affine-plus-clamp op, not linear: the theory module reports it as `undetermined` with its
numbers (to second order, noise acts like a gradient-norm penalty, Bishop 1995).
"""

from __future__ import annotations

from rt_core import Augmentation, AugmentationSpec, Strength, hookimpl, lazy

# torch is imported on first use, so loading this plugin (every `rt` command does) stays cheap
torch = lazy("torch")


class GaussianNoise(Augmentation):
    """sigma = strength; the sampled parameter is the noise tensor itself, so it replays exactly."""

    def sample_params(self, batch, image_shape, generator):
        device = generator.device if generator is not None else "cpu"
        return {"noise": torch.randn((batch, *image_shape), generator=generator, device=device)}

    def apply(self, x, params):
        noise = params["noise"].to(x.device, x.dtype)
        return (x + self.strength * noise).clamp(0.0, 1.0)


@hookimpl
def rt_register_augmentations(register):
    register(AugmentationSpec(
        name="gaussian_noise", factory=GaussianNoise,
        strength=Strength("sigma", identity=0.0, low=0.0, high=1.0, default=0.05),
        description="additive Gaussian pixel noise, clamped to [0,1]",
        linear=False, differentiable=True, random=True,
    ))
