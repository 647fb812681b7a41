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
