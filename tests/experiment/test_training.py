"""Source training: the plateau metric, the step log, Nesterov momentum and the linear schedule."""

import math

import pytest
import torch

from rt_core import Regularizer
from rt_core.experiment.config import TrainConfig
from rt_core.experiment.models import cifar_cnn
from rt_core.experiment.training import Generators, lr_factor, make_optimizer, plateau_step, train_source


def test_plateau_step_is_the_first_window_mean_below_nine_tenths_of_the_reference():
    # reference = mean of the first 10 = 2.0 (below ln 10); the window mean falls below 1.8 once
    # 3 of its 10 values are 1.2: (7 * 2.0 + 3 * 1.2) / 10 = 1.76
    losses = [2.0] * 15 + [1.2] * 10
    assert plateau_step(losses, num_classes=10) == 18


def test_plateau_reference_is_capped_at_the_constant_prediction_loss():
    # large initial logits: the loss falls from 4 to ln 10 (the plateau) without leaving it
    ln10 = math.log(10)
    losses = [4.0] * 10 + [ln10] * 50
    assert plateau_step(losses, num_classes=10) is None
    losses += [0.5] * 10
    # 0.9 ln 10 = 2.072: the window [ln10 * w1 + 0.5 * w2] / 10 < 2.072 needs w2 >= 2 of the new values
    assert plateau_step(losses, num_classes=10) == 62


def test_plateau_step_needs_a_full_window():
    assert plateau_step([1.0] * 9, num_classes=10) is None


def test_lr_factor_linear_decays_to_zero_after_the_warm_up():
    cfg = TrainConfig(epochs=1, schedule="linear", warmup_epochs=0.0)
    values = [lr_factor(1, s, 10, cfg) for s in range(10)]
    assert values == pytest.approx([1 - s / 10 for s in range(10)], abs=1e-12)


def test_make_optimizer_passes_nesterov():
    model = torch.nn.Linear(2, 2)
    assert make_optimizer(model, 0.1, 0.9, 0.0, None, nesterov=True).param_groups[0]["nesterov"] is True
    assert make_optimizer(model, 0.1, 0.9, 0.0, None).param_groups[0]["nesterov"] is False


class _ConstantPenalty(Regularizer):
    """Adds the constant 100 to the loss: no gradient, so training is the vanilla one."""

    def penalty(self, model, x, y, features, logits):
        return torch.tensor(100.0)


def _train(regularizer=None):
    torch.manual_seed(0)
    model = cifar_cnn(width=0.25, hidden=8, image_size=8, norm="batch", dense_norm="batch")
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(96, 3, 8, 8, generator=g), torch.arange(96) % 10
    cfg = TrainConfig(epochs=2, batch_size=32, lr=0.05, weight_decay=0.0, nesterov=True, schedule="linear")
    return train_source(model, x, y, cfg, Generators.seeded(0, torch.device("cpu")), regularizer=regularizer)


def test_step_log_holds_every_steps_cross_entropy_without_the_penalty():
    plain, penalised = _train(), _train(_ConstantPenalty(1.0))
    assert len(plain.step_losses) == 2 * 3
    assert penalised.step_losses == plain.step_losses  # the penalty changes no gradient and no CE
    assert penalised.epoch_losses == pytest.approx([v + 100.0 for v in plain.epoch_losses], rel=1e-6)
    assert plain.epoch_losses == pytest.approx([sum(plain.step_losses[:3]) / 3, sum(plain.step_losses[3:]) / 3],
                                               rel=1e-6)


def test_train_log_plateau_gives_the_step_and_its_share_of_all_steps():
    log = _train()
    out = log.plateau(num_classes=10)
    assert set(out) == {"plateau_step", "plateau_frac"}
    assert out["plateau_step"] is None and out["plateau_frac"] is None  # 6 steps < one window
