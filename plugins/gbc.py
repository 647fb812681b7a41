"""GBC (Pandy, Agostinelli, Uijlings, Ferrari & Mensink 2022): the Gaussian Bhattacharyya
coefficient, how much the target classes overlap in feature space.

Each class c with images is a Gaussian N(mu_c, Sigma_c) of its features' mean and (1/n_c) variance.
Two Gaussians overlap by the Bhattacharyya coefficient BC = exp(-D_B), with

    D_B = 1/8 (mu_1 - mu_2)^T Sigma^-1 (mu_1 - mu_2) + 1/2 log( det Sigma / sqrt(det Sigma_1 det Sigma_2) ),
    Sigma = (Sigma_1 + Sigma_2) / 2,

and GBC = - sum over ordered pairs c != c' of BC(c, c') (each pair twice, as in the paper), in
[-K(K-1), 0]. ``covariance="diagonal"`` (default): Sigma_c = diag of the per-coordinate variances;
``"spherical"``: their mean times I. Coordinates constant over all images are dropped (every class
has the same point mass there: they add 0 to D_B); a class variance is floored at 1e-6 times the
coordinate's overall variance (a class with one image, or constant on a coordinate), which keeps
GBC invariant to scaling each coordinate. Higher (less overlap): better transfer.
"""

from __future__ import annotations

from rt_core import PredictorSpec, RtError, hookimpl, lazy

np = lazy("numpy")  # imported on first use: loading the plugin stays cheap

COVARIANCES = ("diagonal", "spherical")
FLOOR = 1e-6


def class_gaussians(features, labels, covariance: str):
    """(K, d') means and (K, d') diagonal variances of the classes with images, over the d'
    coordinates that vary."""
    if covariance not in COVARIANCES:
        raise RtError(f"gbc: covariance '{covariance}' is not one of {', '.join(COVARIANCES)}")
    overall = features.var(axis=0)
    varying = overall > 0
    features = features[:, varying]
    classes = np.unique(labels)
    means = np.stack([features[labels == c].mean(axis=0) for c in classes])
    variances = np.stack([features[labels == c].var(axis=0) for c in classes])
    variances = np.maximum(variances, FLOOR * overall[varying])
    if covariance == "spherical":
        variances = np.broadcast_to(variances.mean(axis=1, keepdims=True), variances.shape)
    return means, variances


def bhattacharyya_distances(means, variances):
    """(K, K) D_B between every pair of diagonal Gaussians."""
    v = (variances[:, None, :] + variances[None, :, :]) / 2
    log_v = np.log(variances)
    mahalanobis = np.sum((means[:, None, :] - means[None, :, :]) ** 2 / v, axis=2) / 8
    return mahalanobis + 0.5 * np.sum(np.log(v) - 0.5 * log_v[:, None, :] - 0.5 * log_v[None, :, :], axis=2)


def gbc(data, covariance: str = "diagonal") -> float:
    """GBC of ``data`` (a PredictorInput) with ``covariance`` Gaussians."""
    means, variances = class_gaussians(data.features, data.labels, covariance)
    coefficients = np.exp(-bhattacharyya_distances(means, variances))
    return 0.0 - float(np.sum(coefficients[~np.eye(len(means), dtype=bool)]))  # 0.0 - x: no -0.0


@hookimpl
def rt_register_predictors(register):
    register(PredictorSpec(
        name="gbc", function=gbc, higher_is_better=True,
        description="GBC (Pandy et al. 2022): minus the summed Bhattacharyya coefficients of per-class "
                    "diagonal Gaussians (covariance='spherical' as an option)",
    ))
