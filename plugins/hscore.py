"""H-score (Bao, Li, Huang, Zhang, Zheng & Tong 2019): how much of the features' variance the
target classes explain, in the metric of the features' inverse covariance,

    H(f) = tr( cov(f)^-1 cov(E[f | y]) ),   cov(E[f | y]) = sum_c (n_c / n) (mu_c - mu)(mu_c - mu)^T,

with mu_c the mean feature of class c, mu the overall mean and (1/n)-normalised covariances.
The eigenvalues of cov(f)^-1 cov(E[f | y]) lie in [0, 1] and at most K - 1 are non-zero, so H lies
in [0, min(d, K - 1)], reaching K - 1 when every image sits at its class mean.

``covariance="shrinkage"`` (the default; Ibrahim, Ponomareva & Mazumder 2022): cov(f) is replaced
by the Ledoit-Wolf estimate cov_a = (1 - a) cov(f) + a (tr cov(f) / d) I, with a from Ledoit & Wolf
(2004), and H_a = tr( cov_a^-1 (1 - a) cov(E[f | y]) ); it stays stable when cov(f) is ill-conditioned
(few images per dimension). ``covariance="plain"``: Bao et al.'s H with the pseudo-inverse of
cov(f) (eigenvalues at most d * machine epsilon * the largest count as zero: directions in which
the features do not vary carry no class signal). Higher: better transfer.
"""

from __future__ import annotations

from rt_core import PredictorSpec, RtError, hookimpl, lazy

np = lazy("numpy")  # imported on first use: loading the plugin stays cheap
sk_covariance = lazy("sklearn.covariance")

COVARIANCES = ("shrinkage", "plain")


def class_means(features, labels):
    """(K_present, d) class means and their (K_present,) weights n_c / n."""
    classes, index, counts = np.unique(labels, return_inverse=True, return_counts=True)
    sums = np.zeros((len(classes), features.shape[1]))
    np.add.at(sums, index, features)
    return sums / counts[:, None], counts / len(labels)


def feature_covariance(centred, covariance: str):
    """(cov, a): the (1/n) covariance of the centred features (a = 0) or its Ledoit-Wolf shrinkage."""
    if covariance == "shrinkage":
        return sk_covariance.ledoit_wolf(centred, assume_centered=True)
    if covariance == "plain":
        return centred.T @ centred / len(centred), 0.0
    raise RtError(f"hscore: covariance '{covariance}' is not one of {', '.join(COVARIANCES)}")


def hscore(data, covariance: str = "shrinkage") -> float:
    """H-score of ``data`` (a PredictorInput) with the ``covariance`` estimate of cov(f)."""
    centred = data.features - data.features.mean(axis=0)
    cov, shrinkage = feature_covariance(centred, covariance)
    means, weights = class_means(centred, data.labels)
    values, vectors = np.linalg.eigh(cov)
    keep = values > values.max(initial=0.0) * len(values) * np.finfo(np.float64).eps
    projected = means @ vectors[:, keep]
    return float((1.0 - shrinkage) * np.sum(weights[:, None] * projected**2 / values[keep]))


@hookimpl
def rt_register_predictors(register):
    register(PredictorSpec(
        name="hscore", function=hscore, higher_is_better=True,
        description="H-score (Bao et al. 2019) tr(cov(f)^-1 cov(E[f|y])), Ledoit-Wolf shrinkage of cov(f) "
                    "(Ibrahim et al. 2022; covariance='plain': the raw one)",
    ))
