"""A data-dependent initialisation of a model's first conv: patch whitening, as airbench does it.

The first conv of ``model.features`` (k x k kernels over C input channels, so patches of d = C k k
values) sees the source training images after the layers before it (the input normalisation). With
Sigma the covariance of those patches over every image and position (the conv's own padding, stride
and dilation), lambda_1 >= ... >= lambda_d its eigenvalues and v_i their unit eigenvectors, the
first n = min(floor(out_channels / 2), d) filters are v_i / sqrt(lambda_i + eps) and the next n their
negatives (so a ReLU after the conv passes both signs); any further channels keep their initial
weights. Filter i then responds to the patches with variance lambda_i / (lambda_i + eps): the
layer starts as the top-n principal directions of the data, decorrelated and of unit variance,
instead of random filters. The filters stay trainable.

Each v_i is signed so that its entry of largest magnitude is positive: LAPACK builds may return
either sign, and a flip would swap filters i and n + i, a different network. The covariance is
accumulated in float64 over fixed chunks, so the filters depend on the images only (not on the
trial's seed or the model's initial weights). torch has no such initialiser; kornia's ZCA whitens
inputs, not a conv's filters, hence this module.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from rt_core.errors import RtError

EPS = 5e-4  # airbench's eigenvalue floor; patches of per-image standardised inputs have variance ~1
CHUNK = 256  # images per covariance chunk


def first_conv(features: nn.Module) -> tuple[nn.Sequential, nn.Conv2d]:
    """(the layers before it, the first Conv2d) among the direct children of ``features``.

    >>> from rt_core.experiment.models import cifar_cnn
    >>> before, conv = first_conv(cifar_cnn(width=0.5, image_size=8).features)
    >>> [type(m).__name__ for m in before], conv.out_channels
    (['Normalize'], 16)
    """
    before: list[nn.Module] = []
    for child in features.children():
        if isinstance(child, nn.Conv2d):
            if child.groups != 1:
                raise RtError("train.whiten_first_conv: the first conv is grouped; whitening needs groups = 1")
            return nn.Sequential(*before), child
        before.append(child)
    raise RtError("train.whiten_first_conv: the model's features have no Conv2d among their top-level layers; "
                  "set whiten_first_conv = false for this model")


def patch_covariance(prefix: nn.Module, conv: nn.Conv2d, x: torch.Tensor) -> torch.Tensor:
    """The d x d covariance (float64, population) of the patches ``conv`` sees over ``prefix(x)``.

    >>> import torch
    >>> from rt_core.experiment.models import cifar_cnn
    >>> cov = patch_covariance(*first_conv(cifar_cnn(width=0.5, image_size=8).features), torch.rand(4, 3, 8, 8))
    >>> cov.shape, cov.dtype
    (torch.Size([27, 27]), torch.float64)
    """
    total, outer, count = None, None, 0
    with torch.no_grad():
        for chunk in x.split(CHUNK):
            z = prefix(chunk)
            p = F.unfold(z, conv.kernel_size, conv.dilation, conv.padding, conv.stride)  # (B, d, L)
            p = p.transpose(1, 2).reshape(-1, p.shape[1]).double()
            s, o = p.sum(0), p.T @ p
            total, outer = (s, o) if total is None else (total + s, outer + o)
            count += p.shape[0]
    mean = total / count
    return outer / count - torch.outer(mean, mean)


def whitening_filters(cov: torch.Tensor, n: int, eps: float = EPS) -> tuple[torch.Tensor, torch.Tensor]:
    """(eigenvalues, filters): the top-n eigenpairs of ``cov``, filters v_i / sqrt(lambda_i + eps) as
    rows, each v_i signed so that its largest-magnitude entry is positive.

    >>> import torch
    >>> vals, rows = whitening_filters(torch.diag(torch.tensor([1.0, 4.0], dtype=torch.float64)), 1, eps=0.0)
    >>> vals.tolist(), rows.tolist()
    ([4.0], [[0.0, 0.5]])
    """
    vals, vecs = torch.linalg.eigh(cov)
    vals, vecs = vals.flip(0)[:n], vecs.flip(1)[:, :n]
    top = vecs.abs().argmax(0)
    vecs = vecs * torch.sign(vecs[top, torch.arange(n)])
    return vals, (vecs / torch.sqrt(vals.clamp_min(0) + eps)).T


def whiten_first_conv(model: nn.Module, x: torch.Tensor, eps: float = EPS) -> int:
    """Set the first conv's first 2n filters to +/- the whitening filters of ``x`` (module docstring);
    returns n.

    >>> import torch
    >>> from rt_core.experiment.models import cifar_cnn
    >>> whiten_first_conv(cifar_cnn(width=0.5, image_size=8, input_norm="per_image"), torch.rand(20, 3, 8, 8))
    8
    """
    prefix, conv = first_conv(model.features)
    cov = patch_covariance(prefix, conv, x)
    n = min(conv.out_channels // 2, cov.shape[0])
    _, rows = whitening_filters(cov, n, eps)
    w = rows.reshape(n, *conv.weight.shape[1:]).to(conv.weight)
    with torch.no_grad():
        conv.weight[:n] = w
        conv.weight[n:2 * n] = -w
    return n
