"""Model architectures: parameter counts of the paper preset (docs/science.md, section 4), the f/g split,
normalisation."""

import pytest
import torch

import rt_core
from rt_core import count_parameters


def test_cifar_cnn_has_the_released_parameter_count():
    model = rt_core.create_model("cifar_cnn", num_classes=10)
    assert count_parameters(model) == 1_182_762 and model.feature_dim == 256


def test_resnet18_has_the_cifar_parameter_count():
    model = rt_core.create_model("resnet18", num_classes=10)
    assert count_parameters(model) == 11_173_962 and model.feature_dim == 512


def test_split_forward_composes_head_and_features():
    model = rt_core.create_model("cifar_cnn", num_classes=7, width=0.25, hidden=32).eval()
    x = torch.rand(3, 3, 32, 32)
    f, logits = model.forward_split(x)
    assert f.shape == (3, 32) and torch.allclose(logits, model(x)) and torch.allclose(model.head(f), logits)


def test_normalisation_is_inside_the_model():
    model = rt_core.create_model("cifar_cnn")
    norm = model.features[0]
    x = torch.ones(1, 3, 2, 2) * 0.4914
    assert isinstance(norm, rt_core.Normalize) and torch.allclose(norm(x)[0, 0], torch.zeros(2, 2), atol=1e-6)


def test_cifar_cnn_norm_option_adds_a_layer_after_each_conv_and_defaults_to_none():
    plain = rt_core.create_model("cifar_cnn", width=0.5, hidden=64, image_size=16)
    assert not any(isinstance(m, torch.nn.BatchNorm2d | torch.nn.GroupNorm) for m in plain.modules())
    for norm, kind in (("batch", torch.nn.BatchNorm2d), ("group", torch.nn.GroupNorm)):
        model = rt_core.create_model("cifar_cnn", width=0.5, hidden=64, image_size=16, norm=norm).eval()
        convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
        assert sum(isinstance(m, kind) for m in model.modules()) == len(convs) == 4
        assert all(c.bias is None for c in convs)
        f, logits = model.forward_split(torch.rand(2, 3, 16, 16))
        assert f.shape == (2, 64) and logits.shape == (2, 10)


def test_cifar_cnn_rejects_an_unknown_norm():
    import pytest

    with pytest.raises(ValueError, match="norm"):
        rt_core.create_model("cifar_cnn", norm="layer")


def test_per_image_standardisation_gives_each_image_zero_mean_and_unit_std():
    model = rt_core.create_model("cifar_cnn", width=0.25, hidden=32, image_size=16, input_norm="per_image")
    first = model.features[0]
    assert isinstance(first, rt_core.PerImageStandardize)
    # pixel std of U[0, s] is s/sqrt(12): every image (and its half-contrast copy) stays above the floor
    x = torch.rand(4, 3, 16, 16) * torch.tensor([0.3, 0.5, 1.0, 0.4]).view(4, 1, 1, 1)
    z = first(x)
    assert torch.allclose(z.mean(dim=(1, 2, 3)), torch.zeros(4), atol=1e-5)
    assert torch.allclose(z.std(dim=(1, 2, 3), unbiased=False), torch.ones(4), atol=1e-4)
    # a brightness shift and a contrast change of an image leave its standardised version unchanged
    assert torch.allclose(first(0.5 * x + 0.2), z, atol=1e-4)


def test_per_image_standardisation_floors_the_std_of_a_flat_image():
    first = rt_core.create_model("cifar_cnn", width=0.25, hidden=32, image_size=16, input_norm="per_image").features[0]
    flat = torch.full((1, 3, 16, 16), 0.7)
    flat[0, 0, 0, 0] = 0.7 + 1e-3  # std ~ 3.6e-5, below the floor 1/sqrt(768)
    z = first(flat)
    n = flat.numel()
    expected = (flat - flat.mean()) * n ** 0.5  # TensorFlow's per_image_standardization: std floored at 1/sqrt(N)
    assert torch.isfinite(z).all() and torch.allclose(z, expected, atol=1e-6)


def test_cifar_cnn_rejects_an_unknown_input_norm():
    import pytest

    with pytest.raises(ValueError, match="input_norm"):
        rt_core.create_model("cifar_cnn", input_norm="per_pixel")


def test_cifar_cnn_dense_norm_puts_batch_norm_before_each_hidden_relu():
    from rt_core.experiment.models import cifar_cnn

    plain = cifar_cnn(width=0.25, hidden=8, image_size=8)
    normed = cifar_cnn(width=0.25, hidden=8, image_size=8, dense_norm="batch")
    bn = [m for m in normed.features if isinstance(m, torch.nn.BatchNorm1d)]
    assert [m.num_features for m in bn] == [8, 8]
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in plain.features)
    with pytest.raises(ValueError, match="unknown dense_norm 'layer'"):
        cifar_cnn(dense_norm="layer")


@pytest.mark.parametrize("blocks", [0, 1, 2])
def test_cifar_cnn_dense_blocks_sets_how_many_hidden_dense_blocks_precede_the_head(blocks):
    from rt_core.experiment.models import cifar_cnn

    model = cifar_cnn(width=0.25, hidden=8, image_size=8, dense_blocks=blocks)
    flat = 16 * 2 * 2  # c2 = 64 x 0.25 channels at 8 / 4 = 2 pixels a side
    linears = [m for m in model.features if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(flat, 8), (8, 8)][:blocks]
    assert model.feature_dim == (8 if blocks else flat)
    assert model(torch.rand(2, 3, 8, 8)).shape == (2, 10)
    convs = 3 * 8 * 9 + 8 + 8 * 8 * 9 + 8 + 8 * 16 * 9 + 16 + 16 * 16 * 9 + 16  # conv weights and biases
    dense = [flat * 8 + 8, 8 * 8 + 8][:blocks]
    assert count_parameters(model) == convs + sum(dense) + (8 if blocks else flat) * 10 + 10


def test_a_config_with_more_dense_blocks_than_the_model_has_is_refused_in_one_line():
    from rt_core.errors import RtError
    from rt_core.experiment.checks import check_options
    from rt_core.experiment.models import cifar_cnn

    with pytest.raises(RtError, match=r"^model\.options\.dense_blocks: .*2") as err:
        check_options(cifar_cnn, {"dense_blocks": 3}, "model.options", "cifar_cnn", ())
    assert "\n" not in str(err.value)
