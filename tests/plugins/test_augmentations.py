"""Values of the built-in augmentations against independent computations."""

import numpy as np
import pytest
import torch
from scipy import ndimage

import rt_core
from plugins.blur import blur, symmetric_index
from plugins.rescale import rescale, rescale_per_image
from plugins.rotation import rotate
from plugins.translation import translate
from rt_core.host.testing import images


def _matrix(op, shape=(1, 8, 8)) -> torch.Tensor:
    """Dense matrix of a linear op on images of ``shape`` (columns = op(basis images))."""
    n = int(np.prod(shape))
    basis = torch.eye(n, dtype=torch.float64).view(n, *shape)
    return op(basis).reshape(n, n).T


@pytest.mark.parametrize("sigma", [0.5, 1.0, 1.5, 2.0])
def test_blur_matches_scipy_gaussian_filter(sigma):
    x = images(2, (3, 12, 12), dtype=torch.float64)
    ours = blur(x, torch.full((2,), sigma)).numpy()
    ref = ndimage.gaussian_filter(x.numpy(), sigma=(0, 0, sigma, sigma), mode="reflect", truncate=3.0)
    np.testing.assert_allclose(ours, ref, atol=1e-12)


def test_symmetric_index_is_half_sample_reflection():
    assert symmetric_index(4, 3, "cpu").tolist() == [2, 1, 0, 0, 1, 2, 3, 3, 2, 1]
    assert symmetric_index(2, 5, "cpu").tolist() == [0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1]


def test_blur_is_a_symmetric_contraction_that_keeps_constants():
    a = _matrix(lambda t: blur(t, torch.full((t.shape[0],), 1.0)))
    assert torch.allclose(a, a.T, atol=1e-12)
    eig = torch.linalg.eigvalsh(a)
    assert eig.abs().max() <= 1 + 1e-12 and eig.min() > -1
    const = torch.full((1, 3, 9, 9), 0.3, dtype=torch.float64)
    assert torch.allclose(blur(const, torch.tensor([2.0])), const, atol=1e-14)


def test_blur_per_sample_sigma_is_within_range_and_varies():
    aug = rt_core.create_augmentation("blur", 2.0, per_sample=True)
    sigma = aug.sample(torch.zeros(64, 3, 8, 8), torch.Generator().manual_seed(0))["sigma"]
    assert sigma.min() >= 0 and sigma.max() <= 2.0 and sigma.std() > 0.3


def test_per_sample_blur_equals_blurring_each_image_alone():
    x = images(3, (3, 10, 10), dtype=torch.float64)
    sig = torch.tensor([0.0, 0.7, 1.8])
    joint = blur(x, sig)
    for i in range(3):
        assert torch.allclose(joint[i], blur(x[i:i + 1], sig[i:i + 1])[0], atol=1e-12)


def test_rescale_rank_drops_with_factor():
    ranks = []
    for m in (1.0, 2.0, 4.0):
        a = _matrix(lambda t, m=m: rescale(t, m) if m > 1 else t)
        ranks.append(int(torch.linalg.matrix_rank(a, atol=1e-8)))
    assert ranks == [64, 16, 4]


def test_rescale_keeps_constants_and_identity_at_one():
    const = torch.full((2, 3, 16, 16), 0.7)
    assert torch.allclose(rescale(const, 2.0), const, atol=1e-6)
    x = images()
    assert torch.equal(rt_core.create_augmentation("rescale", 1.0)(x), x)


def test_rescale_per_sample_factor_is_within_range_and_varies():
    aug = rt_core.create_augmentation("rescale", 3.0, per_sample=True)
    m = aug.sample(torch.zeros(256, 3, 8, 8), torch.Generator().manual_seed(0))["factor"]
    assert m.min() >= 1.0 and m.max() <= 3.0 and m.std() > 0.4
    assert rt_core.create_augmentation("rescale", 3.0).sample(torch.zeros(4, 3, 8, 8), None) == {}


def test_per_sample_rescale_equals_rescaling_each_image_alone():
    x = images(6, (3, 16, 16), dtype=torch.float64)
    factors = torch.tensor([1.0, 1.02, 1.6, 2.0, 2.1, 3.7])  # 1.02: rounds to the full size
    joint = rescale_per_image(x, factors)
    for i in range(6):
        assert torch.allclose(joint[i], rescale(x[i:i + 1], float(factors[i]))[0], atol=1e-12)
    assert torch.allclose(joint[0], x[0], atol=1e-12)
    aug = rt_core.create_augmentation("rescale", 4.0, per_sample=True)
    g = torch.Generator().manual_seed(3)
    params = aug.sample(x, g)
    assert torch.equal(aug.apply(x, params), rescale_per_image(x, params["factor"]))
    a = _matrix(lambda t: rescale_per_image(t, torch.full((t.shape[0],), 2.0)))
    assert torch.allclose(a, _matrix(lambda t: rescale(t, 2.0)), atol=1e-12)


@pytest.mark.parametrize("angle,k", [(90.0, 1), (-90.0, -1), (180.0, 2)])
def test_rotation_by_right_angles_equals_rot90(angle, k):
    x = images(2, (3, 8, 8), dtype=torch.float64)
    ours = rotate(x, torch.full((2,), angle))
    assert torch.allclose(ours, torch.rot90(x, k=k, dims=(2, 3)), atol=1e-6)


def test_rotation_angles_are_uniform_in_range():
    aug = rt_core.create_augmentation("rotation", 45.0)
    a = aug.sample(torch.zeros(4000, 1, 4, 4), torch.Generator().manual_seed(1))["angle"]
    assert a.min() >= -45 and a.max() <= 45 and abs(a.mean()) < 1.5 and abs(a.std() - 90 / 12**0.5) < 1.0


def test_translation_equals_roll_with_zeroed_border():
    x = images(2, (3, 8, 8))
    out = translate(x, torch.tensor([2.0, -1.0]), torch.tensor([-3.0, 0.0]))
    ref0 = torch.roll(x[0], shifts=(2, -3), dims=(1, 2))
    ref0[:, :2, :] = 0
    ref0[:, :, -3:] = 0
    ref1 = torch.roll(x[1], shifts=(-1, 0), dims=(1, 2))
    ref1[:, -1:, :] = 0
    assert torch.equal(out[0], ref0) and torch.equal(out[1], ref1)


def test_translation_shifts_are_whole_pixels_within_d():
    aug = rt_core.create_augmentation("translation", 0.25)
    p = aug.sample(torch.zeros(500, 1, 32, 32), torch.Generator().manual_seed(2))
    for key in ("dx", "dy"):
        assert torch.equal(p[key], p[key].round()) and p[key].abs().max() <= 8 and p[key].abs().max() >= 7


def test_augmentations_run_on_the_generator_and_data_device():
    x = images()
    g = torch.Generator(device="cpu").manual_seed(0)
    for name in ("blur", "rescale", "rotation", "translation"):
        assert rt_core.create_augmentation(name)(x, g).device == x.device
