"""Rescale: downsample by a factor m >= 1 (antialiased bilinear) then upsample back (bilinear).

x -> U(D_m(x)): a linear map of rank at most (H/m)(W/m) out of H*W per channel, so it loses
information (a kernel of dimension ~ n(1 - 1/m^2)): a regularizing augmentation (theory T4).
m = 1 is the identity. The paper preset's scale grid {1, .75, .5, .375, .25} (docs/science.md, section 4)
is m = 1/scale.

``per_sample=True`` draws m_i ~ U[1, m] per image (the convention of blur's per_sample and of
torchvision's GaussianBlur sigma range): some images are nearly clean, so a model trained on it is
also constrained on the high frequencies that clean test images carry. Each sampled instance is
still linear (a per-image down/up map).
"""

from __future__ import annotations

from rt_core import Augmentation, AugmentationSpec, Strength, hookimpl, lazy, uniform

torch = lazy("torch")  # imported on first use: loading the plugin stays cheap
F = lazy("torch.nn.functional")


def small_size(h: int, w: int, factor: float) -> tuple[int, int]:
    """The downsampled size of an (h, w) image at ``factor``: (round(h / m), round(w / m)), at least 1."""
    return max(1, round(h / factor)), max(1, round(w / factor))


def _down_up(x: torch.Tensor, small: tuple[int, int]) -> torch.Tensor:
    h, w = x.shape[-2:]
    down = F.interpolate(x, size=small, mode="bilinear", align_corners=False, antialias=True)
    up = F.interpolate(down, size=(h, w), mode="bilinear", align_corners=False)
    return up.clamp(0.0, 1.0)


def rescale(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Down by ``factor`` (antialiased bilinear), then back to the input size (bilinear)."""
    return _down_up(x, small_size(*x.shape[-2:], factor))


def rescale_per_image(x: torch.Tensor, factors: torch.Tensor) -> torch.Tensor:
    """Rescale each image x[i] by its own factors[i]: exactly ``rescale(x[i:i+1], factors[i])``,
    batched by grouping the images whose rounded downsampled size is the same."""
    h, w = x.shape[-2:]
    sizes = [small_size(h, w, float(m)) for m in factors.tolist()]
    out = torch.empty_like(x)
    for small in sorted(set(sizes)):
        idx = torch.tensor([i for i, s in enumerate(sizes) if s == small], device=x.device)
        out[idx] = _down_up(x.index_select(0, idx), small)
    return out


class Rescale(Augmentation):
    """Rescale by factor m = strength (deterministic); ``per_sample=True`` draws m_i ~ U[1, m] per image.

    Down by m and back up keeps the size and the range, and loses detail:

    >>> import torch
    >>> x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    >>> y = Rescale(2.0)(x)
    >>> tuple(y.shape), bool(0 <= y.min() and y.max() <= 1), bool(y.std() < x.std())
    ((2, 3, 16, 16), True, True)
    """

    def __init__(self, strength, per_sample=False):
        if not isinstance(per_sample, bool):
            raise ValueError(f"per_sample must be true or false, got {per_sample!r}")
        super().__init__(strength, per_sample=per_sample)

    def sample_params(self, batch, image_shape, generator):
        if self.options.get("per_sample", False):
            return {"factor": uniform(batch, 1.0, self.strength, generator)}
        return {}

    def apply(self, x, params):
        if "factor" in params:
            return rescale_per_image(x, params["factor"])
        return rescale(x, self.strength)


@hookimpl
def rt_register_augmentations(register):
    register(AugmentationSpec(
        name="rescale", factory=Rescale,
        strength=Strength("factor", identity=1.0, low=1.0, high=32.0, default=2.0, unit="x"),
        description="downsample by factor m (antialiased), upsample back (bilinear); "
                    "per_sample=True: m_i ~ U[1, m]",
        linear=True, differentiable=True, random=False,
    ))
