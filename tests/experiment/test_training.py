"""Source training: the plateau metric, the step log, Nesterov momentum, the linear schedule and the
treatment warm-up."""

import math

import pytest
import torch

from rt_core import Augmentation, Regularizer
from rt_core.experiment.config import TrainConfig
from rt_core.experiment.models import cifar_cnn
from rt_core.experiment.training import (
    Generators,
    augment_batch,
    lr_factor,
    make_optimizer,
    plateau_stay_step,
    plateau_step,
    ramped,
    train_source,
    train_step,
    treated_mask,
    treatment_dose,
)


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


def test_plateau_stay_step_is_one_past_the_last_window_back_on_the_plateau():
    # threshold 0.9 * 2.0 = 1.8; left at 18 (as above), then steps 26-35 back at 2.0: the window ending at
    # step 36 holds one 0.5 (mean 1.85, on the plateau), the one ending at 37 two (1.7, off it for good)
    losses = [2.0] * 15 + [1.2] * 10 + [2.0] * 10 + [0.5] * 20
    assert plateau_step(losses, num_classes=10) == 18
    means = [sum(losses[t - 10:t]) / 10 for t in range(10, len(losses) + 1)]
    last_on = max(t for t, m in zip(range(10, len(losses) + 1), means, strict=True) if m >= 1.8)
    assert plateau_stay_step(losses, num_classes=10) == last_on + 1 == 37


def test_plateau_stay_step_equals_the_plateau_step_without_a_return_and_is_none_when_back_at_the_end():
    assert plateau_stay_step([2.0] * 15 + [1.2] * 10, num_classes=10) == 18
    assert plateau_stay_step([2.0] * 15 + [1.2] * 10 + [2.0] * 10, num_classes=10) is None
    assert plateau_stay_step([2.0] * 30, num_classes=10) is None


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


def _train(regularizer=None, augmentation=None, treatment_warmup_epochs=0.0):
    torch.manual_seed(0)
    model = cifar_cnn(width=0.25, hidden=8, image_size=8, norm="batch", dense_norm="batch")
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(96, 3, 8, 8, generator=g), torch.arange(96) % 10
    cfg = TrainConfig(epochs=2, batch_size=32, lr=0.05, weight_decay=0.0, nesterov=True, schedule="linear",
                      treatment_warmup_epochs=treatment_warmup_epochs)
    return train_source(model, x, y, cfg, Generators.seeded(0, torch.device("cpu")), augmentation, regularizer)


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
    assert set(out) == {"plateau_step", "plateau_frac", "plateau_stay_step", "plateau_stay_frac"}
    assert set(out.values()) == {None}  # 6 steps < one window


def test_treatment_dose_rises_linearly_to_one_over_the_warm_up():
    cfg = TrainConfig(epochs=3, treatment_warmup_epochs=1.5)  # W = 6 steps at 4 steps an epoch
    assert [treatment_dose(s, 4, cfg) for s in range(8)] == pytest.approx([1 / 6, 2 / 6, 3 / 6, 4 / 6, 5 / 6, 1, 1, 1])
    assert {treatment_dose(s, 4, TrainConfig(epochs=3)) for s in range(12)} == {1.0}


def test_treated_mask_draws_nothing_at_full_dose_and_a_fraction_r_below_it():
    g = torch.Generator().manual_seed(0)
    before = g.get_state()
    assert treated_mask(64, 1.0, g, torch.device("cpu")) is None
    assert torch.equal(g.get_state(), before)  # full dose: the augmentation stream is untouched
    mask = treated_mask(20_000, 0.3, g, torch.device("cpu"))
    # Binomial(20000, 0.3): SD of the fraction sqrt(0.21 / 20000) = 0.0032; 5 SD is 0.016
    assert mask.dtype == torch.bool and abs(mask.float().mean().item() - 0.3) < 0.016
    assert not treated_mask(100, 0.0, g, torch.device("cpu")).any()


class _AddOne(Augmentation):
    def apply(self, x, params):
        return x + 1.0


def test_augment_batch_treats_only_the_masked_images():
    x = torch.rand(6, 1, 2, 2, generator=torch.Generator().manual_seed(0))
    mask = torch.tensor([True, False, True, False, False, True])
    out = augment_batch(x, Generators.seeded(0, torch.device("cpu")), _AddOne(1.0), "none", mask)
    assert torch.equal(out[mask], x[mask] + 1.0) and torch.equal(out[~mask], x[~mask])
    assert torch.equal(augment_batch(x, Generators.seeded(0, torch.device("cpu")), _AddOne(1.0), "none"), x + 1.0)


class _LabelAsInput(Regularizer):
    """Replaces each image it perturbs by its label (so a misaligned label subset would show)."""

    def perturb(self, model, x, y, generator=None):
        return y.view(-1, 1, 1, 1).float().expand_as(x).clone()


def test_a_perturbation_at_partial_dose_sees_its_own_images_labels():
    model = cifar_cnn(width=0.25, hidden=8, image_size=8, norm="batch", dense_norm="batch")
    opt = make_optimizer(model, 0.0, 0.0, 0.0, None)
    x, y = torch.zeros(32, 3, 8, 8), torch.arange(32) % 10
    seen = {}
    model.forward_split = lambda xb, f=model.forward_split: (seen.setdefault("x", xb.detach().clone()), f(xb))[1]
    train_step(model, opt, x, y, Generators.seeded(0, torch.device("cpu")), None, _LabelAsInput(1.0), "none", False,
               dose=0.5)
    mask = treated_mask(32, 0.5, Generators.seeded(0, torch.device("cpu")).augment, x.device)  # the same draw
    assert 0 < int(mask.sum()) < 32
    treated = seen["x"][mask][:, 0, 0, 0]
    assert torch.equal(treated, y[mask].float()) and not seen["x"][~mask].any()


def test_treatment_warm_up_scales_the_penalty_by_the_dose():
    plain = _train()
    ramped = _train(_ConstantPenalty(1.0), treatment_warmup_epochs=1.0)  # 3 steps an epoch: doses 1/3, 2/3, 1
    assert ramped.step_losses == plain.step_losses  # a constant penalty moves no weight
    assert ramped.epoch_losses == pytest.approx([plain.epoch_losses[0] + 100 * (1 / 3 + 2 / 3 + 1) / 3,
                                                 plain.epoch_losses[1] + 100.0], rel=1e-6)


def test_treatment_warm_up_leaves_vanilla_training_and_full_dose_steps_as_they_were():
    assert _train(treatment_warmup_epochs=1.0).step_losses == _train().step_losses  # no plugin: nothing drawn
    ramped = _train(augmentation=_AddOne(1.0), treatment_warmup_epochs=1.0)
    full = _train(augmentation=_AddOne(1.0))
    assert ramped.step_losses[0] != full.step_losses[0]  # step 1 treats about a third of the batch
    assert len(ramped.step_losses) == len(full.step_losses) == 6


class _LowerLR(Regularizer):
    """Acts on the optimizer settings alone."""

    def optimizer_settings(self, base):
        return {**base, "lr": base["lr"] / 2}


def test_a_regularizer_on_the_optimizer_alone_is_not_ramped_and_draws_nothing():
    def run(warm):
        torch.manual_seed(0)
        model = cifar_cnn(width=0.25, hidden=8, image_size=8, norm="batch", dense_norm="batch")
        x, y = torch.rand(96, 3, 8, 8, generator=torch.Generator().manual_seed(1)), torch.arange(96) % 10
        cfg = TrainConfig(epochs=2, batch_size=32, lr=0.05, weight_decay=0.0, base_augment="crop",
                          treatment_warmup_epochs=warm)
        return train_source(model, x, y, cfg, Generators.seeded(0, torch.device("cpu")), None, _LowerLR(1.0))

    assert not ramped(None, _LowerLR(1.0)) and ramped(None, _ConstantPenalty(1.0)) and ramped(_AddOne(1.0), None)
    assert run(1.0).step_losses == run(0.0).step_losses  # the crop stream is untouched by a mask draw


def test_versions_record_the_cpu_and_the_instruction_set_torch_uses():
    from rt_core.experiment.environment import versions

    found = versions(torch.device("cpu"))
    assert found["cpu"].endswith(f"torch kernels {torch.backends.cpu.get_cpu_capability()}")
    assert {"rt", "torch", "python", "platform", "cpu", "device", "host", "threads"} <= set(found)
