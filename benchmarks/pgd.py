"""Item 3, PGD L2 evaluation (eps 0.25, 20 steps, step eps/4, one random start): ours
(``rt_core.pgd``) vs ``torchattacks.PGDL2`` on the same model and the same batch: the
quickstart source model (trained 4 epochs) on 512 source test images; the two run in turn,
``repeats`` times each, median. The model is given in PyTorch's default (contiguous) layout:
torchattacks fails on a channels_last model (its ``view`` of the input gradient), while ours
turns the inputs to channels_last itself, which is part of what is measured. Measures: time ratio
torchattacks/ours (goal >= 1: not slower) and both robust accuracies (goal: within 1 point).
"""

from __future__ import annotations

import torch

from benchmarks.common import SEED, domains, quickstart, trained_model
from benchmarks.harness import Measure, at_least, info, interleaved_times
from rt_core import import_torchvision, pgd

EPS, STEPS, N = 0.25, 20, 512


def _accuracy(model, x, y) -> float:
    with torch.no_grad():
        return 100.0 * (model(x).argmax(1) == y).float().mean().item()


def run(device: torch.device, repeats: int = 7) -> tuple[list[Measure], dict]:
    import_torchvision()  # torchattacks imports torchvision
    import torchattacks

    cfg = quickstart()
    src, _ = domains(cfg, device)
    model = trained_model(cfg, src).to(memory_format=torch.contiguous_format)
    x, y = src.x_test[:N], src.y_test[:N]
    g = torch.Generator(device=device.type).manual_seed(SEED)
    attack = torchattacks.PGDL2(model, eps=EPS, alpha=EPS / 4, steps=STEPS, random_start=True)

    def ours():
        return pgd(model, x, y, eps=EPS, steps=STEPS, alpha=EPS / 4, norm="l2", generator=g)

    def theirs():
        return attack(x, y)

    times = interleaved_times({"ours": ours, "theirs": theirs}, repeats)
    t_ours, t_theirs = times["ours"], times["theirs"]
    torch.manual_seed(SEED)
    rob_ours, rob_theirs = _accuracy(model, ours(), y), _accuracy(model, theirs(), y)
    diff = abs(rob_ours - rob_theirs)
    measures = [at_least("PGD-20 L2: torchattacks / ours time", t_theirs / t_ours, "x", 1.0),
                info("PGD-20 L2 ours", N / t_ours, "images/s"),
                info("PGD-20 L2 torchattacks", N / t_theirs, "images/s"),
                info("robust accuracy ours", rob_ours, "%"), info("robust accuracy torchattacks", rob_theirs, "%"),
                Measure("robust accuracy |ours - torchattacks|", diff, "points", "<= 1", diff <= 1.0),
                info("clean accuracy", _accuracy(model, x, y), "%")]
    details = {"eps": EPS, "steps": STEPS, "alpha": EPS / 4, "images": N, "repeats": repeats,
               "torchattacks": torchattacks.__version__, "model": cfg.model.options}
    return measures, details
