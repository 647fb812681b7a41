"""Is an augmentation a regularizer? (theory T4, as formalised in this toolkit.)

T4 is about what the model sees. A model whose first layer is a fixed input transform n (its
``input_norm``: "dataset", a per-channel affine normalisation; "per_image", each image standardised
to mean 0 and std 1 over its own pixels; "none") is trained on n(a(x)), so the classifier analyses
n . a, not a alone:

- "none" and "dataset": n is an invertible affine map, so n . a . n^-1 has a's linear part (one
  channel: a scalar change of coordinates) and the verdict is a's;
- "per_image": n(a(x)) = n(x) for every x is **invariance of the model: no effect** (verdict
  ``invariant``: contrast and brightness changes, x -> alpha x + beta with alpha > 0, vanish in n);
  otherwise the analysed map is F(x) = mean(x) + std(x) n(a(x)), what the model sees put back in
  x's own intensity frame (F = id exactly when n . a = n), linearised at a textured image x0 (values
  in [0.2, 0.8]) instead of mid-gray, where n is degenerate. n is the layer's formula without its
  floor on the std, which only keeps a flat image finite.

A sampled instance a (parameters fixed) is analysed on n x n one-channel images through its
**linear part before the final [0,1] clamp**: A = (a(c + delta E) - a(c)) / delta, the forward
difference at the base image c (mid-gray 0.5; x0 for "per_image") with step delta = 1e-3 on the
whole pixel basis E (one batched call). An output the clamp holds at the base (within 0.01 of 0 or
1) takes its row from the base shifted by -0.2 or +0.2 where it is inside: for an op affine before
its clamp that is the same row (its pre-clamp linear part); the clamp itself is elementwise
1-Lipschitz (a contraction), so it can only shrink the class further. Numbers (``numbers`` of a
Classification):

- ``linearity_residual``: max ||a(c + al u + be v) - a(c) - al Du - be Dv|| / ||al Du + be Dv||,
  Du = a(c + u) - a(c), small u, v (|u| <= 0.02) around the base, over the outputs that stay
  within (0.01, 0.99) at every point evaluated (so the clamp never decides it): 0 for an affine op;
  ``full_range_residual``: ||a(al x + (1 - al) y) - al a(x) - (1 - al) a(y)|| / ||al a(x) + (1 - al) a(y)||
  on images uniform in [0,1]: 0 for an affine op whose clamp never acts, so the clamp (or a
  non-linearity) shows here; ``clamped_at_midgray``: share of outputs of a at the base held at
  the clamp (their rows taken at a shifted base);
- ``offset``: ||a(c) - A c|| / ||c||, the affine offset (erasing's fill, additive noise, a contrast
  change's pivot);
- ``spectral_norm`` ||A||_2 (Lip(a)), by ARPACK (scipy svds), or by LAPACK's dense SVD when ARPACK stalls;
- on the interior I (inputs supported in the central n/2 x n/2 square, outputs anywhere, which
  removes frame effects such as pixels shifted out): the singular values s_i of A restricted to I;
  ``kernel_fraction`` = share of s_i < 1e-6 (directions destroyed exactly); ``lost_fraction`` =
  share of s_i < 0.5 (directions losing over half their amplitude); ``median_gain``;
  ``interior_isometry_distance`` max |s_i^2 - 1| and ``isometry_distance`` the same on the whole grid;
- ``detail_gain``: max over interior pixels p of ||A e_p||: the best-kept single-pixel detail;
- ``band_min_gain``: smallest singular value on the band-limited interior subspace (interior
  pixels, Hann-windowed cosines of frequency below a quarter of Nyquist, orthonormalised), where
  interpolation is nearly exact: how close a geometric map is to an isometry once interpolation
  and the frame are taken out;
- "per_image" only: ``invariance_residual`` max ||n(a(x)) - n(x)|| / ||n(x)|| over four textured
  probe images, and ``contrast_ratio`` std(x0) / std(a(x0)), the factor by which n rescales a's
  output at x0.

Rule per instance (first match):
0. invariance_residual <= 1e-6 -> ``invariant`` (invariance of the model: no effect);
1. linearity_residual > 1e-6 -> ``undetermined`` (not linear even before the clamp); for
   "per_image" (F is not linear: n rescales a(x) to x's contrast) ``expansive`` when
   spectral_norm > 1 + tol at x0 (Lip(F) is at least that), else ``undetermined``;
2. spectral_norm > 1 + tol -> ``expansive`` (Lip(h . a) may exceed Lip(h): T4 gives no guarantee);
3. kernel_fraction > 0 -> ``regularization`` (information loss: masks, erasing, cutout, pooling,
   block low-pass; interpolation damps but never reaches 1e-6);
4. spectral_norm < 1 - tol -> ``regularization`` (strict contraction);
5. detail_gain < 0.9 -> ``regularization`` (a contraction that damps every pixel detail: low-pass);
6. offset > 1e-6 for a random family -> ``undetermined``: an isometry plus an offset that varies
   with the sampled parameters is noise injection, a gradient penalty to second order (Bishop
   1995), not a rule case (a fixed offset, as a deterministic op's, changes no Lipschitz constant);
7. otherwise ``not_regularization``: within tol of an isometry (some pixel details survive whole;
   band_min_gain says how close to an isometry it is on smooth content).
A random family gets the majority verdict of its sampled instances; numbers are their means.
Results are cached per (augmentation, strength, options, grid, samples, seed, tol, input_norm).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import torch
from scipy.sparse.linalg import ArpackNoConvergence, svds

from rt_core import Augmentation, create_augmentation, get_augmentation

VERDICTS = ("regularization", "not_regularization", "expansive", "undetermined", "invariant")
INPUT_NORMS = ("none", "dataset", "per_image")
DETAIL_THRESHOLD = 0.9
KERNEL_TOL = 1e-6
SVDS_RESTARTS = 100  # ARPACK restarts before the dense fallback of _spectral
LINEAR_TOL = 1e-6
DELTA = 1e-3
MARGIN = 0.01  # an output this close to 0 or 1 may be the clamp's
SHIFTS = (-0.2, 0.2)  # where a clamped output's row is taken instead
NUMBER_KEYS = ("linearity_residual", "full_range_residual", "clamped_at_midgray", "offset", "spectral_norm",
               "kernel_fraction", "lost_fraction", "median_gain", "detail_gain", "band_min_gain",
               "interior_isometry_distance", "border_effect", "invariance_residual", "contrast_ratio")


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
    invariance_residual: float | None = None
    contrast_ratio: float | None = None


@dataclass
class Classification:
    """The verdict and numbers for one augmentation at one strength, as a model with input transform
    ``input_norm`` sees it."""

    name: str
    strength: float
    verdict: str
    reason: str
    numbers: dict
    instances: list = field(default_factory=list)
    grid: int = 32
    options: dict = field(default_factory=dict)
    input_norm: str = "none"

    def to_dict(self) -> dict:
        return asdict(self)


Map = Callable[[torch.Tensor], torch.Tensor]


def _midgray(n: int, dtype=torch.float64) -> torch.Tensor:
    return torch.full((1, 1, n, n), 0.5, dtype=dtype)


def textured(n: int, seed: int = 0, low: float = 0.2, high: float = 0.8) -> torch.Tensor:
    """A (1, 1, n, n) float64 image spanning [low, high]: seeded noise smoothed by a 3x3 mean, rescaled
    (std about (high - low) / 5); the base point for "per_image", where a flat image is degenerate."""
    g = torch.Generator().manual_seed(seed)
    x = torch.rand(1, 1, n, n, generator=g, dtype=torch.float64)
    x = torch.nn.functional.avg_pool2d(x, 3, 1, 1, count_include_pad=False)
    return low + (high - low) * (x - x.min()) / (x.max() - x.min())


def standardise(x: torch.Tensor) -> torch.Tensor:
    """x -> (x - mean(x)) / std(x) per image: ``rt_core.PerImageStandardize`` without its floor on
    the std (which only keeps a flat image finite; every image analysed here has contrast)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) / x.std(dim=(1, 2, 3), keepdim=True, unbiased=False)


def input_transform(input_norm: str) -> Map | None:
    """The model's fixed input transform n on one-channel images: None for "none"; for "dataset"
    ``rt_core.Normalize``'s x -> (x - m) / s with the CIFAR statistics of channel 0; for
    "per_image" :func:`standardise`."""
    if input_norm not in INPUT_NORMS:
        from rt_core import RtError

        raise RtError(f"unknown input_norm '{input_norm}'; use one of {', '.join(INPUT_NORMS)}")
    if input_norm == "dataset":
        return lambda x: (x - 0.4914) / 0.2023
    return standardise if input_norm == "per_image" else None


def seen_map(fn: Map, norm: Map) -> Map:
    """F(x) = mean(x) + std(x) n(a(x)): what a model with the per-image standardisation n sees of
    a(x), put back in x's intensity frame (n(F(x)) = n(a(x)); F = id exactly when n . a = n)."""
    def seen(x: torch.Tensor) -> torch.Tensor:
        mean = x.mean(dim=(1, 2, 3), keepdim=True)
        return mean + x.std(dim=(1, 2, 3), keepdim=True, unbiased=False) * norm(fn(x))
    return seen


def invariance_residual(fn: Map, norm: Map, n: int, probes: int = 4) -> float:
    """max ||n(a(x)) - n(x)|| / ||n(x)|| over ``probes`` textured images of different ranges."""
    xs = torch.cat([textured(n, seed=100 + i, low=0.1 + 0.1 * i, high=0.9 - 0.05 * i) for i in range(probes)])
    with torch.no_grad():
        ours, plain = norm(fn(xs)), norm(xs)
    return float(((ours - plain).flatten(1).norm(dim=1) / plain.flatten(1).norm(dim=1)).max())


def _inside(y: torch.Tensor) -> torch.Tensor:
    return (y > MARGIN) & (y < 1 - MARGIN)


def linear_part(fn: Map, n: int, base: torch.Tensor | None = None) -> tuple[np.ndarray, float, float]:
    """(A, clamped share, offset): A = (fn(c + delta E) - fn(c)) / delta on the whole basis E in one
    call at the base c (default mid-gray), each output held by the clamp at c taking its row from
    c shifted by SHIFTS where it is inside; offset = ||fn(c) - A c|| / ||c||."""
    c = _midgray(n) if base is None else base
    y0, a = _columns(fn, c, n)
    held = ~_inside(y0).reshape(-1).numpy()
    for shift in SHIFTS:
        if not held.any():
            break
        y, rows = _columns(fn, (c + shift).clamp(0, 1), n)
        fix = held & _inside(y).reshape(-1).numpy()
        a[fix], held = rows[fix], held & ~fix
    clamped = float((~_inside(y0)).double().mean())
    offset = float(np.linalg.norm(y0.numpy().ravel() - a @ c.numpy().ravel()) / np.linalg.norm(c.numpy()))
    return a, clamped, offset


def _columns(fn: Map, c: torch.Tensor, n: int) -> tuple[torch.Tensor, np.ndarray]:
    basis = torch.eye(n * n, dtype=torch.float64).view(n * n, 1, n, n)
    with torch.no_grad():
        y0 = fn(c)
        cols = (fn(c + DELTA * basis) - y0) / DELTA
    return y0, cols.reshape(n * n, n * n).T.numpy().copy()


def _relative(lhs: torch.Tensor, rhs: torch.Tensor, keep: torch.Tensor | None = None) -> float:
    if keep is not None:
        lhs, rhs = lhs[keep], rhs[keep]
    return float((lhs - rhs).norm() / rhs.norm().clamp_min(1e-12)) if rhs.numel() else 0.0


def linearity_residual(fn: Map, n: int, trials: int = 3, seed: int = 0, full_range: bool = False,
                       base: torch.Tensor | None = None) -> float:
    """Max relative deviation from affinity (module docstring): around the base (default mid-gray)
    with u, v uniform in [-0.02, 0.02], over the outputs inside (0.01, 0.99) at every evaluated point;
    with ``full_range``, of affine combinations of x, y uniform in [0,1], over every output.
    al, be uniform in [0.1, 0.5]."""
    g = torch.Generator().manual_seed(seed)
    c, worst = (_midgray(n) if base is None else base), 0.0
    for _ in range(trials):
        x, y = (torch.rand(1, 1, n, n, generator=g, dtype=torch.float64) for _ in range(2))
        al, be = (float(t) for t in 0.1 + 0.4 * torch.rand(2, generator=g, dtype=torch.float64))
        with torch.no_grad():
            if full_range:
                worst = max(worst, _relative(fn(al * x + (1 - al) * y), al * fn(x) + (1 - al) * fn(y)))
                continue
            u, v = 0.04 * (x - 0.5), 0.04 * (y - 0.5)
            y0, yu, yv, yuv = fn(c), fn(c + u), fn(c + v), fn(c + al * u + be * v)
            keep = _inside(y0) & _inside(yu) & _inside(yv) & _inside(yuv)
            worst = max(worst, _relative(yuv - y0, al * (yu - y0) + be * (yv - y0), keep))
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


def _judge(x: dict, tol: float, offset_varies: bool = True, input_norm: str = "none") -> tuple[str, str]:
    """The rule of the module docstring, first match wins; the reason names the number that decided."""
    if x.get("invariance_residual") is not None and x["invariance_residual"] <= LINEAR_TOL:
        return "invariant", (f"invariance of the model: no effect (its per-image standardisation n gives "
                             f"n(a(x)) = n(x): max relative difference {x['invariance_residual']:.1g})")
    if x["linearity_residual"] > LINEAR_TOL:
        return _not_linear(x, tol, input_norm)
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
    if x["offset"] > LINEAR_TOL and offset_varies:
        return "undetermined", (f"within {tol} of an isometry (spectral norm {x['spectral_norm']:.4f}) plus an offset "
                                f"that varies with the sampled parameters (relative size {x['offset']:.2g}): noise "
                                "injection, a gradient penalty to second order at best; needs the measured analysis")
    fixed = (f"; plus a fixed offset (relative size {x['offset']:.2g}), which changes no Lipschitz constant"
             if x["offset"] > LINEAR_TOL else "")
    return "not_regularization", (f"within {tol} of an isometry: spectral norm {x['spectral_norm']:.4f}, no kernel, "
                                  f"best detail gain {x['detail_gain']:.3f}, gain >= {x['band_min_gain']:.3f} on "
                                  f"band-limited interior content ({x['lost_fraction']:.1%} of all interior "
                                  f"directions damped below 1/2){fixed}")


def _not_linear(x: dict, tol: float, input_norm: str) -> tuple[str, str]:
    r = x["linearity_residual"]
    if input_norm != "per_image":
        return "undetermined", (f"not linear even before the clamp (residual {r:.2g} on outputs the clamp leaves "
                                "alone): needs the measured analysis")
    why = (f"what the model sees is not linear: its per-image standardisation rescales a(x) to the contrast of x "
           f"(by {x['contrast_ratio']:.3g} at a textured image; residual {r:.2g})")
    if x["spectral_norm"] > 1 + tol:
        return "expansive", (f"expansive for the model: {why}, and its Jacobian there has spectral norm "
                             f"{x['spectral_norm']:.4f} > 1 + {tol}, so Lip(h . a) can exceed Lip(h)")
    return "undetermined", f"{why}; T4's linear analysis does not apply: needs the measured analysis"


def _spectral(a: np.ndarray) -> float:
    """The largest singular value of ``a``. ARPACK (svds) is fast, but on a projection (A^T A with
    only the eigenvalues 0 and 1: block low-pass, masks) its Lanczos basis breaks down after two
    steps, and whether that is caught depends on the last bits of ``a``: it can restart until its
    iteration limit and fail. Then LAPACK's dense SVD, which always converges, gives the same number
    to float64 rounding."""
    if not a.any():
        return 0.0
    try:
        return float(svds(a, k=1, return_singular_vectors=False, random_state=0, maxiter=SVDS_RESTARTS)[0])
    except ArpackNoConvergence:
        return float(np.linalg.norm(a, 2))


def _linear_numbers(a: np.ndarray, n: int) -> dict:
    """The numbers of the linear part A (module docstring) that need no further call of the map."""
    inner_idx = _interior_columns(n)
    sv_in = np.linalg.svd(a[:, inner_idx], compute_uv=False)
    energy = (a**2).sum(axis=0)
    border = np.ones(n * n, bool)
    border[inner_idx] = False
    return {"spectral_norm": _spectral(a), "kernel_fraction": float((sv_in < KERNEL_TOL).mean()),
            "lost_fraction": float((sv_in < 0.5).mean()), "median_gain": float(np.median(sv_in)),
            "detail_gain": float(np.sqrt(energy[inner_idx].max())),
            "band_min_gain": float(np.linalg.svd(a @ band_basis(n), compute_uv=False).min()),
            "interior_isometry_distance": float(np.abs(sv_in**2 - 1).max()),
            "border_effect": float((1 - energy[border]).mean() - (1 - energy[inner_idx]).mean())}


def analyse_instance(fn: Map, n: int = 32, tol: float = 0.05, input_norm: str = "none",
                     offset_varies: bool = True) -> InstanceNumbers:
    """All T4 numbers and the verdict for one fixed map ``fn`` on (B, 1, n, n) images, as a model with
    the input transform ``input_norm`` sees it (module docstring); ``offset_varies``: whether an
    offset comes from sampled parameters (a random family) or is fixed."""
    norm, base, extra = input_transform(input_norm), None, {}
    if input_norm == "per_image":
        base = textured(n)
        with torch.no_grad():
            ratio = float(base.std(unbiased=False) / fn(base).std(unbiased=False).clamp_min(1e-12))
        extra = {"invariance_residual": invariance_residual(fn, norm, n), "contrast_ratio": ratio}
        fn = seen_map(fn, norm)
    a, clamped, offset = linear_part(fn, n, base)
    x = {"linearity_residual": linearity_residual(fn, n, base=base),
         "full_range_residual": linearity_residual(fn, n, full_range=True),
         "clamped_at_midgray": clamped, "offset": offset, **_linear_numbers(a, n), **extra}
    return InstanceNumbers(**x, verdict=(v := _judge(x, tol, offset_varies, input_norm))[0], reason=v[1])


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


NOTES = {"none": "; linear part analysed before the final [0,1] clamp (a contraction)",
         "dataset": "; linear part analysed before the final [0,1] clamp (a contraction); the model's dataset "
                    "normalisation n is an invertible affine map, so n . a has a's linear part",
         "per_image": "; analysed as the model sees it: n . a, n its per-image standardisation"}


def _summarise(name: str, strength: float, numbers: list[InstanceNumbers], n: int, options: dict,
               input_norm: str = "none") -> Classification:
    verdicts = [x.verdict for x in numbers]
    verdict = max(VERDICTS, key=verdicts.count)
    keys = [k for k in NUMBER_KEYS if all(getattr(x, k) is not None for x in numbers)]
    mean = {k: float(np.mean([getattr(x, k) for x in numbers])) for k in keys}
    first = verdicts.index(verdict)
    reason = numbers[first].reason
    if len(numbers) > 1:
        reason = f"{verdicts.count(verdict)} of {len(verdicts)} sampled instances; e.g. instance {first + 1}: {reason}"
    return Classification(name, float(strength), verdict, reason + NOTES[input_norm], mean,
                          [asdict(x) for x in numbers], n, options, input_norm)


def check_options(spec: Any, strength: float, options: dict) -> None:
    """One-line RtError (``NAME.options.KEY: ...``) for an option the augmentation's factory does not
    declare, or a value of the wrong type or one it refuses at ``strength``: the config's own check."""
    from rt_core.engine import check_plugin

    check_plugin(spec, [strength], options, spec.name)


def _differ(fns: list[Map], n: int) -> bool:
    """Whether sampled instances differ (on a textured image); one instance: assumed to (unknown)."""
    if len(fns) < 2:
        return True
    x = textured(n)
    with torch.no_grad():
        first = fns[0](x)
        return any(not torch.equal(first, fn(x)) for fn in fns[1:])


def classify_augmentation(name_or_instance: str | Augmentation, strength: float | None = None, n: int = 32,
                          samples: int = 5, seed: int = 0, tol: float = 0.05, options: dict | None = None,
                          input_norm: str = "none", **extra_options: Any) -> Classification:
    """Classify a registered augmentation (by name; cached) or an Augmentation object at ``strength``,
    as a model whose fixed input transform is ``input_norm`` ("none", "dataset", "per_image") sees it.

    ``options`` (or extra keyword arguments) are passed to the augmentation's factory, checked as a
    config's are (one-line RtError for an unknown option or a bad value)."""
    opts = {**(options or {}), **extra_options}
    input_transform(input_norm)  # an unknown name is one line before any work
    if isinstance(name_or_instance, Augmentation):
        aug = name_or_instance
        fns = _instances(aug, n, samples, seed)
        varies = _differ(fns, n)
        numbers = [analyse_instance(fn, n, tol, input_norm, varies) for fn in fns]
        return _summarise(type(aug).__name__, aug.strength, numbers, n, dict(aug.options), input_norm)
    spec = get_augmentation(name_or_instance)
    strength = spec.strength.default if strength is None else float(strength)
    check_options(spec, strength, opts)
    return _classify_cached(name_or_instance, strength, tuple(sorted(opts.items())), n,
                            samples if spec.random else 1, seed, tol, input_norm)


@lru_cache(maxsize=256)
def _classify_cached(name: str, strength: float, options: tuple, n: int, samples: int, seed: int,
                     tol: float, input_norm: str = "none") -> Classification:
    aug = create_augmentation(name, strength, **dict(options))
    varies = get_augmentation(name).random
    numbers = [analyse_instance(fn, n, tol, input_norm, varies) for fn in _instances(aug, n, samples, seed)]
    return _summarise(name, aug.strength, numbers, n, dict(options), input_norm)


def strength_trend(name: str, strengths: list[float], **kwargs) -> list[Classification]:
    """The classification at each strength: how the numbers move as the strength grows."""
    return [classify_augmentation(name, s, **kwargs) for s in strengths]
