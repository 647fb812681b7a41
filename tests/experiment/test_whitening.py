"""The whitened first conv: its filters against an independent numpy computation, the responses they
give, the sign convention, independence from the seed, and its use in training and preflight."""

import numpy as np
import pytest
import torch
from torch import nn

from rt_core.errors import RtError
from rt_core.experiment.config import TrainConfig
from rt_core.experiment.models import cifar_cnn, resnet18
from rt_core.experiment.training import Generators, train_source
from rt_core.experiment.whitening import EPS, first_conv, patch_covariance, whiten_first_conv, whitening_filters
from rt_core.host.model import SplitModel


def images(n=40, seed=0):
    """Correlated colour images: a smooth random field per image, channels mixed, in [0, 1]."""
    g = torch.Generator().manual_seed(seed)
    base = torch.nn.functional.avg_pool2d(torch.rand(n, 3, 8, 8, generator=g), 3, 1, 1)
    mix = torch.tensor([[1.0, 0.5, 0.2], [0.3, 1.0, 0.1], [0.0, 0.4, 1.0]])
    return torch.einsum("ij,njhw->nihw", mix, base) / 1.7


def numpy_patches(z, k=3, pad=1):
    """Every k x k patch of z (N, C, H, W) with zero padding, flattened in (channel, row, column) order."""
    z = np.pad(z, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    n, c, h, w = z.shape
    rows = [z[i, :, r:r + k, s:s + k].reshape(-1) for i in range(n) for r in range(h - k + 1) for s in range(w - k + 1)]
    return np.array(rows, dtype=np.float64)


def test_patch_covariance_matches_numpy_over_explicit_patches():
    model = cifar_cnn(width=0.5, image_size=8, norm="batch", input_norm="per_image")
    x = images(n=300)  # more than one chunk of 256
    prefix, conv = first_conv(model.features)
    with torch.no_grad():
        z = prefix(x).double().numpy()
    expected = np.cov(numpy_patches(z), rowvar=False, bias=True)
    got = patch_covariance(prefix, conv, x).numpy()
    # float64 sums over 300 * 64 patches of values of magnitude ~1: rounding far below 1e-10
    np.testing.assert_allclose(got, expected, atol=1e-10)


def test_whitened_filters_respond_with_variance_lambda_over_lambda_plus_eps():
    model = cifar_cnn(width=0.5, image_size=8, norm="batch", input_norm="per_image")
    x = images()
    n = whiten_first_conv(model, x)
    prefix, conv = first_conv(model.features)
    assert n == 8 and conv.out_channels == 16
    with torch.no_grad():
        out = conv(prefix(x)).double()  # (N, 16, H, W)
    resp = out.permute(0, 2, 3, 1).reshape(-1, 16).numpy()
    cov = np.cov(resp[:, :n], rowvar=False, bias=True)
    lam = np.linalg.eigvalsh(patch_covariance(prefix, conv, x).numpy())[::-1][:n]
    # decorrelated, each of variance lambda / (lambda + eps); float32 conv on unit-scale values:
    # relative error ~1e-6 per product over 27-term sums, so 1e-4 is generous and still exacting
    np.testing.assert_allclose(cov, np.diag(lam / (lam + EPS)), atol=1e-4)
    np.testing.assert_array_equal(conv.weight[n:].detach().numpy(), -conv.weight[:n].detach().numpy())


def test_filters_are_signed_by_their_largest_entry_and_independent_of_the_seed():
    x = images()
    weights = []
    for seed in (0, 1):
        torch.manual_seed(seed)
        model = cifar_cnn(width=0.5, image_size=8, norm="batch", input_norm="per_image")
        whiten_first_conv(model, x)
        weights.append(first_conv(model.features)[1].weight.detach().clone())
    assert torch.equal(weights[0], weights[1])
    rows = weights[0][:8].flatten(1)
    top = rows.abs().argmax(1)
    assert (rows[torch.arange(8), top] > 0).all()


def test_whitening_filters_of_a_known_covariance():
    # eigenpairs of [[2, 1], [1, 2]]: 3 along (1, 1)/sqrt 2, 1 along (1, -1)/sqrt 2 (the sign making the
    # largest-magnitude entry, the first on a tie, positive)
    cov = torch.tensor([[2.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    vals, rows = whitening_filters(cov, 2, eps=0.0)
    assert vals.tolist() == pytest.approx([3.0, 1.0])
    r = 2 ** -0.5
    assert rows.numpy() == pytest.approx(np.array([[r / 3 ** 0.5, r / 3 ** 0.5], [r, -r]]))


def test_channels_beyond_the_patch_dimension_keep_their_initial_weights():
    # resnet18 at width 1: a 64-channel stem over 27-value patches: 27 pairs, the last 10 channels untouched
    model = resnet18(width=1.0)
    before = first_conv(model.features)[1].weight.detach().clone()
    assert whiten_first_conv(model, images(n=4)) == 27
    after = first_conv(model.features)[1].weight.detach()
    assert torch.equal(after[54:], before[54:]) and not torch.equal(after[:54], before[:54])


def test_a_model_without_a_top_level_conv_is_refused_in_one_line():
    dense = SplitModel(nn.Sequential(nn.Flatten(), nn.Linear(12, 4), nn.ReLU()), nn.Linear(4, 2))
    with pytest.raises(RtError, match="no Conv2d among their top-level layers; set whiten_first_conv = false"):
        first_conv(dense.features)


def test_train_source_starts_from_the_whitened_filters():
    x, y = images(n=32), torch.arange(32) % 10
    cfg = TrainConfig(epochs=1, batch_size=16, lr=1e-30, momentum=0.0, weight_decay=0.0, whiten_first_conv=True)
    torch.manual_seed(0)
    trained = cifar_cnn(width=0.5, image_size=8, norm="batch", input_norm="per_image")
    reference = cifar_cnn(width=0.5, image_size=8, norm="batch", input_norm="per_image")
    whiten_first_conv(reference, x)
    train_source(trained, x, y, cfg, Generators.seeded(0, torch.device("cpu")))
    # lr 1e-30: the steps move no weight of magnitude ~0.1 by a representable amount
    assert torch.equal(first_conv(trained.features)[1].weight, first_conv(reference.features)[1].weight)
    plain = cifar_cnn(width=0.5, image_size=8, norm="batch", input_norm="per_image")
    train_source(plain, x, y, TrainConfig(epochs=1, batch_size=16, lr=1e-30, momentum=0.0, weight_decay=0.0),
                 Generators.seeded(0, torch.device("cpu")))
    assert not torch.equal(first_conv(plain.features)[1].weight, first_conv(reference.features)[1].weight)
