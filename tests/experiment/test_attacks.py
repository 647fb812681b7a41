"""PGD properties on tiny seeded problems."""

import pytest
import torch
from torch import nn

from rt_core import pgd, project
from rt_core.host.testing import images, tiny_model


def trained_linear(seed=0):
    """A linear classifier fitted on two separable clusters (so it is accurate before attack)."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (64,), generator=g)
    x = (0.3 + 0.4 * y.view(-1, 1, 1, 1).float() + 0.1 * torch.rand(64, 1, 4, 4, generator=g)).clamp(0, 1)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 2))
    with torch.no_grad():
        model[1].weight.copy_(torch.stack([-torch.ones(16), torch.ones(16)]))
        model[1].bias.copy_(torch.tensor([8.0, -8.0]))
    return model, x, y


@pytest.mark.parametrize("norm,eps", [("l2", 0.25), ("l2", 1.0), ("linf", 8 / 255), ("linf", 0.1)])
def test_perturbation_within_eps_and_box(norm, eps):
    model = tiny_model().eval()
    x, y = images(6, seed=4), torch.arange(6) % 4
    xa = pgd(model, x, y, eps=eps, steps=5, norm=norm, generator=torch.Generator().manual_seed(0))
    d = (xa - x).flatten(1)
    size = d.norm(dim=1) if norm == "l2" else d.abs().max(1).values
    assert (size <= eps * (1 + 1e-5)).all() and xa.min() >= 0 and xa.max() <= 1


def test_eps_zero_returns_clean_inputs():
    model = tiny_model().eval()
    x, y = images(4), torch.arange(4)
    assert torch.equal(pgd(model, x, y, eps=0.0), x)


def test_robust_accuracy_at_most_clean_and_falls_with_eps():
    model, x, y = trained_linear()
    accs = []
    for eps in (0.0, 0.5, 1.0, 2.0, 4.0):
        xa = pgd(model, x, y, eps=eps, steps=20, generator=torch.Generator().manual_seed(0))
        accs.append((model(xa).argmax(1) == y).float().mean().item())
    assert accs[0] == 1.0 and all(a >= b for a, b in zip(accs, accs[1:], strict=False)) and accs[-1] == 0.0


def test_l2_attack_matches_the_closed_form_on_a_linear_model():
    """For a linear binary model the optimal L2 attack moves along w1 - w0 by eps: the margin
    drops by eps * ||w1 - w0||_2 exactly (when the box is not active)."""
    model, x, y = trained_linear()
    x = x[:8].clamp(0.3, 0.7)
    y = y[:8]
    w = model[1].weight.detach()
    direction = (w[1] - w[0]) / (w[1] - w[0]).norm()
    eps = 0.1
    xa = pgd(model, x, y, eps=eps, steps=50, alpha=eps / 4, random_start=False)
    sign = (1 - 2 * y).float().view(-1, 1)  # push class 1 down, class 0 up
    expected = x.flatten(1) + sign * eps * direction
    assert torch.allclose(xa.flatten(1), expected, atol=1e-5)


def test_zero_gradient_gives_no_nan():
    model = nn.Sequential(nn.Flatten(), nn.Linear(48, 3))
    nn.init.zeros_(model[1].weight)
    x, y = images(4, (3, 4, 4)), torch.arange(4) % 3
    xa = pgd(model, x, y, eps=0.5, steps=3, random_start=False)
    assert torch.isfinite(xa).all() and torch.equal(xa, x)


def test_restarts_keep_the_worst_case_per_example():
    model = tiny_model().eval()
    x, y = images(16, seed=5), torch.arange(16) % 4

    def loss(z):
        return nn.functional.cross_entropy(model(z), y, reduction="none")

    single = pgd(model, x, y, eps=0.5, steps=2, generator=torch.Generator().manual_seed(3))
    multi = pgd(model, x, y, eps=0.5, steps=2, restarts=4, generator=torch.Generator().manual_seed(3))
    wrong_single = model(single).argmax(1) != y
    wrong_multi = model(multi).argmax(1) != y
    assert (wrong_multi | ~wrong_single).all()
    same = wrong_multi == wrong_single
    assert (loss(multi)[same] >= loss(single)[same] - 1e-6).all()


def test_no_parameter_gradients_are_left():
    model = tiny_model().eval()
    pgd(model, images(4), torch.arange(4), eps=0.5, steps=2)
    assert all(p.grad is None for p in model.parameters())


def test_projection_and_bad_arguments():
    d = torch.tensor([[3.0, 4.0]])
    assert torch.allclose(project(d, 1.0, "l2"), torch.tensor([[0.6, 0.8]]))
    assert torch.equal(project(d, 1.0, "linf"), torch.tensor([[1.0, 1.0]]))
    with pytest.raises(ValueError, match="unknown norm 'l1'"):
        pgd(None, d, None, eps=1.0, norm="l1")
