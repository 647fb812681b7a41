"""LogME (You, Liu, Wang & Long 2021): how well a Bayesian linear model on the features explains
each target class, as its log marginal evidence with the prior and noise precisions maximised.

For features F (n, d) and the indicator y in {0,1}^n of one class, the model w ~ N(0, I/alpha),
y | F, w ~ N(F w, I/beta) has log evidence

    L(alpha, beta) = n/2 log beta + d/2 log alpha - n/2 log(2 pi) - beta/2 ||F m - y||^2
                     - alpha/2 ||m||^2 - 1/2 log det A,   A = alpha I_d + beta F^T F,  m = beta A^-1 F^T y.

After one thin SVD F = U diag(s) V^T (z = U^T y) every term is a sum over the singular values, and
MacKay's fixed point, gamma = sum_i beta s_i^2 / (alpha + beta s_i^2), alpha <- gamma / ||m||^2,
beta <- (n - gamma) / ||F m - y||^2, is iterated from alpha = beta = 1 until both change by less than
1e-12 relatively: its limit is a stationary point of L. The supremum may instead lie on a boundary,
both in closed form: alpha -> inf (the features explain nothing: y ~ N(0, I/beta)), and beta -> inf
when the features have rank n (no more images than dimensions: every target is fitted exactly);
each class takes the largest of these. LogME = the mean over the classes with images of max L / n.
Higher: the labels are more linearly predictable from the features.
"""

from __future__ import annotations

import math

from rt_core import PredictorSpec, RtError, hookimpl, lazy

np = lazy("numpy")  # imported on first use: loading the plugin stays cheap

TOL = 1e-12
MAX_STEPS = 10_000
NEGLIGIBLE = 1e-12


def spectrum(features):
    """(U, s^2) of the thin SVD of ``features``, without singular values below rounding
    (s <= s_max * max(n, d) * machine epsilon: numpy's matrix_rank cut-off)."""
    u, s, _ = np.linalg.svd(features, full_matrices=False)
    keep = s > s.max(initial=0.0) * max(features.shape) * np.finfo(np.float64).eps
    return u[:, keep], s[keep] ** 2


def _parts(alpha: float, beta: float, z, s2, outside: float) -> tuple[float, float, float]:
    """(gamma, ||m||^2, ||F m - y||^2); ``outside`` = ||y||^2 - ||z||^2, the part of y no feature reaches."""
    t = alpha + beta * s2
    gamma = float(np.sum(beta * s2 / t))
    m2 = float(np.sum(beta**2 * s2 * z**2 / t**2))
    resid = float(np.sum((alpha * z / t) ** 2)) + outside
    return gamma, m2, resid


def log_evidence(alpha: float, beta: float, z, s2, n: int, d: int, outside: float) -> float:
    """L(alpha, beta) of the module docstring, from the spectrum (z = U^T y, s2 = s^2)."""
    _, m2, resid = _parts(alpha, beta, z, s2, outside)
    logdet = float(np.sum(np.log(alpha + beta * s2))) + (d - len(s2)) * math.log(alpha)
    return 0.5 * (n * math.log(beta) + d * math.log(alpha) - n * math.log(2 * math.pi) - beta * resid
                  - alpha * m2 - logdet)


def maximise(z, s2, n: int, outside: float) -> tuple[float, float, bool]:
    """MacKay's fixed point from alpha = beta = 1: (alpha, beta, True) at a stationary point of L, or
    (alpha, beta, False) when the iterate runs to a boundary (the features' share s^2/alpha of the
    marginal covariance below NEGLIGIBLE times the noise's 1/beta, or the reverse) or MAX_STEPS pass."""
    alpha = beta = 1.0
    for _ in range(MAX_STEPS):
        gamma, m2, resid = _parts(alpha, beta, z, s2, outside)
        new_alpha, new_beta = gamma / m2, (n - gamma) / resid
        if abs(new_alpha - alpha) <= TOL * new_alpha and abs(new_beta - beta) <= TOL * new_beta:
            return new_alpha, new_beta, True
        alpha, beta = new_alpha, new_beta
        if s2.max() * beta < NEGLIGIBLE * alpha or alpha < NEGLIGIBLE * beta * s2.min():
            break
    return alpha, beta, False


def no_signal(n: int, yy: float) -> float:
    """L as alpha -> inf (w = 0: y ~ N(0, I/beta)), at its best beta = n / ||y||^2."""
    return 0.5 * n * (math.log(n / yy) - math.log(2 * math.pi) - 1.0)


def noiseless(z, s2) -> float:
    """L as beta -> inf when the features have rank n (every target is fitted exactly):
    L = -1/2 sum_i (log(2 pi s_i^2 / alpha) + alpha z_i^2 / s_i^2), at its best alpha = n / sum z^2/s^2."""
    n = len(s2)
    alpha = n / float(np.sum(z**2 / s2))
    return -0.5 * float(np.sum(np.log(2 * math.pi * s2 / alpha))) - 0.5 * n


def class_evidence(u, s2, y, d: int) -> float:
    """sup over (alpha, beta) of L / n for one target ``y``: the largest of the fixed point's L and the
    boundary values (``no_signal``; ``noiseless`` when the features have rank n)."""
    n, yy = len(y), float(y @ y)
    z = u.T @ y
    exact = len(s2) == n  # then y lies in the span of the features: y^T y - z^T z is rounding
    outside = 0.0 if exact else yy - float(z @ z)
    if not exact and outside <= NEGLIGIBLE * yy:
        raise RtError(_UNBOUNDED)
    candidates = [no_signal(n, yy)]
    if np.any(z):
        if exact:
            candidates.append(noiseless(z, s2))
        alpha, beta, settled = maximise(z, s2, n, outside)
        value = log_evidence(alpha, beta, z, s2, n, d, outside)
        if not settled and value > max(candidates) + NEGLIGIBLE * abs(value):
            raise RtError(_UNBOUNDED)
        candidates.append(value)
    return max(candidates) / n


_UNBOUNDED = ("LogME: the evidence of a target class has no finite maximum (the fixed point runs off to a "
              "noise-free fit without settling): the class is (nearly) an exact linear function of the "
              "features; check the features are not built from the labels")


def logme(data) -> float:
    """LogME of ``data`` (a PredictorInput): the mean over present classes of max L / n."""
    u, s2 = spectrum(data.features)
    d = data.features.shape[1]
    classes = np.unique(data.labels)
    return float(np.mean([class_evidence(u, s2, (data.labels == c).astype(np.float64), d) for c in classes]))


@hookimpl
def rt_register_predictors(register):
    register(PredictorSpec(
        name="logme", function=logme, higher_is_better=True,
        description="LogME (You et al. 2021): per-class Bayesian linear-regression log evidence per image, "
                    "maximised over prior and noise precision",
    ))
