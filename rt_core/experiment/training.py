"""Source training: SGD with (optionally Nesterov) momentum, a linear LR warm-up and a step, cosine or
linear LR schedule, the trial's augmentation or regularizer applied through its plugin, everything seeded.

Per batch: x <- base augment (crop/flip) -> plugin augmentation -> regularizer.perturb;
loss = CE(h(x), y) + regularizer.penalty(...); the optimizer uses regularizer.optimizer_settings.
With a treatment warm-up (``treatment_warmup_epochs`` > 0) the plugin's dose rises over the first
steps: each image is treated (augmented or perturbed) with probability r and the penalty is scaled
by r (``treatment_dose``); at r = 1 the step is exactly the unramped one. With ``whiten_first_conv``
the first conv starts from the training images' patch-whitening filters (``whitening``).
A non-finite loss stops training with ``Diverged(epoch)``. Every step's cross-entropy is kept, so
the step at which training left its initial loss plateau can be read off (``plateau_step``), and the
step from which it stayed off it (``plateau_stay_step``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from rt_core.experiment.config import TrainConfig
from rt_core.experiment.whitening import whiten_first_conv
from rt_core.host.augmentation import Augmentation
from rt_core.host.model import SplitModel
from rt_core.host.regularizer import Regularizer


class Diverged(RuntimeError):
    """The training loss became NaN or infinite at ``epoch`` (1-based)."""

    def __init__(self, epoch: int) -> None:
        super().__init__(f"loss is not finite at epoch {epoch}")
        self.epoch = epoch


@dataclass
class Generators:
    """Independent seeded streams: data order, augmentation, attack."""

    order: torch.Generator
    augment: torch.Generator
    attack: torch.Generator

    @classmethod
    def seeded(cls, seed: int, device: torch.device) -> Generators:
        def gen(offset: int) -> torch.Generator:
            return torch.Generator(device=device.type).manual_seed(seed * 1000 + offset)
        return cls(gen(1), gen(2), gen(3))


def crop_flip(x: torch.Tensor, generator: torch.Generator, flip: bool, pad: int = 4) -> torch.Tensor:
    """Random crop with zero padding ``pad`` (and horizontal flip), batched on x's device."""
    b, _, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    dev = generator.device
    oy = torch.randint(0, 2 * pad + 1, (b,), generator=generator, device=dev).to(x.device)
    ox = torch.randint(0, 2 * pad + 1, (b,), generator=generator, device=dev).to(x.device)
    rows = (oy.view(b, 1) + torch.arange(h, device=x.device)).view(b, 1, h, 1).expand(b, x.shape[1], h, w + 2 * pad)
    out = padded.gather(2, rows)
    cols = (ox.view(b, 1) + torch.arange(w, device=x.device)).view(b, 1, 1, w).expand(b, x.shape[1], h, w)
    out = out.gather(3, cols)
    if flip:
        mask = torch.rand(b, generator=generator, device=dev).to(x.device) < 0.5
        out = torch.where(mask.view(b, 1, 1, 1), out.flip(3), out)
    return out


def make_optimizer(model: torch.nn.Module, lr: float, momentum: float, weight_decay: float,
                   regularizer: Regularizer | None, nesterov: bool = False) -> torch.optim.SGD:
    base = {"lr": lr, "momentum": momentum, "weight_decay": weight_decay}
    settings = regularizer.optimizer_settings(base) if regularizer is not None else base
    # foreach: one multi-tensor update instead of a Python loop over parameters; bitwise the same
    # result (tests/experiment/test_sweep.py); its step time against the loop: benchmarks/results/step_profile.json.
    return torch.optim.SGD(model.parameters(), foreach=True, nesterov=nesterov, **settings)


def _batch_loss(model: SplitModel, x: torch.Tensor, y: torch.Tensor, regularizer: Regularizer | None,
                autocast: bool, dose: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """(loss with the regularizer's penalty times ``dose`` (when below 1), the cross-entropy alone)."""
    if regularizer is not None and regularizer.needs_input_grad:
        x = x.detach().requires_grad_(True)
    with torch.autocast(x.device.type, dtype=torch.bfloat16, enabled=autocast):
        features, logits = model.forward_split(x)
        ce = F.cross_entropy(logits.float(), y)
        penalty = regularizer.penalty(model, x, y, features, logits) if regularizer is not None else None
    if penalty is None:
        return ce, ce
    return ce + dose * penalty.float(), ce  # x * 1.0 is exact: at full dose the loss is the unramped one


def treated_mask(n: int, dose: float, generator: torch.Generator, device: torch.device) -> torch.Tensor | None:
    """Which of a batch's ``n`` images the plugin treats at ``dose`` r: each with probability r, drawn
    from ``generator``; None (every image, and nothing drawn) when r >= 1."""
    if dose >= 1.0:
        return None
    return (torch.rand(n, generator=generator, device=generator.device) < dose).to(device)


def _on_some(op: Callable[[torch.Tensor], torch.Tensor], xb: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """``op`` applied to the images ``mask`` selects (all when None), the others left as they are."""
    if mask is None:
        return op(xb)
    out = xb.clone()
    if bool(mask.any()):
        out[mask] = op(xb[mask]).to(out.dtype)
    return out


def augment_batch(xb: torch.Tensor, gens: Generators, augmentation: Augmentation | None,
                  base_augment: str, mask: torch.Tensor | None = None) -> torch.Tensor:
    """The training batch as the model sees it: base crop (and flip), then the plugin augmentation
    (on the images ``mask`` selects; all when None)."""
    if base_augment != "none":
        xb = crop_flip(xb, gens.augment, flip=base_augment == "crop_flip")
    if augmentation is None:
        return xb
    return _on_some(lambda sub: augmentation(sub, gens.augment), xb, mask)


def train_step(model: SplitModel, opt: torch.optim.Optimizer, xb: torch.Tensor, yb: torch.Tensor, gens: Generators,
               augmentation: Augmentation | None, regularizer: Regularizer | None, base_augment: str,
               autocast: bool, dose: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
    """One SGD step on batch (xb, yb): base augmentation, plugin augmentation, the regularizer's
    perturbation, loss (+ penalty), backward, optimiser step; at ``dose`` r < 1 the augmentation and
    the perturbation act on the images ``treated_mask`` draws and the penalty is scaled by r. Returns
    (the loss, its cross-entropy part), detached (no host sync)."""
    mask = treated_mask(len(xb), dose, gens.augment, xb.device) if ramped(augmentation, regularizer) else None
    xb = augment_batch(xb, gens, augmentation, base_augment, mask)
    if regularizer is not None:
        xb = _on_some(lambda sub: regularizer.perturb(model, sub, yb if mask is None else yb[mask], gens.attack),
                      xb, mask)
    loss, ce = _batch_loss(model, xb, yb, regularizer, autocast, dose)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return loss.detach(), ce.detach()


def _ramp(step: int, total: float) -> float:
    """min(1, (step + 1) / total): a linear warm-up over ``total`` steps; 1 throughout when total <= 0."""
    return 1.0 if total <= 0 else min(1.0, (step + 1) / total)


def lr_factor(epoch: int, step: int, steps_per_epoch: int, cfg: TrainConfig) -> float:
    """Multiplier of the base LR at global ``step`` (0-based) in ``epoch`` (1-based): a linear warm-up
    min(1, (step + 1) / W), W = warmup_epochs * steps_per_epoch, times the decay of ``cfg.schedule``:
    "step": gamma ** #{m in milestones : m < epoch}, i.e. torch's MultiStepLR stepped once per epoch;
    "cosine": (1 + cos(pi * t)) / 2 per step, "linear": 1 - t per step, t the fraction of the post-warm-up
    steps already taken (milestones and gamma unused by both).

    >>> cfg = TrainConfig(epochs=2, schedule="linear", warmup_epochs=0.5)
    >>> [round(lr_factor(1 + s // 4, s, 4, cfg), 3) for s in range(8)]
    [0.5, 1.0, 1.0, 0.833, 0.667, 0.5, 0.333, 0.167]
    """
    total = cfg.warmup_epochs * steps_per_epoch
    warm = _ramp(step, total)
    if cfg.schedule in ("cosine", "linear"):
        span = max(1.0, cfg.epochs * steps_per_epoch - total)
        t = min(1.0, max(0.0, step - total) / span)
        return warm * (0.5 * (1.0 + math.cos(math.pi * t)) if cfg.schedule == "cosine" else 1.0 - t)
    return warm * cfg.gamma ** sum(1 for m in cfg.milestones if m < epoch)


def ramped(augmentation: Augmentation | None, regularizer: Regularizer | None) -> bool:
    """Whether a treatment warm-up acts on this plugin: an augmentation, or a regularizer that overrides
    ``perturb`` or ``penalty`` (one acting on the optimizer settings alone is not ramped, and draws
    nothing, so its run is the unramped one)."""
    if augmentation is not None:
        return True
    return regularizer is not None and (type(regularizer).perturb is not Regularizer.perturb
                                        or type(regularizer).penalty is not Regularizer.penalty)


def treatment_dose(step: int, steps_per_epoch: int, cfg: TrainConfig) -> float:
    """The plugin's dose at global ``step`` (0-based): min(1, (step + 1) / W), W =
    treatment_warmup_epochs * steps_per_epoch; 1 throughout when W = 0 (no treatment warm-up).

    >>> cfg = TrainConfig(epochs=2, treatment_warmup_epochs=0.5)
    >>> [treatment_dose(s, 4, cfg) for s in range(4)]
    [0.5, 1.0, 1.0, 1.0]
    """
    return _ramp(step, cfg.treatment_warmup_epochs * steps_per_epoch)


PLATEAU_WINDOW = 10  # steps averaged: one batch's loss is too noisy to call the plateau left
PLATEAU_DROP = 0.9


def plateau_step(losses: Sequence[float], num_classes: int, window: int = PLATEAU_WINDOW) -> int | None:
    """The step count t at which training left its initial loss plateau: the first t >= w with
    mean(losses[t-w:t]) < 0.9 * L0, where L0 = min(mean(losses[:w]), ln k) and w = ``window``: the
    initial loss, but at most the loss of the constant uniform prediction (ln k for k classes), so that
    a model whose first logits are large does not count its fall onto the plateau as leaving it. None
    when the loss never falls that far (or with fewer than w steps).

    >>> plateau_step([2.3] * 20 + [1.0] * 20, num_classes=10)  # 2 low steps in the window: mean 2.04 < 2.07
    22
    >>> plateau_step([2.3] * 40, num_classes=10) is None
    True
    """
    if len(losses) < window:
        return None
    means, threshold = plateau_curve(losses, num_classes, window)
    below = np.flatnonzero(means < threshold)
    return None if len(below) == 0 else int(below[0]) + window


def plateau_stay_step(losses: Sequence[float], num_classes: int, window: int = PLATEAU_WINDOW) -> int | None:
    """The step count from which training stays off its initial plateau to the end: ``plateau_step``
    when no later window mean returns to the threshold (mean(losses[t-w:t]) >= 0.9 * L0 for some t
    after it), else one past the last such t. None when the loss never left the plateau or is back
    on it in the last window. A run that falls back onto the plateau (a penalty that comes in late,
    say) has a later stay step than plateau step; one that does not has the two equal.

    >>> plateau_stay_step([2.3] * 15 + [0.5] * 40, num_classes=10)  # never returns: the plateau step
    17
    >>> plateau_stay_step([2.3] * 15 + [1.0] * 5 + [2.3] * 10 + [0.5] * 40, num_classes=10)  # back on it to 31
    32
    """
    step = plateau_step(losses, num_classes, window)
    if step is None:
        return None
    means, threshold = plateau_curve(losses, num_classes, window)
    above = np.flatnonzero(means >= threshold) + window  # the step counts t whose window mean is on the plateau
    above = above[above > step]
    if len(above) == 0:
        return step
    return None if above[-1] == len(losses) else int(above[-1]) + 1


def plateau_curve(losses: Sequence[float], num_classes: int,
                  window: int = PLATEAU_WINDOW) -> tuple[np.ndarray, float]:
    """(means, threshold) behind ``plateau_step``: means[i] = mean(losses[i:i+w]) and the threshold
    0.9 * min(mean(losses[:w]), ln k).

    >>> means, threshold = plateau_curve([2.3] * 20 + [1.0] * 20, num_classes=10)
    >>> len(means), round(threshold, 4)
    (31, 2.07)
    """
    values = np.asarray(losses, dtype=float)
    reference = min(float(values[:window].mean()), math.log(num_classes))
    return np.convolve(values, np.ones(window) / window, mode="valid"), PLATEAU_DROP * reference


@dataclass(frozen=True)
class TrainLog:
    """What training measured: the mean loss of each epoch (penalty included) and every step's
    cross-entropy on its training batch (as augmented or perturbed)."""

    epoch_losses: list[float]
    step_losses: list[float]

    def plateau(self, num_classes: int) -> dict[str, float | None]:
        """``plateau_step`` and ``plateau_stay_step`` with their shares of all steps (``plateau_frac``,
        ``plateau_stay_frac``); None when never left (or, for the stay step, back on the plateau at the end)."""
        n = len(self.step_losses)
        step, stay = plateau_step(self.step_losses, num_classes), plateau_stay_step(self.step_losses, num_classes)
        return {"plateau_step": step, "plateau_frac": None if step is None or not n else step / n,
                "plateau_stay_step": stay, "plateau_stay_frac": None if stay is None or not n else stay / n}


def train_source(model: SplitModel, x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig, gens: Generators,
                 augmentation: Augmentation | None = None, regularizer: Regularizer | None = None,
                 on_epoch: Callable[[int, float], None] | None = None) -> TrainLog:
    """Train ``model`` on (x, y) in place per ``cfg`` (a TrainConfig); return its ``TrainLog``. With
    ``cfg.whiten_first_conv`` the first conv is first initialised from the patches of x (``whitening``)."""
    if cfg.whiten_first_conv:
        whiten_first_conv(model, x)
    opt = make_optimizer(model, cfg.lr, cfg.momentum, cfg.weight_decay, regularizer, cfg.nesterov)
    base_lrs = [group["lr"] for group in opt.param_groups]
    autocast = x.device.type == "cuda"
    history, step, steps_per_epoch = [], 0, -(-len(x) // cfg.batch_size)
    ces: list[torch.Tensor] = []
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        order = torch.randperm(len(x), generator=gens.order, device=gens.order.device).to(x.device)
        total = torch.zeros((), device=x.device)
        for i in range(0, len(x), cfg.batch_size):
            idx = order[i:i + cfg.batch_size]
            factor = lr_factor(epoch, step, steps_per_epoch, cfg)
            for group, base_lr in zip(opt.param_groups, base_lrs, strict=True):
                group["lr"] = base_lr * factor
            loss, ce = train_step(model, opt, x[idx], y[idx], gens, augmentation, regularizer, cfg.base_augment,
                                  autocast, treatment_dose(step, steps_per_epoch, cfg))
            ces.append(ce)
            step += 1
            total += loss * len(idx)
        mean = (total / len(x)).item()
        if not math.isfinite(mean):
            raise Diverged(epoch)
        history.append(mean)
        if on_epoch is not None:
            on_epoch(epoch, mean)
    return TrainLog(history, torch.stack(ces).tolist() if ces else [])
