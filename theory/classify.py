"""Is an augmentation a regularizer? (theory T4, as formalised in this toolkit.)

A sampled instance a (parameters fixed) is analysed on n x n one-channel images through its
**linear part before the final [0,1] clamp**: A = (a(c + delta E) - a(c)) / delta, the forward
difference at mid-gray c = 0.5 with step delta = 1e-3 on the whole pixel basis E (one batched
call). Around mid-gray the clamp is inactive for any op whose outputs stay in (0, 1) there, so A is
the exact linear part of an affine op; the clamp itself is elementwise 1-Lipschitz (a contraction),
so it can only shrink the class further. Numbers (``numbers`` of a Classification):

- ``linearity_residual``: max ||a(c + al u + be v) - a(c) - al Du - be Dv|| / ||al Du + be Dv||,
  Du = a(c + u) - a(c), small u, v (|u| <= 0.02) around mid-gray: 0 for an affine op;
  ``full_range_residual`` is the same on images uniform in [0,1] (the clamp shows here);
  ``clamped_at_midgray``: share of outputs of a(c) at 0 or 1 (where A is not the pre-clamp part);
- ``offset``: ||a(c) - A c|| / ||c||, the affine offset (erasing's fill, additive noise);
- ``spectral_norm`` ||A||_2 (Lip(a)), by ARPACK (scipy svds);
- on the interior I (inputs supported in the central n/2 x n/2 square, outputs anywhere, which
  removes frame effects such as pixels shifted out): the singular values s_i of A restricted to I;
  ``kernel_fraction`` = share of s_i < 1e-6 (directions destroyed exactly); ``lost_fraction`` =
  share of s_i < 0.5 (directions losing over half their amplitude); ``median_gain``;
  ``interior_isometry_distance`` max |s_i^2 - 1| and ``isometry_distance`` the same on the whole grid;
- ``detail_gain``: max over interior pixels p of ||A e_p||: the best-kept single-pixel detail;
- ``band_min_gain``: smallest singular value on the band-limited interior subspace (interior
  pixels, Hann-windowed cosines of frequency below a quarter of Nyquist, orthonormalised), where
  interpolation is nearly exact: how close a geometric map is to an isometry once interpolation
  and the frame are taken out.

Rule per instance (first match):
1. linearity_residual > 1e-6 -> ``undetermined`` (not linear even before the clamp);
2. spectral_norm > 1 + tol -> ``expansive`` (Lip(h . a) may exceed Lip(h): T4 gives no guarantee);
3. kernel_fraction > 0 -> ``regularization`` (information loss: masks, erasing, cutout, pooling,
   block low-pass; interpolation damps but never reaches 1e-6);
4. spectral_norm < 1 - tol -> ``regularization`` (strict contraction);
5. detail_gain < 0.9 -> ``regularization`` (a contraction that damps every pixel detail: low-pass);
6. offset > 1e-6 -> ``undetermined``: an isometry plus an offset that varies with the sampled
   parameters is noise injection, a gradient penalty to second order (Bishop 1995), not a rule case;
7. otherwise ``not_regularization``: an isometry up to border and interpolation effects (some pixel
   details survive whole; band_min_gain says how close to an isometry it is on smooth content).
A random family gets the majority verdict of its sampled instances; numbers are their means.
Results are cached per (augmentation, strength, options, grid, samples, seed, tol).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from scipy.sparse.linalg import svds

from rt_core import Augmentation, create_augmentation, get_augmentation

VERDICTS = ("regularization", "not_regularization", "expansive", "undetermined")
DETAIL_THRESHOLD = 0.9
KERNEL_TOL = 1e-6
DELTA = 1e-3
NUMBER_KEYS = ("linearity_residual", "full_range_residual", "clamped_at_midgray", "offset", "spectral_norm",
               "kernel_fraction", "lost_fraction", "median_gain", "detail_gain", "band_min_gain",
               "interior_isometry_distance", "border_effect")


@dataclass
class InstanceNumbers:
    linearity_residual: float
    full_range_residual: float
    clamped_at_midgray: float
    offset: float
    spectral_norm: float
    kernel_fraction: float
    lost_fraction: float
    median_gain: float
    detail_gain: float
    band_min_gain: float
    interior_isometry_distance: float
    border_effect: float
    verdict: str
    reason: str


@dataclass
class Classification:
    """The verdict and numbers for one augmentation at one strength."""

    name: str
    strength: float
    verdict: str
    reason: str
    numbers: dict
    instances: list = field(default_factory=list)
    grid: int = 32
    options: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return asdict(self)


def _midgray(n: int, dtype=torch.float64) -> torch.Tensor:
    return torch.full((1, 1, n, n), 0.5, dtype=dtype)


def linear_part(fn: Callable[[torch.Tensor], torch.Tensor], n: int) -> tuple[np.ndarray, float, float]:
    """(A, clamped share, offset): A = (fn(c + delta E) - fn(c)) / delta on the whole basis E in one
    call; offset = ||fn(c) - A c|| / ||c||."""
    c = _midgray(n)
    basis = torch.eye(n * n, dtype=torch.float64).view(n * n, 1, n, n)
    with torch.no_grad():
        y0 = fn(c)
        cols = (fn(c + DELTA * basis) - y0) / DELTA
    clamped = float(((y0 <= 0) | (y0 >= 1)).double().mean())
    a = cols.reshape(n * n, n * n).T.numpy()
    offset = float(np.linalg.norm(y0.numpy().ravel() - 0.5 * a.sum(axis=1)) / (0.5 * n))
    return a, clamped, offset


def _relative(lhs: torch.Tensor, rhs: torch.Tensor) -> float:
    return float((lhs - rhs).norm() / rhs.norm().clamp_min(1e-12))


def linearity_residual(fn: Callable[[torch.Tensor], torch.Tensor], n: int,
                       trials: int = 3, seed: int = 0, full_range: bool = False) -> float:
    """Max relative deviation from affinity around mid-gray:
    ||a(c + al u + be v) - a(c) - al (a(c + u) - a(c)) - be (a(c + v) - a(c))|| / ||al Du + be Dv||,
    u, v uniform in [-0.02, 0.02]; with ``full_range``, from linearity on x, y uniform in [0,1]:
    ||a(al x + be y) - al a(x) - be a(y)|| / ||al a(x) + be a(y)||. al, be uniform in [0.1, 0.5]."""
    g = torch.Generator().manual_seed(seed)
    c, worst = _midgray(n), 0.0
    for _ in range(trials):
        x, y = (torch.rand(1, 1, n, n, generator=g, dtype=torch.float64) for _ in range(2))
        al, be = (float(t) for t in 0.1 + 0.4 * torch.rand(2, generator=g, dtype=torch.float64))
        with torch.no_grad():
            if full_range:
                worst = max(worst, _relative(fn(al * x + be * y), al * fn(x) + be * fn(y)))
                continue
            u, v, y0 = 0.04 * (x - 0.5), 0.04 * (y - 0.5), fn(c)
            lhs = fn(c + al * u + be * v) - y0
            worst = max(worst, _relative(lhs, al * (fn(c + u) - y0) + be * (fn(c + v) - y0)))
    return worst


def _interior_columns(n: int) -> np.ndarray:
    lo, hi = n // 4, n - n // 4
    rows, cols = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    return np.flatnonzero(((rows >= lo) & (rows < hi) & (cols >= lo) & (cols < hi)).ravel())


@lru_cache(maxsize=8)
def band_basis(n: int) -> np.ndarray:
    """Orthonormal basis (n*n, k) of the band-limited interior subspace: Hann-windowed DCT-II
    cosines of index < m/4 on the central m x m square (m = n/2), zero elsewhere."""
    lo, m = n // 4, n - 2 * (n // 4)
    t = np.arange(m)
    win = np.sin(np.pi * (t + 0.5) / m)
    waves = [win * np.cos(np.pi * (2 * t + 1) * k / (2 * m)) for k in range(max(1, m // 4))]
    cols = []
    for wy in waves:
        for wx in waves:
            img = np.zeros((n, n))
            img[lo:lo + m, lo:lo + m] = np.outer(wy, wx)
            cols.append(img.ravel())
    q, _ = np.linalg.qr(np.array(cols).T)
    return q


def _judge(x: dict, tol: float) -> tuple[str, str]:
    """The rule of the module docstring, first match wins."""
    if x["linearity_residual"] > 1e-6:
        return "undetermined", (f"not linear even before the clamp (residual {x['linearity_residual']:.2g}): "
                                "needs the measured analysis")
    if x["spectral_norm"] > 1 + tol:
        return "expansive", (f"expansive: spectral norm {x['spectral_norm']:.4f} > 1 + {tol}, "
                             "Lip(h . a) can exceed Lip(h)")
    if x["kernel_fraction"] > 0:
        return "regularization", (f"information loss: {x['kernel_fraction']:.1%} of interior directions in the "
                                  f"kernel ({x['lost_fraction']:.1%} damped below 1/2), "
                                  f"spectral norm {x['spectral_norm']:.4f}")
    if x["spectral_norm"] < 1 - tol:
        return "regularization", f"strict contraction: Lip(h . a) <= {x['spectral_norm']:.4f} Lip(h)"
    if x["detail_gain"] < DETAIL_THRESHOLD:
        return "regularization", (f"contraction that damps every pixel detail (best detail gain {x['detail_gain']:.3f}"
                                  f" < {DETAIL_THRESHOLD}; {x['lost_fraction']:.1%} of directions damped below 1/2)")
    if x["offset"] > 1e-6:
        return "undetermined", (f"isometry plus an offset (relative size {x['offset']:.2g}): noise-like, a gradient "
                                "penalty to second order at best; needs the measured analysis")
    return "not_regularization", (f"isometry up to border and interpolation effects: no kernel, best detail gain "
                                  f"{x['detail_gain']:.3f}, gain >= {x['band_min_gain']:.3f} on band-limited interior "
                                  f"content (interpolation damps {x['lost_fraction']:.1%} of all interior directions)")


def _spectral(a: np.ndarray) -> float:
    if not a.any():
        return 0.0
    return float(svds(a, k=1, return_singular_vectors=False, random_state=0)[0])


def analyse_instance(fn: Callable[[torch.Tensor], torch.Tensor], n: int = 32, tol: float = 0.05) -> InstanceNumbers:
    """All T4 numbers and the verdict for one fixed map ``fn`` on (B, 1, n, n) images."""
    a, clamped, offset = linear_part(fn, n)
    inner_idx = _interior_columns(n)
    inner = a[:, inner_idx]
    sv_in = np.linalg.svd(inner, compute_uv=False)
    energy = (a**2).sum(axis=0)
    border = np.ones(n * n, bool)
    border[inner_idx] = False
    x = {"linearity_residual": linearity_residual(fn, n),
         "full_range_residual": linearity_residual(fn, n, full_range=True),
         "clamped_at_midgray": clamped, "offset": offset, "spectral_norm": _spectral(a),
         "kernel_fraction": float((sv_in < KERNEL_TOL).mean()), "lost_fraction": float((sv_in < 0.5).mean()),
         "median_gain": float(np.median(sv_in)), "detail_gain": float(np.sqrt(energy[inner_idx].max())),
         "band_min_gain": float(np.linalg.svd(a @ band_basis(n), compute_uv=False).min()),
         "interior_isometry_distance": float(np.abs(sv_in**2 - 1).max()),
         "border_effect": float((1 - energy[border]).mean() - (1 - energy[inner_idx]).mean())}
    return InstanceNumbers(**x, verdict=(v := _judge(x, tol))[0], reason=v[1])


def _instances(aug: Augmentation, n: int, samples: int, seed: int) -> list:
    g = torch.Generator().manual_seed(seed)
    probe = torch.zeros(samples, 1, n, n, dtype=torch.float64)
    params = aug.sample(probe, g)
    out = []
    for i in range(samples):
        one = {k: v[i:i + 1] if torch.is_tensor(v) and v.dim() > 0 and len(v) == samples else v
               for k, v in params.items()}
        out.append(_replay(aug, one))
    return out


def _replay(aug: Augmentation, params: dict):
    """The instance as a map on batches: the same parameters for every image of the batch."""
    def fn(x: torch.Tensor) -> torch.Tensor:
        batch = {k: v.expand(len(x), *v.shape[1:]) if torch.is_tensor(v) and v.dim() > 0 else v
                 for k, v in params.items()}
        return aug.instance(batch)(x)
    return fn


def _summarise(name: str, strength: float, numbers: list[InstanceNumbers], n: int, options: dict) -> Classification:
    verdicts = [x.verdict for x in numbers]
    verdict = max(VERDICTS, key=verdicts.count)
    mean = {k: float(np.mean([getattr(x, k) for x in numbers])) for k in NUMBER_KEYS}
    first = verdicts.index(verdict)
    reason = numbers[first].reason
    if len(numbers) > 1:
        reason = f"{verdicts.count(verdict)} of {len(verdicts)} sampled instances; e.g. instance {first + 1}: {reason}"
    reason += "; linear part analysed before the final [0,1] clamp (a contraction)"
    return Classification(name, float(strength), verdict, reason, mean, [asdict(x) for x in numbers], n, options)


def check_options(spec: Any, strength: float, options: dict) -> None:
    """One-line RtError (``NAME.options.KEY: ...``) for an option the augmentation's factory does not
    declare, or a value of the wrong type or one it refuses at ``strength``: the config's own check."""
    from rt_core.engine import check_plugin

    check_plugin(spec, [strength], options, spec.name)


def classify_augmentation(name_or_instance: str | Augmentation, strength: float | None = None, n: int = 32,
                          samples: int = 5, seed: int = 0, tol: float = 0.05, options: dict | None = None,
                          **extra_options: Any) -> Classification:
    """Classify a registered augmentation (by name; cached) or an Augmentation object at ``strength``.

    ``options`` (or extra keyword arguments) are passed to the augmentation's factory."""
    opts = {**(options or {}), **extra_options}
    if isinstance(name_or_instance, Augmentation):
        aug = name_or_instance
        numbers = [analyse_instance(fn, n, tol) for fn in _instances(aug, n, samples, seed)]
        return _summarise(type(aug).__name__, aug.strength, numbers, n, dict(aug.options))
    spec = get_augmentation(name_or_instance)
    strength = spec.strength.default if strength is None else float(strength)
    check_options(spec, strength, opts)
    return _classify_cached(name_or_instance, strength, tuple(sorted(opts.items())), n,
                            samples if spec.random else 1, seed, tol)


@lru_cache(maxsize=256)
def _classify_cached(name: str, strength: float, options: tuple, n: int, samples: int, seed: int,
                     tol: float) -> Classification:
    aug = create_augmentation(name, strength, **dict(options))
    numbers = [analyse_instance(fn, n, tol) for fn in _instances(aug, n, samples, seed)]
    return _summarise(name, aug.strength, numbers, n, dict(options))


def strength_trend(name: str, strengths: list[float], **kwargs) -> list[Classification]:
    """The classification at each strength: how the numbers move as the strength grows."""
    return [classify_augmentation(name, s, **kwargs) for s in strengths]
