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


def test_jacobian_hold_option_must_be_a_bool():
    with pytest.raises(ValueError, match="hold must be true or false"):
        rt_core.create_regularizer("jacobian", 1.0, hold="yes")


def test_plateau_watch_turns_at_the_step_plateau_step_gives():
    from plugins.jacobian import PlateauWatch

    y = torch.arange(16) % 4
    scales = [0.0] * 12 + [0.2 * i for i in range(1, 30)]  # CE ln 4 on the plateau, then falling
    batches = [s * nn.functional.one_hot(y, 4).float() for s in scales]
    ces = [nn.functional.cross_entropy(b, y).item() for b in batches]
    watch = PlateauWatch()
    turned = [watch.left(b, y) for b in batches]
    first = turned.index(True) + 1  # a step count, as plateau_step gives
    assert first == rt_core.plateau_step(ces, num_classes=4) > 12
    assert all(turned[first - 1:]) and not any(turned[:first - 1])


def _learnable_run(strength, **options):
    """2 epochs of a tiny batch-norm CNN on images that carry their class (a bright 2x2 patch at a
    class-given place), so the cross-entropy leaves its plateau within the run."""
    from rt_core.experiment.config import TrainConfig
    from rt_core.experiment.models import cifar_cnn
    from rt_core.experiment.training import Generators, train_source

    g = torch.Generator().manual_seed(3)
    y = torch.arange(320) % 10
    x = 0.3 * torch.rand(320, 3, 8, 8, generator=g)
    for c in range(10):
        r, s = 2 * (c // 4), 2 * (c % 4)
        x[y == c, :, r:r + 2, s:s + 2] += 1.0
    torch.manual_seed(0)
    model = cifar_cnn(width=0.25, hidden=16, image_size=8, norm="batch", dense_norm="batch")
    cfg = TrainConfig(epochs=2, batch_size=16, lr=0.05, weight_decay=0.0, nesterov=True, schedule="linear")
    reg = rt_core.create_regularizer("jacobian", strength, **options) if strength else None
    torch.manual_seed(1)  # the projections' random directions
    return train_source(model, x, y, cfg, Generators.seeded(0, torch.device("cpu")), None, reg).step_losses


def test_jacobian_hold_trains_as_vanilla_until_the_plateau_is_left_then_penalises():
    vanilla, held, unheld = _learnable_run(0.0), _learnable_run(0.05, hold=True), _learnable_run(0.05)
    step = rt_core.plateau_step(vanilla, num_classes=10)
    assert step is not None and 10 <= step < len(vanilla) - 1
    # the penalty joins the update of the batch that completes the window (step count `step`): every
    # cross-entropy up to it is computed before that update, so it is vanilla's bit for bit
    assert held[:step] == vanilla[:step]
    assert held[step] != vanilla[step]
    assert rt_core.plateau_step(held, num_classes=10) == step
    assert unheld[1] != vanilla[1]  # without the hold the penalty acts from the first update


def test_jacobian_ramp_steps_scales_the_penalty_from_the_batch_it_comes_in():
    model, w = linear_model()
    x = images(3, (1, 4, 4), dtype=torch.float64)
    y = torch.tensor([0, 1, 2])
    reg = rt_core.create_regularizer("jacobian", 2.0, mode="exact", hold=True, ramp_steps=4)
    # cross-entropy ln 3 = 1.0986 for 10 batches, then ln(1 + 2 exp(-1.6)) = 0.3392 (no ties: one such
    # batch in the window gives the mean 1.0226, above 0.9 ln 3 = 0.9888, two give 0.9467, below)
    logits = [torch.zeros(3, 3)] * 10 + [1.6 * nn.functional.one_hot(y, 3).double()] * 7
    values = []
    for batch in logits:
        xr = x.clone().requires_grad_(True)
        pen = reg.penalty(model, xr, y, model.features(xr), batch)
        values.append(None if pen is None else pen.item())
    assert values[:11] == [None] * 11  # the window of batches 3..12 is the first below: it comes in at 12
    full = 2.0 * w.pow(2).sum().item()
    assert values[11:] == pytest.approx([full * r for r in (0.25, 0.5, 0.75, 1.0, 1.0, 1.0)], rel=1e-12)


def test_jacobian_ramp_steps_needs_the_hold():
    with pytest.raises(ValueError, match="ramp_steps must be >= 0, and above 0 only with hold"):
        rt_core.create_regularizer("jacobian", 1.0, ramp_steps=10)
