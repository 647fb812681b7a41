"""Random translation: each image is shifted by whole pixels (dy, dx), with
dy = round(u_y d H), dx = round(u_x d W), u ~ U[-1, 1] per axis and image; zero fill.

A shift is a partial permutation of pixels: an isometry on the pixels that stay inside, so up to
the border it is not a regularizer (theory T4). d = 0 is the identity.
"""

from __future__ import annotations

from rt_core import Augmentation, AugmentationSpec, Strength, hookimpl, lazy, uniform

torch = lazy("torch")  # imported on first use: loading the plugin stays cheap


def translate(x: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor) -> torch.Tensor:
    """out[i, :, r, c] = x[i, :, r - dy_i, c - dx_i] where inside the image, else 0."""
    b, _, h, w = x.shape
    dy, dx = dy.to(x.device).long(), dx.to(x.device).long()
    rows = torch.arange(h, device=x.device).unsqueeze(0) - dy.unsqueeze(1)
    cols = torch.arange(w, device=x.device).unsqueeze(0) - dx.unsqueeze(1)
    valid = ((rows >= 0) & (rows < h)).unsqueeze(2) & ((cols >= 0) & (cols < w)).unsqueeze(1)
    batch = torch.arange(b, device=x.device).view(b, 1, 1)
    out = x[batch, :, rows.clamp(0, h - 1).unsqueeze(2), cols.clamp(0, w - 1).unsqueeze(1)]
    return (out * valid.unsqueeze(3).to(x.dtype)).permute(0, 3, 1, 2)


class RandomTranslation(Augmentation):
    """Per-sample whole-pixel shift, at most ``strength`` times the size along each axis.

    A sampled instance replays exactly, and its shift is at most d * size pixels:

    >>> import torch
    >>> aug, x = RandomTranslation(0.25), torch.rand(4, 1, 8, 8)
    >>> params = aug.sample(x, torch.Generator().manual_seed(0))
    >>> torch.equal(aug.instance(params)(x), aug.apply(x, params)), bool(params["dx"].abs().max() <= 2)
    (True, True)
    """

    def sample_params(self, batch, image_shape, generator):
        h, w = image_shape[-2:]
        d = self.strength
        dy = torch.round(uniform(batch, -1.0, 1.0, generator) * d * h)
        dx = torch.round(uniform(batch, -1.0, 1.0, generator) * d * w)
        return {"dy": dy, "dx": dx}

    def apply(self, x, params):
        return translate(x, params["dy"], params["dx"])


@hookimpl
def rt_register_augmentations(register):
    register(AugmentationSpec(
        name="translation", factory=RandomTranslation,
        strength=Strength("d", identity=0.0, low=0.0, high=1.0, default=0.1, unit="fraction"),
        description="whole-pixel shift up to d x size per axis, zero fill",
        linear=True, differentiable=True, random=True,
    ))
