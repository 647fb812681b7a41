"""Values of the built-in regularizers against closed forms."""

import pytest
import torch
from torch import nn

import rt_core
from plugins.jacobian import feature_norm_gradient, frobenius_exact, frobenius_projection
from rt_core import SplitModel
from rt_core.host.testing import images, tiny_model


def linear_model(c_out=5, shape=(1, 4, 4), seed=0) -> tuple[SplitModel, torch.Tensor]:
    torch.manual_seed(seed)
    lin = nn.Linear(int(torch.tensor(shape).prod()), c_out, bias=False).double()
    return SplitModel(nn.Sequential(nn.Flatten(), lin), nn.Linear(c_out, 3).double()), lin.weight


def _features(model, x):
    x = x.clone().requires_grad_(True)
    return model.features(x), x


def test_exact_frobenius_equals_weight_norm_for_linear_features():
    model, w = linear_model()
    f, x = _features(model, images(3, (1, 4, 4), dtype=torch.float64))
    assert torch.allclose(frobenius_exact(f, x), w.pow(2).sum(), rtol=1e-12)


def test_projection_estimator_is_unbiased():
    model, w = linear_model()
    f, x = _features(model, images(4, (1, 4, 4), dtype=torch.float64))
    torch.manual_seed(1)
    est = frobenius_projection(f, x, projections=4000)
    assert abs(est.item() / w.pow(2).sum().item() - 1) < 0.03


def test_feature_norm_variant_closed_form():
    model, w = linear_model()
    f, x = _features(model, images(2, (1, 4, 4), dtype=torch.float64))
    xs = x.detach().flatten(1)
    z = xs @ w.T
    grad = (z / z.norm(dim=1, keepdim=True)) @ w
    assert torch.allclose(feature_norm_gradient(f, x), grad.pow(2).sum() / 2, rtol=1e-10)


def test_jacobian_penalty_scales_with_lambda_and_trains():
    model, w = linear_model()
    x = images(3, (1, 4, 4), dtype=torch.float64)
    reg = rt_core.create_regularizer("jacobian", 2.0, mode="exact")
    pen = reg.penalty(model, x, None, *model.forward_split(x))
    assert torch.allclose(pen, 2.0 * w.pow(2).sum())
    pen.backward()
    assert torch.allclose(model.features[1].weight.grad, 4.0 * w)  # d/dW of 2 ||W||_F^2


def test_jacobian_bad_options():
    with pytest.raises(ValueError, match="unknown Jacobian mode 'full'"):
        rt_core.create_regularizer("jacobian", 1.0, mode="full")
    with pytest.raises(ValueError, match="projections >= 1"):
        rt_core.create_regularizer("jacobian", 1.0, projections=0)


def test_last_layer_penalty_is_lambda_times_frobenius_norm():
    model = tiny_model()
    reg = rt_core.create_regularizer("last_layer", 0.3)
    x = images(2)
    pen = reg.penalty(model, x, None, *model.forward_split(x))
    assert torch.allclose(pen, 0.3 * torch.linalg.matrix_norm(model.head.weight))


def test_weight_decay_adds_to_the_base_value_and_its_identity_is_zero_whatever_the_base():
    reg = rt_core.create_regularizer("weight_decay", 1e-3)
    assert reg.optimizer_settings({"lr": 0.1, "weight_decay": 5e-4}) == {"lr": 0.1, "weight_decay": 1.5e-3}
    ident = rt_core.create_regularizer("weight_decay", rt_core.identity_strength("weight_decay"))
    assert ident.is_identity and ident.optimizer_settings({"lr": 0.1, "weight_decay": 5e-4}) == \
        {"lr": 0.1, "weight_decay": 5e-4}


@pytest.mark.parametrize("norm", ["l2", "linf"])
def test_adversarial_training_batch_is_within_eps_and_raises_the_loss(norm):
    model = tiny_model()
    x, y = images(8, seed=2), torch.arange(8) % 4
    eps = 0.5 if norm == "l2" else 8 / 255
    reg = rt_core.create_regularizer("adversarial", eps, norm=norm)
    assert abs(reg.step_size - 2.5 * eps / 7) < 1e-12
    model.train()
    xa = reg.perturb(model, x, y, torch.Generator().manual_seed(0))
    delta = (xa - x).flatten(1)
    size = delta.norm(dim=1) if norm == "l2" else delta.abs().max(dim=1).values
    assert (size <= eps + 1e-6).all() and model.training
    model.eval()
    with torch.no_grad():
        clean = nn.functional.cross_entropy(model(x), y)
        adv = nn.functional.cross_entropy(model(xa), y)
    assert adv > clean
