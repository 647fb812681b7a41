"""Gaussian blur: convolve each channel with a normalised Gaussian kernel of standard deviation
sigma pixels, k(t) = exp(-t^2 / (2 sigma^2)) / Z for |t| <= ceil(3 sigma), separably in H and W.

Borders use half-sample symmetric (Neumann) extension. With that boundary a symmetric kernel gives
a blurring matrix diagonalised by the DCT-II (Ng, Chan & Tang 1999), whose eigenvalues are the
kernel's cosine response, all of magnitude <= 1: the op is a linear contraction that damps high
frequencies, i.e. a regularizing augmentation (theory T4). sigma = 0 is the identity.
"""

from __future__ import annotations

import math

from rt_core import Augmentation, AugmentationSpec, Strength, hookimpl, lazy, uniform

torch = lazy("torch")  # imported on first use: loading the plugin stays cheap


def symmetric_index(n: int, pad: int, device) -> torch.Tensor:
    """Indices of a length-n axis padded by ``pad`` with half-sample symmetric reflection."""
    idx = torch.arange(-pad, n + pad, device=device) % (2 * n)
    return torch.where(idx >= n, 2 * n - 1 - idx, idx)


def gaussian_kernels(sigma: torch.Tensor, radius: int) -> torch.Tensor:
    """(B, 2r+1) normalised Gaussian weights per sigma; sigma = 0 gives the delta kernel."""
    t = torch.arange(-radius, radius + 1, device=sigma.device, dtype=sigma.dtype)
    s = sigma.clamp_min(1e-12).unsqueeze(1)
    w = torch.exp(-(t**2) / (2 * s**2))
    w = torch.where(sigma.unsqueeze(1) > 0, w, (t == 0).to(w.dtype).expand_as(w))
    return w / w.sum(dim=1, keepdim=True)


def _blur_axis(x: torch.Tensor, w: torch.Tensor, dim: int) -> torch.Tensor:
    radius = (w.shape[1] - 1) // 2
    n = x.shape[dim]
    padded = x.index_select(dim, symmetric_index(n, radius, x.device))
    out = torch.zeros_like(x)
    shape = [-1, 1, 1, 1]
    for k in range(w.shape[1]):
        out = out + w[:, k].view(shape) * padded.narrow(dim, k, n)
    return out


def blur(x: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """Blur each image x[i] with its own sigma[i] (pixels); the pure functional op."""
    sigma = sigma.to(x.device, x.dtype)
    radius = int(math.ceil(3 * float(sigma.max()))) if sigma.numel() else 0
    if radius == 0:
        return x
    w = gaussian_kernels(sigma, radius)
    return _blur_axis(_blur_axis(x, w, 2), w, 3)


class GaussianBlur(Augmentation):
    """Gaussian blur with sigma = strength; ``per_sample=True`` draws sigma_i ~ U[0, strength].

    A normalised kernel with symmetric borders leaves a constant image as it is, and damps stripes:

    >>> import torch
    >>> flat, board = torch.full((1, 1, 8, 8), 0.5), (torch.arange(64).view(1, 1, 8, 8) % 2).float()
    >>> blur = GaussianBlur(1.0)
    >>> torch.allclose(blur(flat), flat), bool(blur(board).std() < 0.5 * board.std())
    (True, True)
    """

    def __init__(self, strength, per_sample=False):
        if not isinstance(per_sample, bool):
            raise ValueError(f"per_sample must be true or false, got {per_sample!r}")
        super().__init__(strength, per_sample=per_sample)

    def sample_params(self, batch, image_shape, generator):
        if self.options.get("per_sample", False):
            return {"sigma": uniform(batch, 0.0, self.strength, generator)}
        return {"sigma": torch.full((batch,), self.strength)}

    def apply(self, x, params):
        return blur(x, params["sigma"])


@hookimpl
def rt_register_augmentations(register):
    register(AugmentationSpec(
        name="blur", factory=GaussianBlur,
        strength=Strength("sigma", identity=0.0, low=0.0, high=16.0, default=1.0, unit="px"),
        description="Gaussian blur, sigma in pixels (per_sample=True: sigma_i ~ U[0, sigma])",
        linear=True, differentiable=True, random=False,
    ))
