"""Theory: bounds and their monotonicity, tight numeric bounds, augmentation classification, T5."""

import math

import numpy as np
import pytest
import sympy as sp
import torch
from scipy.optimize import linear_sum_assignment
from scipy.stats import wasserstein_distance

import rt_core
from rt_core import Augmentation, AugmentationSpec, Bound, Regularizer, RegularizerSpec, Strength, hookimpl
from theory import (
    QuadraticGap,
    assert_monotone,
    bound_expression,
    check_bound,
    check_monotone,
    classify_augmentation,
    list_bounds,
    not_necessary,
    not_sufficient,
    sampled_bound,
    strength_trend,
    trust_region_bound,
    trust_region_eig,
    w1_distance,
)
from theory.numeric import cost_matrix

BUILTIN_BOUNDS = ["adversarial", "jacobian", "last_layer", "weight_decay"]


@pytest.mark.parametrize("name", BUILTIN_BOUNDS)
def test_every_builtin_bound_is_decided_symbolically_and_cross_checked(name):
    result = check_bound(name)
    assert result.monotone and result.method == "symbolic"
    expr, symbol, constants = bound_expression(name)
    assert symbol.is_positive and all(s.is_positive for s in constants)
    numeric = check_monotone(expr, symbol, "decreasing", subs={s: 1.3 for s in constants}, points=801)
    values = [float(expr.subs({s: 1.3 for s in constants}).subs(symbol, x)) for x in (0.01, 0.1, 1, 10)]
    assert all(a > b for a, b in zip(values, values[1:], strict=False))
    assert numeric.monotone


def test_bounds_registry_is_extensible(rt_plugin):
    def shrinking():
        lam = sp.Symbol("lambda", positive=True)
        return 1 / (1 + lam), lam, {}

    class Extra:
        @hookimpl
        def rt_register_regularizers(self, register):
            register(RegularizerSpec("my_reg", Regularizer, Strength("lambda", 0.0, 0.0),
                                     bound=Bound(shrinking, constrains="something")))

    rt_plugin(Extra(), "bounds-extra")
    assert "my_reg" in list_bounds() and check_bound("my_reg").monotone


def test_non_monotone_expression_is_caught_with_a_counterexample():
    x = sp.Symbol("x", positive=True)
    sym = check_monotone((x - 2) ** 2, x, "decreasing")
    assert not sym.monotone and sym.method == "symbolic" and sym.counterexample[0] > 2
    assert sym.counterexample[1] > 0
    num = check_monotone(sp.exp(-x) * sp.cos(x), x, "decreasing", domain=(0, 10))
    assert num.monotone is False and num.method == "symbolic"  # solveset: sin x + cos x < 0 on (3pi/4, 7pi/4)
    x0, slope = num.counterexample
    assert slope > 0 and math.pi / 2 < x0 < 3 * math.pi / 2 + 0.1  # d/dx > 0 first on (3pi/4, 7pi/4)
    with pytest.raises(AssertionError, match="is not increasing in x"):
        assert_monotone(1 / x, x, "increasing")


def test_numeric_path_with_special_functions():
    x = sp.Symbol("x", positive=True)
    res = check_monotone(sp.besselj(0, x), x, "decreasing", domain=(0, 3))
    assert res.method == "numeric" and res.monotone  # J0 decreases up to its first minimum at 3.83


def test_w1_matches_the_one_dimensional_closed_form():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=30), rng.normal(1, 2, size=45)
    ours = w1_distance(x[:, None], y[:, None])
    assert abs(ours - wasserstein_distance(x, y)) <= 1e-4 * ours


def test_w1_matches_the_assignment_problem_in_3d():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(25, 3)), rng.normal(0.5, 1.0, size=(25, 3))
    c = cost_matrix(x, y)
    rows, cols = linear_sum_assignment(c)
    ours = w1_distance(x, y)
    assert abs(ours - c[rows, cols].mean()) <= 1e-4 * ours


def _gap(seed=0):
    rng = np.random.default_rng(seed)
    xs, xt = rng.normal(size=(200, 3)), rng.normal(size=(200, 3)) * [2.0, 0.5, 1.0]
    w0 = np.array([1.0, -1.0, 0.5])
    return QuadraticGap.from_samples(xs, xs @ w0 + 0.1 * rng.normal(size=200), xt, xt @ w0 + 0.3 * rng.normal(size=200))


@pytest.mark.parametrize("r", [0.25, 1.0, 3.0])
def test_trust_region_sdp_equals_eigen_solution_and_bounds_sampling(r):
    gap = _gap()
    sdp, eig, sampled = trust_region_bound(gap, r), trust_region_eig(gap, r), sampled_bound(gap, r)
    assert abs(sdp - eig) <= 1e-4 * abs(eig)
    assert sampled <= eig + 1e-9 and sampled >= eig - 1e-3 * abs(eig)


def test_trust_region_hard_and_interior_cases():
    hard = QuadraticGap(np.diag([1.0, -1.0]), np.array([0.0, 0.1]), 0.0)
    assert abs(trust_region_eig(hard, 1.0) - 1.005) < 1e-9 and abs(trust_region_bound(hard, 1.0) - 1.005) < 1e-6
    inside = QuadraticGap(-2 * np.eye(2), np.array([0.3, 0.1]), 0.5)
    assert abs(trust_region_eig(inside, 1.0) - 0.55) < 1e-9 and abs(trust_region_bound(inside, 1.0) - 0.55) < 1e-6


def test_trust_region_bound_is_monotone_in_the_radius():
    gap = _gap(2)
    values = [trust_region_bound(gap, r) for r in (0.1, 0.3, 1.0, 3.0)]
    assert all(a <= b + 1e-7 for a, b in zip(values, values[1:], strict=False))


EXPECTED = {"blur": "regularization", "rescale": "regularization", "rotation": "not_regularization",
            "translation": "not_regularization"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_builtin_verdicts_at_default_strength(name):
    result = classify_augmentation(name, samples=3)
    assert result.verdict == EXPECTED[name], result.reason
    assert result.numbers["linearity_residual"] < 1e-10 and result.numbers["spectral_norm"] < 1.05


def test_blur_and_rescale_shrink_more_as_strength_grows():
    for name, grid in (("blur", [0.5, 1.0, 2.0]), ("rescale", [4 / 3, 2.0, 4.0])):
        trend = strength_trend(name, grid, n=16)
        assert all(c.verdict == "regularization" for c in trend)
        details = [c.numbers["detail_gain"] for c in trend]
        assert details[0] > details[1] > details[2]


def test_isometries_deviate_only_by_border_and_interpolation():
    trans = classify_augmentation("translation", 0.25, samples=3)
    assert trans.numbers["interior_isometry_distance"] < 1e-12 and trans.numbers["border_effect"] > 0.05
    rot = strength_trend("rotation", [15, 45, 90], samples=3)
    assert all(c.verdict == "not_regularization" for c in rot)
    assert all(c.numbers["kernel_fraction"] == 0 and c.numbers["band_min_gain"] > 0.85 for c in rot)


class Flip(Augmentation):
    """Horizontal flip: a permutation of pixels, an exact isometry."""

    def apply(self, x, params):
        return x.flip(3)


class Darken(Augmentation):
    """x -> (1 - s) x: a strict contraction."""

    def apply(self, x, params):
        return (1 - self.strength) * x


class Gamma(Augmentation):
    """x -> x^(1 + s): not linear."""

    def apply(self, x, params):
        return x.clamp_min(0) ** (1 + self.strength)


def test_test_only_augmentations_with_known_answers():
    class Known:
        @hookimpl
        def rt_register_augmentations(self, register):
            register(AugmentationSpec("flip_h", Flip, Strength("p", 0.0, 0.0, 1.0), random=False))
            register(AugmentationSpec("darken", Darken, Strength("s", 0.0, 0.0, 1.0, default=0.5), random=False))

    rt_core.register_plugin(Known(), "known")
    try:
        _known_answers()
    finally:
        rt_core.unregister_plugin("known")


def _known_answers():
    flip = classify_augmentation("flip_h", 1.0, n=16)
    assert flip.verdict == "not_regularization" and flip.numbers["interior_isometry_distance"] < 1e-12
    dark = classify_augmentation("darken", 0.5, n=16)
    assert dark.verdict == "regularization" and abs(dark.numbers["spectral_norm"] - 0.5) < 1e-12
    gamma = classify_augmentation(Gamma(0.5), n=16)
    assert gamma.verdict == "undetermined" and gamma.numbers["linearity_residual"] > 1e-3


def test_third_party_noise_is_undetermined():
    pytest.importorskip("rt_noise", reason="examples/plugin-template is not installed")
    result = classify_augmentation("gaussian_noise", 0.05, n=16, samples=2)
    assert result.verdict == "undetermined"


def test_robustness_not_necessary_construction():
    r = not_necessary()
    assert r.acc_src == 100.0 and r.acc_tgt == 100.0 and abs(r.tau) < 1e-3 and r.rob_src < 1.0


def test_robustness_not_sufficient_construction():
    r = not_sufficient()
    assert r.rob_src == 100.0 and r.acc_tgt == 50.0 and abs(r.tau - math.log(2)) < 1e-3


def test_cli_classify_json(capsys):
    import json

    from rt_core.cli import main

    assert main(["theory", "classify", "rotation", "--strength", "30", "--json", "--samples", "2"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "not_regularization" and "detail_gain" in out["numbers"]
    assert main(["theory", "classify", "blur", "--strength", "1.0", "--json", "--option", "per_sample=true"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "regularization" and out["options"] == {"per_sample": True}


def test_classify_unknown_name():
    with pytest.raises(rt_core.PluginError, match="unknown augmentation 'blurry'"):
        classify_augmentation("blurry")


def test_replayed_instance_equals_the_sampled_batch():
    aug = rt_core.create_augmentation("rotation", 30.0)
    x = torch.rand(3, 1, 8, 8, dtype=torch.float64)
    params = aug.sample(x, torch.Generator().manual_seed(0))
    out = aug.apply(x, params)
    from theory.classify import _replay

    for i in range(3):
        one = {k: v[i:i + 1] for k, v in params.items()}
        assert torch.equal(_replay(aug, one)(x[i:i + 1]), out[i:i + 1])
