"""T4 classification of test-only ops with known answers: masks and block low-pass lose information,
sharpen expands, the [0,1] clamp is analysed away, options reach the op, and it is fast."""


import pytest

import rt_core
from tests.helpers.theory_plugins import TheoryTestPlugins
from theory import classify_augmentation
from theory.classify import _classify_cached


@pytest.fixture
def theory_ops():
    """The test-only ops, registered through rt_core's own register_plugin for one test."""
    rt_core.register_plugin(TheoryTestPlugins(), "theory-test-ops")
    _classify_cached.cache_clear()
    yield
    rt_core.unregister_plugin("theory-test-ops")
    _classify_cached.cache_clear()


@pytest.mark.parametrize("name", ["erasing", "cutout", "jpeg_like", "avg_pool"])
def test_information_loss_is_regularization(theory_ops, name):
    result = classify_augmentation(name, samples=5)
    assert result.verdict == "regularization", result.reason
    assert result.numbers["kernel_fraction"] > 0 and result.numbers["spectral_norm"] < 1.05
    assert "kernel" in result.reason and "before the final [0,1] clamp" in result.reason


def test_masks_keep_surviving_pixels_whole_yet_lose_directions(theory_ops):
    erase = classify_augmentation("erasing", 0.2, samples=5)
    assert erase.numbers["detail_gain"] > 0.99 and erase.numbers["kernel_fraction"] > 0.2


def test_clamped_ops_are_analysed_before_the_clamp(theory_ops):
    jpeg = classify_augmentation("jpeg_like", 0.5)
    assert jpeg.numbers["full_range_residual"] > 1e-3  # the clamp is active on full-range images
    assert jpeg.numbers["linearity_residual"] < 1e-6 and abs(jpeg.numbers["kernel_fraction"] - 28 / 64) < 1e-9


def test_sharpen_is_expansive(theory_ops):
    sharp = classify_augmentation("sharpen", 1.0)
    assert sharp.verdict == "expansive" and sharp.numbers["spectral_norm"] > 2


def test_options_reach_the_op_and_rounding_is_not_linear(theory_ops):
    rounded = classify_augmentation("jpeg_like", 0.5, options={"step": 0.05})
    assert rounded.verdict == "undetermined" and rounded.options == {"step": 0.05}
    assert classify_augmentation("jpeg_like", 0.5).verdict == "regularization"


def test_one_classification_is_cached():
    """The report classifies each (plugin, strength) once: a second call returns the cached result
    without computing again (its speed is measured in benchmarks/, not asserted here)."""
    _classify_cached.cache_clear()
    first = classify_augmentation("rotation", 30.0, samples=5)
    assert _classify_cached.cache_info().misses == 1
    assert classify_augmentation("rotation", 30.0, samples=5) is first
    assert _classify_cached.cache_info().hits == 1


def test_a_contrast_change_is_invariance_of_a_model_that_standardises_each_image(theory_ops):
    """x -> 0.5 + c (x - 0.5) is a strict contraction by c, but per-image standardisation undoes it
    exactly: what the model sees, n . a, is n."""
    seen = classify_augmentation("contrast", 0.5, input_norm="per_image")
    assert seen.verdict == "invariant" and seen.reason.startswith("invariance of the model: no effect"), seen.reason
    # n(a(x)) and n(x) agree to float64 rounding: a few units of 1e-16 on values of order 1
    assert seen.numbers["invariance_residual"] < 1e-12 and seen.input_norm == "per_image"
    plain = classify_augmentation("contrast", 0.5)
    assert plain.verdict == "regularization" and plain.reason.startswith("strict contraction: Lip(h . a) <= 0.5000")


def test_blur_is_no_contraction_for_a_model_that_standardises_each_image():
    """The standardisation rescales the blurred image back to the input's contrast, so what the model
    sees stretches what blur keeps; dataset normalisation (invertible, affine) keeps blur's verdict."""
    seen = classify_augmentation("blur", 1.0, input_norm="per_image")
    assert seen.verdict == "expansive" and "per-image standardisation rescales a(x)" in seen.reason, seen.reason
    assert seen.numbers["contrast_ratio"] > 1.2 and seen.numbers["spectral_norm"] > 1.05
    dataset = classify_augmentation("blur", 1.0, input_norm="dataset")
    assert dataset.verdict == "regularization" and "invertible affine map" in dataset.reason


def test_the_reason_printed_is_the_one_that_decided(theory_ops):
    for c in (0.96, 0.99):  # deterministic, spectral norm c: within tol of an isometry, a fixed offset
        r = classify_augmentation("contrast", c)
        assert r.verdict == "not_regularization" and f"spectral norm {c:.4f}" in r.reason, r.reason
        assert "fixed offset" in r.reason and "noise" not in r.reason and "isometry plus" not in r.reason
    noise = classify_augmentation("pixel_noise", 0.2, samples=3)  # the plugin's clamp holds a few outputs
    assert noise.verdict == "undetermined" and "offset that varies with the sampled parameters" in noise.reason
    assert "not linear" not in noise.reason and noise.numbers["clamped_at_midgray"] > 0
    assert noise.numbers["linearity_residual"] < 1e-6 and noise.numbers["spectral_norm"] < 1.05
    # an affine op whose clamp never acts has no full-range residual (none to blame on the clamp)
    assert classify_augmentation("contrast", 0.5).numbers["full_range_residual"] < 1e-12


def test_an_unknown_input_norm_is_one_line(capsys):
    from rt_core.cli import main

    assert main(["theory", "classify", "blur", "--input-norm", "per_image"]) == 0
    out = capsys.readouterr().out
    assert "(as a model with input_norm per_image sees it): expansive" in out and "contrast_ratio" in out
    with pytest.raises(rt_core.RtError, match="unknown input_norm 'batch'"):
        classify_augmentation("blur", 1.0, input_norm="batch")


def test_the_spectral_norm_falls_back_to_dense_when_arpack_stalls(monkeypatch):
    """ARPACK can stall on a projection (its Lanczos basis breaks down after two steps); the fallback
    gives the same largest singular value as LAPACK's full SVD, to float64 rounding of a value of
    order 1 (a few units of 1e-16, times the 256-long sums of a matrix product)."""
    import numpy as np
    from scipy.sparse.linalg import ArpackNoConvergence

    import theory.classify as classify

    seen = {}

    def stalls(*args, **kwargs):
        seen.update(kwargs)
        raise ArpackNoConvergence("no convergence", np.array([]), np.array([]))

    rng = np.random.default_rng(0)
    q, _ = np.linalg.qr(rng.standard_normal((256, 100)))
    for a in (q @ q.T, 0.5 * rng.standard_normal((256, 256))):
        expected = np.linalg.norm(a, 2)
        assert abs(classify._spectral(a) - expected) < 1e-12 * expected
        seen.clear()
        with monkeypatch.context() as m:
            m.setattr(classify, "svds", stalls)
            assert abs(classify._spectral(a) - expected) < 1e-12 * expected
        assert seen["maxiter"] == classify.SVDS_RESTARTS  # a bounded wait before the fallback
