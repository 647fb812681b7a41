"""Test-only augmentations with known T4 answers, registered as a plugin in tests (never shipped):

- ``erasing``: a rectangle of area fraction s, fully inside the image at a random place, set to
  ``value`` (0): a mask, linear with a kernel (the erased pixels) -> regularization.
- ``cutout``: a square of side s * size centred anywhere (may leave the frame), zero fill: a mask.
- ``jpeg_like``: 8 x 8 block DCT-II (orthonormal), keep coefficients with u + v <= round(14 (1 - s)),
  optionally round kept coefficients to multiples of ``step`` (non-linear), inverse DCT, [0,1] clamp.
  Its linear part (step 0) is an orthogonal projection: a kernel of the dropped coefficients.
- ``sharpen``: unsharp mask x + s (x - mean_3x3(x)) (edge-replicated borders), [0,1] clamp:
  frequency response 1 + s (1 - c), up to 1 + s * 16/9 > 1 -> expansive.
- ``avg_pool``: 2 x 2 average pooling then nearest upsampling: a projection of rank n / 4.
- ``contrast``: x -> 0.5 + c (x - 0.5), [0,1] clamp (never active for c <= 1): affine, a strict
  contraction by c with a fixed offset; invariance of a model that standardises each image.
- ``pixel_noise``: x + sigma eps, eps standard normal per pixel (sampled), [0,1] clamp: an
  isometry plus an offset that varies with the sample; at sigma = 0.2 the clamp holds a few
  outputs already at mid-gray.
Every op ends in the [0,1] clamp the augmentation contract asks for.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from rt_core import Augmentation, AugmentationSpec, Strength, hookimpl, uniform


def _box_mask(shape: tuple, top: torch.Tensor, left: torch.Tensor, hh: int, ww: int) -> torch.Tensor:
    """(B, 1, H, W) mask, 0 inside the box [top, top + hh) x [left, left + ww), else 1."""
    h, w = shape
    rows = torch.arange(h).view(1, h, 1)
    cols = torch.arange(w).view(1, 1, w)
    t, lft = top.long().view(-1, 1, 1), left.long().view(-1, 1, 1)
    inside = (rows >= t) & (rows < t + hh) & (cols >= lft) & (cols < lft + ww)
    return (~inside).unsqueeze(1)


class Erasing(Augmentation):
    """Erase a box of area fraction s (aspect 1) at a uniformly random place inside the image."""

    def __init__(self, strength, value=0.0):
        super().__init__(strength, value=float(value))

    def _size(self, h: int, w: int) -> tuple[int, int]:
        side = math.sqrt(self.strength)
        return max(1, round(side * h)), max(1, round(side * w))

    def sample_params(self, batch, image_shape, generator):
        h, w = image_shape[-2:]
        hh, ww = self._size(h, w)
        return {"top": torch.floor(uniform(batch, 0, h - hh + 1 - 1e-6, generator)),
                "left": torch.floor(uniform(batch, 0, w - ww + 1 - 1e-6, generator))}

    def apply(self, x, params):
        hh, ww = self._size(*x.shape[-2:])
        keep = _box_mask(tuple(x.shape[-2:]), params["top"], params["left"], hh, ww).to(x.device, x.dtype)
        value = float(self.options.get("value", 0.0))
        return (x * keep + value * (1 - keep)).clamp(0.0, 1.0)


class Cutout(Augmentation):
    """Zero a square of side s * size centred at a uniformly random pixel (it may leave the frame)."""

    def sample_params(self, batch, image_shape, generator):
        h, w = image_shape[-2:]
        return {"cy": torch.floor(uniform(batch, 0, h - 1e-6, generator)),
                "cx": torch.floor(uniform(batch, 0, w - 1e-6, generator))}

    def apply(self, x, params):
        h, w = x.shape[-2:]
        hh, ww = max(1, round(self.strength * h)), max(1, round(self.strength * w))
        keep = _box_mask((h, w), params["cy"] - hh // 2, params["cx"] - ww // 2, hh, ww)
        return (x * keep.to(x.device, x.dtype)).clamp(0.0, 1.0)


def dct_matrix(n: int, dtype=torch.float64) -> torch.Tensor:
    """Orthonormal DCT-II matrix D (D @ x is the transform of x)."""
    k, t = torch.arange(n, dtype=dtype).view(n, 1), torch.arange(n, dtype=dtype).view(1, n)
    d = torch.cos(math.pi * (2 * t + 1) * k / (2 * n)) * math.sqrt(2 / n)
    d[0] /= math.sqrt(2)
    return d


class JpegLike(Augmentation):
    """Block DCT low-pass (keep u + v <= cut) with optional rounding of kept coefficients."""

    def __init__(self, strength, step=0.0):
        super().__init__(strength, step=float(step))

    def apply(self, x, params):
        b, c, h, w = x.shape
        d = dct_matrix(8, x.dtype).to(x.device)
        cut = round(14 * (1 - self.strength))
        u = torch.arange(8, device=x.device)
        keep = ((u.view(8, 1) + u.view(1, 8)) <= cut).to(x.dtype)
        blocks = x.reshape(b, c, h // 8, 8, w // 8, 8).transpose(3, 4)
        coef = d @ blocks @ d.T * keep
        step = float(self.options.get("step", 0.0))
        if step > 0:
            coef = torch.round(coef / step) * step
        out = (d.T @ coef @ d).transpose(3, 4).reshape(b, c, h, w)
        return out.clamp(0.0, 1.0)


class Sharpen(Augmentation):
    """Unsharp mask x + s (x - mean_3x3(x)), replicate padding."""

    def apply(self, x, params):
        b, c, h, w = x.shape
        padded = F.pad(x.reshape(b * c, 1, h, w), (1, 1, 1, 1), mode="replicate")
        local = F.avg_pool2d(padded, 3, stride=1).reshape(b, c, h, w)
        return (x + self.strength * (x - local)).clamp(0.0, 1.0)


class AvgPool(Augmentation):
    """2 x 2 average pooling, then nearest upsampling back to the input size."""

    def apply(self, x, params):
        return F.interpolate(F.avg_pool2d(x, 2), scale_factor=2, mode="nearest").clamp(0.0, 1.0)


class Contrast(Augmentation):
    """x -> 0.5 + c (x - 0.5), clamped to [0,1]."""

    def apply(self, x, params):
        return (0.5 + self.strength * (x - 0.5)).clamp(0.0, 1.0)


class GaussianNoise(Augmentation):
    """x + sigma eps with eps ~ N(0, 1) per pixel, clamped to [0,1]."""

    def sample_params(self, batch, image_shape, generator):
        return {"eps": torch.randn((batch, *image_shape), generator=generator, dtype=torch.float64)}

    def apply(self, x, params):
        return (x + self.strength * params["eps"].to(x.device, x.dtype)).clamp(0.0, 1.0)


class TheoryTestPlugins:
    """Registers the ops above (plugin name ``theory-test-ops``)."""

    @hookimpl
    def rt_register_augmentations(self, register):
        register(AugmentationSpec("erasing", Erasing, Strength("area", 0.0, 0.0, 1.0, default=0.2), random=True))
        register(AugmentationSpec("cutout", Cutout, Strength("side", 0.0, 0.0, 1.0, default=0.25), random=True))
        register(AugmentationSpec("jpeg_like", JpegLike, Strength("drop", 0.0, 0.0, 1.0, default=0.5),
                                  random=False))
        register(AugmentationSpec("sharpen", Sharpen, Strength("s", 0.0, 0.0, 10.0, default=1.0), random=False))
        register(AugmentationSpec("avg_pool", AvgPool, Strength("on", 0.0, 0.0, 1.0, default=1.0), random=False))
        register(AugmentationSpec("contrast", Contrast, Strength("c", 1.0, 0.0, 2.0, default=0.5), linear=False,
                                  random=False))
        register(AugmentationSpec("pixel_noise", GaussianNoise, Strength("sigma", 0.0, 0.0, 1.0, default=0.1),
                                  linear=False, random=True))
