"""Is an augmentation a regularizer? (theory T4, as formalised in this toolkit.)

For a sampled instance a (parameters fixed, so a is a fixed map), on a grid of n x n one-channel
images, we measure:
- ``linearity_residual``: max ||a(alpha x + beta y) - alpha a(x) - beta a(y)|| / ||alpha a(x) + beta a(y)||
  over random images and coefficients (0 for a linear map, up to float error);
- the matrix A of a (columns a(e_p)) and its singular values: ``spectral_norm`` (Lip(a));
- ``isometry_distance`` ||A^T A - I||_2 on the whole grid, and on the interior (inputs supported in
  the central n/2 x n/2 square, outputs anywhere), which removes border effects; their difference
  is reported as ``border_effect``;
- on the interior: ``median_gain`` (median singular value) and ``lost_fraction`` (share of singular
  values below 0.5: directions losing over half their amplitude);
- ``detail_gain``: max over interior pixels p of ||A e_p||, how intact the best-kept single-pixel
  detail comes out. A geometric map moves pixels; where its sampling lands on the grid a detail
  survives whole (gain ~1), and its damping elsewhere is interpolation (bilinear sampling at random
  sub-pixel offsets acts, to second order, like a Gaussian blur of sigma = 1/sqrt(6) ~ 0.41 px, so
  damping alone cannot tell it from a weak blur). A low-pass map smears every pixel (blur sigma =
  0.5: 0.64 everywhere; rescale: below 0.8).
Verdict per instance: not linear -> ``undetermined``; spectral norm > 1 + tol (expansive: T4 gives
no guarantee) -> ``undetermined``; a strict contraction (spectral norm < 1 - tol) or a contraction
that smears every detail (detail gain < 0.9: information lost everywhere, a kernel or strongly
damped directions) -> ``regularization``; otherwise an isometry up to border and interpolation
effects -> ``not_regularization``, with the interior median gain (interpolation) and the border
effect quantifying the deviation. Random families are
judged by the majority over sampled instances; every number is reported as the mean over them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import torch

from rt_core import Augmentation, create_augmentation, get_augmentation

VERDICTS = ("regularization", "not_regularization", "undetermined")


@dataclass
class InstanceNumbers:
    linearity_residual: float
    spectral_norm: float
    isometry_distance: float
    interior_isometry_distance: float
    border_effect: float
    median_gain: float
    lost_fraction: float
    detail_gain: float
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

    def to_dict(self) -> dict:
        return asdict(self)


def _operator(fn, n: int, dtype=torch.float64) -> np.ndarray:
    """Dense matrix of a linear map on (1, 1, n, n) images: column p = fn(e_p)."""
    basis = torch.eye(n * n, dtype=dtype).view(n * n, 1, n, n)
    with torch.no_grad():
        cols = torch.cat([fn(basis[i:i + 256]) for i in range(0, n * n, 256)])
    return cols.reshape(n * n, n * n).T.numpy()


def linearity_residual(fn, n: int, trials: int = 4, seed: int = 0) -> float:
    """Relative deviation from linearity on random images in [0,1] with convex-ish coefficients."""
    g = torch.Generator().manual_seed(seed)
    worst = 0.0
    for _ in range(trials):
        x, y = (torch.rand(1, 1, n, n, generator=g, dtype=torch.float64) for _ in range(2))
        alpha, beta = (float(v) for v in 0.1 + 0.4 * torch.rand(2, generator=g, dtype=torch.float64))
        with torch.no_grad():
            lhs, rhs = fn(alpha * x + beta * y), alpha * fn(x) + beta * fn(y)
        worst = max(worst, float((lhs - rhs).norm() / rhs.norm().clamp_min(1e-12)))
    return worst


def _interior_columns(n: int) -> np.ndarray:
    lo, hi = n // 4, n - n // 4
    rows, cols = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    return np.flatnonzero(((rows >= lo) & (rows < hi) & (cols >= lo) & (cols < hi)).ravel())


DETAIL_THRESHOLD = 0.9


def _isometry_distance(sv: np.ndarray) -> float:
    """||A^T A - I||_2 = max_i |sigma_i^2 - 1| (A with at least as many rows as columns)."""
    return float(np.abs(sv**2 - 1).max())


def _judge(residual: float, spectral: float, detail: float, median: float, tol: float) -> tuple[str, str]:
    if residual > 1e-6:
        return "undetermined", f"not linear (residual {residual:.2g}): needs the measured analysis"
    if spectral > 1 + tol:
        return "undetermined", f"expansive (spectral norm {spectral:.4f} > 1): T4 gives no guarantee"
    if spectral < 1 - tol:
        return "regularization", f"strict contraction: Lip(h . a) <= {spectral:.4f} Lip(h)"
    if detail < DETAIL_THRESHOLD:
        return "regularization", (f"contraction (spectral norm {spectral:.4f}) that smears every pixel detail "
                                  f"(best detail gain {detail:.3f}, interior median gain {median:.3f})")
    return "not_regularization", (f"isometry up to border and interpolation effects (best detail gain "
                                  f"{detail:.3f}; interpolation leaves interior median gain {median:.3f})")


def analyse_instance(fn, n: int = 32, tol: float = 0.05) -> InstanceNumbers:
    """All T4 numbers and the verdict for one fixed map ``fn`` on (B, 1, n, n) images."""
    residual = linearity_residual(fn, n)
    a = _operator(fn, n)
    sv = np.linalg.svd(a, compute_uv=False)
    inner = a[:, _interior_columns(n)]
    sv_in = np.linalg.svd(inner, compute_uv=False)
    iso, iso_in = _isometry_distance(sv), _isometry_distance(sv_in)
    detail = float(np.linalg.norm(inner, axis=0).max())
    median = float(np.median(sv_in))
    verdict, reason = _judge(residual, float(sv[0]), detail, median, tol)
    return InstanceNumbers(residual, float(sv[0]), iso, iso_in, iso - iso_in, median,
                           float((sv_in < 0.5).mean()), detail, verdict, reason)


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


def classify_augmentation(name_or_instance, strength: float | None = None, n: int = 32, samples: int = 5,
                          seed: int = 0, tol: float = 0.05, **options) -> Classification:
    """Classify a registered augmentation (by name) or an Augmentation object at ``strength``."""
    if isinstance(name_or_instance, Augmentation):
        aug, name = name_or_instance, type(name_or_instance).__name__
    else:
        name = name_or_instance
        spec = get_augmentation(name)
        strength = spec.strength.default if strength is None else strength
        aug = create_augmentation(name, strength, **options)
        samples = samples if spec.random else 1
    numbers = [analyse_instance(fn, n, tol) for fn in _instances(aug, n, samples, seed)]
    verdicts = [x.verdict for x in numbers]
    verdict = max(VERDICTS, key=verdicts.count)
    mean = {k: float(np.mean([getattr(x, k) for x in numbers])) for k in
            ("linearity_residual", "spectral_norm", "isometry_distance", "interior_isometry_distance",
             "border_effect", "median_gain", "lost_fraction", "detail_gain")}
    first = verdicts.index(verdict)
    reason = numbers[first].reason
    if len(numbers) > 1:
        reason = f"{verdicts.count(verdict)} of {len(verdicts)} sampled instances; e.g. instance {first + 1}: {reason}"
    return Classification(name, float(aug.strength), verdict, reason, mean, [asdict(x) for x in numbers], n)


def strength_trend(name: str, strengths: list[float], **kwargs) -> list[Classification]:
    """The classification at each strength: how the numbers move as the strength grows."""
    return [classify_augmentation(name, s, **kwargs) for s in strengths]
