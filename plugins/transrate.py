"""TransRate (Huang, Huang, Rong, Yang & Wei 2022): the mutual information between features and
target labels, estimated by coding rates: the rate of all features minus the mean rate of each
class's features,

    TransRate = R(Z, eps) - 1/K sum_c R(Z_c, eps),   R(Z, eps) = 1/2 log det( I_d + Z^T Z / (n eps) ),

where Z (n, d) are the features centred by their overall mean, Z_c (n_c, d) the rows of class c
(not re-centred), n the rows of the matrix at hand, and K the number of classes with images.
eps = 1e-4 by default, the value of the authors' published code, whose form of R (Z^T Z / (n eps))
and unweighted class mean this follows. R is computed from the smaller Gram matrix
(det(I_d + A^T A) = det(I_n + A A^T)). eps is absolute, so TransRate depends on the features'
scale unless eps is small against their variances in every direction each class spans. Higher:
better transfer.
"""

from __future__ import annotations

import math

from rt_core import PredictorSpec, RtError, hookimpl, lazy

np = lazy("numpy")  # imported on first use: loading the plugin stays cheap

EPS = 1e-4


def coding_rate(z, eps: float) -> float:
    """R(Z, eps) = 1/2 log det(I + Z^T Z / (n eps)) for Z of n rows."""
    n, d = z.shape
    gram = z.T @ z if d <= n else z @ z.T
    _, logdet = np.linalg.slogdet(np.eye(len(gram)) + gram / (n * eps))
    return 0.5 * float(logdet)


def transrate(data, eps: float = EPS) -> float:
    """TransRate of ``data`` (a PredictorInput) at distortion ``eps``."""
    if isinstance(eps, bool) or not isinstance(eps, int | float) or not math.isfinite(eps) or eps <= 0:
        raise RtError(f"transrate: eps must be a positive number, got {eps!r}")
    z = data.features - data.features.mean(axis=0)
    classes = np.unique(data.labels)
    return coding_rate(z, eps) - float(np.mean([coding_rate(z[data.labels == c], eps) for c in classes]))


@hookimpl
def rt_register_predictors(register):
    register(PredictorSpec(
        name="transrate", function=transrate, higher_is_better=True,
        description="TransRate (Huang et al. 2022): coding rate R(Z, eps) - mean_c R(Z_c, eps) of the "
                    "centred features, eps = 1e-4",
    ))
