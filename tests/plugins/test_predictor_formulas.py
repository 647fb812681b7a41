"""The six built-in predictors against independent computations: LogME's fixed point against a
brute-force grid of the Gaussian marginal likelihood, H-score against the direct trace formula (and
Ledoit-Wolf written out), LEEP and NCE on hand-built joints, TransRate and GBC on Gaussians with
closed forms (GBC's Bhattacharyya coefficient by quadrature), and the invariances each one has.

Tolerances: sums of at most a few hundred float64 terms of magnitude <= 1e3 round at ~1e-13
relative; 1e-10 leaves room for the conditioning of a d <= 6 covariance. Grid maxima follow from
the step h: the true optimum lies within h/2 of a grid point, so the grid maximum is below it by
at most (h/2)^2 times the curvature per axis, which is O(n) for a log evidence of n images."""

import math

import numpy as np
import pytest
from scipy import integrate, stats

import rt_core
from plugins import gbc, hscore, leep, logme, nce, transrate
from rt_core import PredictorInput

RTOL = 1e-10


def _labels(counts):
    return np.repeat(np.arange(len(counts)), counts)


def _rotation(d, seed):
    q, r = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def _close(a, b, rtol=RTOL):
    return abs(a - b) <= rtol * max(1.0, abs(a), abs(b))


# ---------------------------------------------------------------- LogME


def _marginal_grid(features, y, log_alpha, log_beta):
    """log N(y; 0, I/beta + F F^T/alpha) on a grid, from the eigenbasis of the n x n Gram matrix (the
    function-space form of the evidence; the plugin uses the weight-space form and a thin SVD)."""
    lam, q = np.linalg.eigh(features @ features.T)
    lam = np.clip(lam, 0.0, None)
    w2 = (q.T @ y) ** 2
    a, b = np.exp(log_alpha)[..., None], np.exp(log_beta)[..., None]
    c = lam / a + 1.0 / b  # the eigenvalues of the marginal covariance
    return -0.5 * (len(y) * math.log(2 * math.pi) + np.sum(np.log(c), axis=-1) + np.sum(w2 / c, axis=-1))


def _grid_maximum(features, y, low=-12.0, high=12.0):
    """(max, log alpha, log beta, step) of the marginal: a 0.1 grid, then a 0.001 grid around its best."""
    axis = np.arange(low, high + 1e-9, 0.1)
    la, lb = np.meshgrid(axis, axis, indexing="ij")
    values = _marginal_grid(features, y, la, lb)
    i, j = np.unravel_index(np.argmax(values), values.shape)
    h = 1e-3
    fine = np.arange(-0.15, 0.15 + 1e-12, h)
    la, lb = np.meshgrid(axis[i] + fine, axis[j] + fine, indexing="ij")
    values = _marginal_grid(features, y, la, lb)
    k, m = np.unravel_index(np.argmax(values), values.shape)
    return float(values[k, m]), float(la[k, m]), float(lb[k, m]), h


def _tall_case():
    rng = np.random.default_rng(3)
    labels = np.arange(20) % 2
    features = np.array([[1.0, -0.5, 0.3], [-0.4, 0.8, 0.1]])[labels] + 0.7 * rng.standard_normal((20, 3))
    return features, labels


def test_the_marginal_of_the_test_is_scipys_multivariate_normal():
    features, labels = _tall_case()
    y = (labels == 0).astype(float)
    for la, lb in [(0.3, 1.2), (-2.0, 4.0)]:
        cov = np.eye(20) / math.exp(lb) + features @ features.T / math.exp(la)
        direct = stats.multivariate_normal(np.zeros(20), cov).logpdf(y)
        assert _close(float(_marginal_grid(features, y, np.array(la), np.array(lb))), direct)


def test_logmes_fixed_point_is_the_maximum_of_a_brute_force_grid_and_logme_the_mean_over_classes():
    features, labels = _tall_case()
    n = len(labels)
    u, s2 = logme.spectrum(features)
    per_class = []
    for c in (0, 1):
        y = (labels == c).astype(float)
        best, la, lb, h = _grid_maximum(features, y)
        z = u.T @ y
        alpha, beta, settled = logme.maximise(z, s2, n, float(y @ y - z @ z))
        assert settled
        ours = logme.class_evidence(u, s2, y, 3) * n
        assert ours >= best - RTOL * abs(best), "a grid point beats the fixed point"
        assert ours - best <= n * h**2, "the grid maximum is further below the fixed point than its step allows"
        assert abs(math.log(alpha) - la) <= 2 * h and abs(math.log(beta) - lb) <= 2 * h
        assert _close(ours, float(_marginal_grid(features, y, np.array(math.log(alpha)), np.array(math.log(beta)))))
        per_class.append(best / n)
    assert abs(logme.logme(PredictorInput(features, labels, 2)) - np.mean(per_class)) <= 1e-6 + h**2


def test_logme_with_fewer_images_than_dimensions_reaches_the_grid_supremum():
    """Features of rank n fit every target exactly; a class's supremum may then lie inside or on a
    boundary (alpha -> inf or beta -> inf, in closed form): the grid runs to e^30 on both axes."""
    rng = np.random.default_rng(5)
    labels = np.arange(6) % 3
    features = rng.standard_normal((6, 8))
    u, s2 = logme.spectrum(features)
    assert len(s2) == 6
    on_boundary = 0
    for c in range(3):
        y = (labels == c).astype(float)
        best, _, _, h = _grid_maximum(features, y, high=30.0)
        ours = logme.class_evidence(u, s2, y, 8) * 6
        assert ours >= best - RTOL * abs(best) and ours - best <= 6 * h**2 + 1e-9
        on_boundary += ours in (logme.no_signal(6, float(y @ y)), logme.noiseless(u.T @ y, s2))
    assert on_boundary >= 1, "the case no longer exercises a boundary"


def test_logme_is_invariant_to_scaling_and_rotating_the_features_and_to_renaming_classes():
    features, labels = _tall_case()
    labels = np.arange(20) % 3
    base = logme.logme(PredictorInput(features, labels, 3))
    for scale in (1e-3, 1e3):
        assert _close(logme.logme(PredictorInput(scale * features, labels, 3)), base, 1e-9)
    assert _close(logme.logme(PredictorInput(features @ _rotation(3, 0), labels, 3)), base, 1e-9)
    assert _close(logme.logme(PredictorInput(features, (labels + 1) % 3, 3)), base)


def test_logme_refuses_a_class_that_is_an_exact_linear_function_of_the_features():
    """Features holding the one-hot label (rank 3 < n): the noise-free fit has unbounded evidence."""
    labels = np.arange(12) % 3
    features = np.hstack([np.eye(3)[labels], np.random.default_rng(0).standard_normal((12, 1))])
    with pytest.raises(rt_core.RtError, match="LogME: the evidence of a target class has no finite maximum"):
        logme.logme(PredictorInput(features, labels, 3))


def test_logme_of_zero_features_is_the_evidence_of_the_labels_alone():
    labels = _labels([3, 5])
    expected = np.mean([0.5 * (math.log(8 / k) - math.log(2 * math.pi) - 1) for k in (3, 5)])
    assert _close(logme.logme(PredictorInput(np.zeros((8, 2)), labels, 2)), expected)


# ---------------------------------------------------------------- H-score


def _hscore_direct(f, y, shrunk=False):
    """tr(cov(f)^-1 cov(E[f|y])) with each image's class mean written out row by row."""
    g = np.stack([f[y == label].mean(axis=0) for label in y])
    cov_f, cov_g = np.cov(f, rowvar=False, bias=True), np.cov(g, rowvar=False, bias=True)
    a = 0.0
    if shrunk:
        cov_f, a = _ledoit_wolf_by_hand(f - f.mean(axis=0))
    return float(np.trace(np.linalg.inv(cov_f) @ ((1 - a) * cov_g)))


def _ledoit_wolf_by_hand(x):
    """Ledoit & Wolf (2004): S shrunk to m I by a = min(b^2, d^2) / d^2, with m = tr S / p,
    d^2 = ||S - m I||^2 / p and b^2 = sum_k ||x_k x_k^T - S||^2 / (n^2 p) (||.|| Frobenius)."""
    n, p = x.shape
    s = x.T @ x / n
    m = np.trace(s) / p
    d2 = np.sum((s - m * np.eye(p)) ** 2) / p
    b2 = sum(np.sum((np.outer(row, row) - s) ** 2) for row in x) / (n**2 * p)
    a = min(b2, d2) / d2
    return (1 - a) * s + a * m * np.eye(p), a


def _three_classes(n=30, d=4, seed=1, spread=1.0):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 3
    return 1.5 * rng.standard_normal((3, d))[labels] + spread * rng.standard_normal((n, d)), labels


def test_hscore_is_the_direct_trace_formula_plain_and_shrunk():
    f, y = _three_classes()
    assert _close(hscore.hscore(PredictorInput(f, y, 3), covariance="plain"), _hscore_direct(f, y))
    assert _close(hscore.hscore(PredictorInput(f, y, 3)), _hscore_direct(f, y, shrunk=True))
    wide_f, wide_y = _three_classes(n=6, d=9)  # singular plain covariance: the shrunk one is still defined
    assert _close(hscore.hscore(PredictorInput(wide_f, wide_y, 3)), _hscore_direct(wide_f, wide_y, shrunk=True))


def test_hscore_reaches_k_minus_1_when_every_image_sits_at_its_class_mean():
    f, y = _three_classes(spread=0.0)  # cov(f) = cov(E[f|y]) of rank 2 in 4 dimensions: the pseudo-inverse
    assert abs(hscore.hscore(PredictorInput(f, y, 3), covariance="plain") - 2.0) <= 1e-9
    noisy = hscore.hscore(PredictorInput(*_three_classes(), 3), covariance="plain")
    assert 0.0 < noisy < 2.0


def test_hscore_invariances():
    """Plain: any invertible linear map of the features; shrunk: scaling and rotation (the Ledoit-Wolf
    target m I and its shrinkage are unchanged by both); both: renaming classes."""
    f, y = _three_classes()
    plain, shrunk = (hscore.hscore(PredictorInput(f, y, 3), covariance=c) for c in ("plain", "shrinkage"))
    mixing = np.random.default_rng(9).standard_normal((4, 4)) + 3 * np.eye(4)
    assert _close(hscore.hscore(PredictorInput(f @ mixing + 5.0, y, 3), covariance="plain"), plain, 1e-9)
    for g in (1e-3 * f, 1e3 * f, f @ _rotation(4, 1) - 2.0):
        assert _close(hscore.hscore(PredictorInput(g, y, 3)), shrunk, 1e-9)
    assert not _close(hscore.hscore(PredictorInput(f @ mixing, y, 3)), shrunk, 1e-3)
    assert _close(hscore.hscore(PredictorInput(f, (y + 1) % 3, 3)), shrunk)


# ---------------------------------------------------------------- LEEP and NCE


def _leep_by_loops(logits, y, k):
    """LEEP from its definition, one sum at a time."""
    n, z_count = logits.shape
    theta = [[math.exp(v) / sum(math.exp(u) for u in row) for v in row] for row in logits]
    joint = [[sum(theta[i][z] for i in range(n) if y[i] == t) / n for z in range(z_count)] for t in range(k)]
    pz = [sum(joint[t][z] for t in range(k)) for z in range(z_count)]
    return sum(math.log(sum(joint[y[i]][z] / pz[z] * theta[i][z] for z in range(z_count))) for i in range(n)) / n


def _leep(logits, y, k):
    return leep.leep(PredictorInput(np.zeros((len(y), 1)), y, k, logits))


def test_leep_of_an_uninformative_source_is_minus_the_label_entropy():
    y = _labels([3, 1, 2])
    p = np.array([3, 1, 2]) / 6
    logits = np.tile(np.log([0.2, 0.5, 0.3]), (6, 1))
    assert _close(_leep(logits, y, 3), float(np.sum(p * np.log(p))))


def test_leep_of_a_symmetric_two_by_two_joint():
    """y = 0 images put (p, 1-p) on the source classes, y = 1 images (1-p, p): P(y|z) = p on the
    diagonal, so every image's expected prediction is p^2 + (1-p)^2."""
    for p in (0.9, 0.6):
        y = _labels([4, 4])
        logits = np.log(np.where(y[:, None] == np.array([0, 1]), p, 1 - p))
        assert _close(_leep(logits, y, 2), math.log(p**2 + (1 - p) ** 2))


def test_leep_matches_its_definition_and_its_invariances():
    rng = np.random.default_rng(2)
    y, logits = np.arange(12) % 3, 2 * rng.standard_normal((12, 4))
    value = _leep(logits, y, 3)
    assert _close(value, _leep_by_loops(logits, y, 3))
    assert _close(_leep(logits[:, [2, 0, 3, 1]], y, 3), value)  # source classes renamed
    assert _close(_leep(logits + rng.standard_normal((12, 1)), y, 3), value)  # softmax ignores a shift per row
    assert _close(_leep(logits, (y + 2) % 3, 3), value)
    assert _leep(logits, y, 4) == pytest.approx(value, rel=1e-15)  # an empty target class adds nothing


def _nce(z, y, k, scale=4.0):
    logits = scale * np.eye(int(z.max()) + 1)[z]
    return nce.nce(PredictorInput(np.zeros((len(y), 1)), y, k, logits))


def test_nce_on_hand_built_joints():
    """Counts [[3, 1], [1, 3]]: H(Y|Z) is the binary entropy of 1/4 for either source label."""
    y, z = np.array([0, 0, 0, 0, 1, 1, 1, 1]), np.array([0, 0, 0, 1, 1, 1, 1, 0])
    assert _close(_nce(z, y, 2), 0.75 * math.log(0.75) + 0.25 * math.log(0.25))
    y3 = _labels([2, 3, 1])
    assert _nce((y3 + 1) % 3, y3, 3) == 0.0  # the source label determines the target label
    p = np.array([2, 3, 1]) / 6
    assert _close(_nce(np.zeros(6, dtype=int), y3, 3), float(np.sum(p * np.log(p))))  # one source label: -H(Y)


def test_nce_invariances():
    rng = np.random.default_rng(4)
    y, z = np.arange(15) % 3, rng.integers(0, 4, 15)
    value = _nce(z, y, 3)
    assert _nce(z, (y + 1) % 3, 3) == pytest.approx(value, rel=1e-14)
    assert _nce((z + 1) % 4, y, 3) == pytest.approx(value, rel=1e-14)
    assert _nce(z, y, 3, scale=1e-3) == value  # the argmax ignores the logits' scale


# ---------------------------------------------------------------- TransRate


def _exact_gaussian(n, second_moment, seed):
    """n zero-mean rows whose empirical second moment X^T X / n is exactly ``second_moment`` (diagonal)."""
    x = np.random.default_rng(seed).standard_normal((n, len(second_moment)))
    x -= x.mean(axis=0)
    x = x @ np.linalg.inv(np.linalg.cholesky(x.T @ x / n)).T
    return x * np.sqrt(second_moment)


def test_the_coding_rate_is_half_the_log_eigenvalues_for_tall_and_wide_matrices():
    rng = np.random.default_rng(6)
    for shape in ((40, 5), (5, 40)):
        z = rng.standard_normal(shape)
        n = shape[0]
        for eps in (1e-4, 0.3):
            eig = np.clip(np.linalg.eigvalsh(z.T @ z), 0, None)
            assert _close(transrate.coding_rate(z, eps), 0.5 * float(np.sum(np.log1p(eig / (n * eps)))))


def test_transrate_of_two_gaussian_classes_in_closed_form():
    """Zero-mean classes with exact second moments S0, S1 (diagonal) and equal sizes: the overall
    second moment is (S0 + S1)/2, so TransRate = 1/2 sum log(1 + (S0 + S1)/(2 eps)) - 1/2 mean_c sum
    log(1 + S_c / eps)."""
    s0, s1 = np.array([4.0, 0.25, 1.0]), np.array([0.25, 4.0, 1.0])
    features = np.vstack([_exact_gaussian(50, s0, 0), _exact_gaussian(50, s1, 1)])
    data = PredictorInput(features, _labels([50, 50]), 2)
    for eps in (1e-4, 0.5):
        expected = 0.5 * np.sum(np.log1p((s0 + s1) / (2 * eps))) - 0.25 * (
            np.sum(np.log1p(s0 / eps)) + np.sum(np.log1p(s1 / eps)))
        assert _close(transrate.transrate(data, eps=eps), float(expected), 1e-9)
    assert rt_core.compute_score("transrate", data) == transrate.transrate(data, eps=1e-4)


def test_transrate_invariances_and_its_scale():
    f, y = _three_classes()
    value = transrate.transrate(PredictorInput(f, y, 3))
    assert _close(transrate.transrate(PredictorInput(f @ _rotation(4, 2) + 7.0, y, 3)), value, 1e-9)
    assert _close(transrate.transrate(PredictorInput(f, (y + 1) % 3, 3)), value)
    wide = transrate.transrate(PredictorInput(f, y, 3), eps=0.5)  # eps is absolute: scale matters at this eps
    assert not _close(transrate.transrate(PredictorInput(2 * f, y, 3), eps=0.5), wide, 1e-2)
    with pytest.raises(rt_core.RtError, match="transrate: eps must be a positive number, got 0"):
        transrate.transrate(PredictorInput(f, y, 3), eps=0)


# ---------------------------------------------------------------- GBC


def _exact_diagonal(n, mean, variance, seed):
    """n rows whose per-coordinate mean and (1/n) variance are exactly ``mean`` and ``variance``."""
    x = np.random.default_rng(seed).standard_normal((n, len(mean)))
    return mean + (x - x.mean(axis=0)) / x.std(axis=0) * np.sqrt(variance)


def _bc_by_quadrature(m1, v1, m2, v2):
    """prod_j of the integral of sqrt(N(x; m1_j, v1_j) N(x; m2_j, v2_j)) dx (diagonal Gaussians factorise)."""
    total = 1.0
    for a, va, b, vb in zip(m1, v1, m2, v2, strict=True):
        lo, hi = min(a, b) - 12 * math.sqrt(max(va, vb)), max(a, b) + 12 * math.sqrt(max(va, vb))
        pdf = lambda x, a=a, va=va, b=b, vb=vb: math.sqrt(stats.norm.pdf(x, a, math.sqrt(va))  # noqa: E731
                                                          * stats.norm.pdf(x, b, math.sqrt(vb)))
        value, _ = integrate.quad(pdf, lo, hi, epsabs=1e-13, epsrel=1e-12, limit=200)
        total *= value
    return total


MEANS = [np.array([0.0, 1.0, -0.5]), np.array([1.0, 0.0, 0.5]), np.array([-1.0, 2.0, 0.0])]
VARIANCES = [np.array([1.0, 0.5, 2.0]), np.array([0.7, 2.0, 1.5]), np.array([1.2, 1.0, 0.4])]


def _gaussian_classes(k, n=40):
    features = np.vstack([_exact_diagonal(n, MEANS[c], VARIANCES[c], c) for c in range(k)])
    return features, _labels([n] * k)


def test_gbc_of_diagonal_gaussians_is_minus_the_quadrature_of_their_overlaps():
    for k in (2, 3):
        f, y = _gaussian_classes(k)
        pairs = [(i, j) for i in range(k) for j in range(k) if i != j]
        expected = -sum(_bc_by_quadrature(MEANS[i], VARIANCES[i], MEANS[j], VARIANCES[j]) for i, j in pairs)
        assert _close(gbc.gbc(PredictorInput(f, y, k)), expected, 1e-9)


def test_gbc_spherical_uses_the_mean_variance_in_every_coordinate():
    f, y = _gaussian_classes(2)
    v0, v1 = (np.full(3, VARIANCES[c].mean()) for c in (0, 1))
    expected = -2 * _bc_by_quadrature(MEANS[0], v0, MEANS[1], v1)
    assert _close(gbc.gbc(PredictorInput(f, y, 2), covariance="spherical"), expected, 1e-9)


def test_gbc_of_equal_variances_is_the_mahalanobis_closed_form():
    """Equal diagonal variances v: D_B = sum (mu1 - mu2)^2 / (8 v), the log-det term is 0."""
    v = np.array([0.5, 2.0, 1.0])
    f = np.vstack([_exact_diagonal(30, MEANS[0], v, 0), _exact_diagonal(30, MEANS[1], v, 1)])
    expected = -2 * math.exp(-float(np.sum((MEANS[0] - MEANS[1]) ** 2 / (8 * v))))
    assert _close(gbc.gbc(PredictorInput(f, _labels([30, 30]), 2)), expected, 1e-12)
    same = np.vstack([f[:30], f[:30]])  # two identical classes overlap fully: BC = 1 each way
    assert gbc.gbc(PredictorInput(same, _labels([30, 30]), 2)) == -2.0


def test_gbc_invariances():
    """Scaling each coordinate, translating, adding a constant coordinate, renaming classes."""
    f, y = _gaussian_classes(3)
    value = gbc.gbc(PredictorInput(f, y, 3))
    assert _close(gbc.gbc(PredictorInput(f * np.array([1e-3, 1.0, 1e3]) - 4.0, y, 3)), value, 1e-9)
    assert gbc.gbc(PredictorInput(np.hstack([f, np.ones((len(y), 1))]), y, 3)) == value
    assert _close(gbc.gbc(PredictorInput(f, (y + 1) % 3, 3)), value, 1e-12)
    with pytest.raises(rt_core.RtError, match="gbc: covariance 'full' is not one of diagonal, spherical"):
        gbc.gbc(PredictorInput(f, y, 3), covariance="full")


# ---------------------------------------------------------------- all six: a planted class signal


@pytest.mark.parametrize("name", ["gbc", "hscore", "leep", "logme", "nce", "transrate"])
def test_a_stronger_planted_class_signal_scores_higher(name):
    """The same noise, class means (and source-head evidence for the label) scaled by 0.25 or 2: every
    built-in must rank the stronger signal higher, in its stated direction."""
    rng = np.random.default_rng(8)
    labels = np.arange(90) % 3
    means, noise, logit_noise = rng.standard_normal((3, 6)), rng.standard_normal((90, 6)), rng.standard_normal((90, 5))

    def record(s):
        logits = 2 * s * np.eye(5)[labels] + logit_noise
        return PredictorInput(s * means[labels] + noise, labels, 3, logits)

    weak, strong = rt_core.compute_score(name, record(0.25)), rt_core.compute_score(name, record(2.0))
    higher = rt_core.get_predictor(name).higher_is_better
    assert (strong > weak) == higher, f"{name}: weak {weak}, strong {strong}"
