"""The recipe screen of section 8: four variants of the warm-up recipe at its candidate's strongest settings.

Usage (from the repository root; each row one source training on one thread)::

    python docs/results/room-to-move/whiten/recipe_screen.py CONFIG VARIANT SEEDS OUT.jsonl

CONFIG: the rows in ``recipe_screen.csv`` came from section 7's candidate,
``docs/results/room-to-move/warmup/study_warmup.toml`` (vanilla and four of its strongest settings).

VARIANT: ``base`` (CONFIG as it is), ``lr0.1`` (learning rate 0.1), ``dirac`` (every conv's first
min(in, out) filters set to the identity, airbench's other initialisation) or ``whiten`` (the first
conv whitened). SEEDS: e.g. ``0,1``. Each
row: the setting, acc_src, the plateau step and the full-dose step (``ramp_curves.after_warm_up``).

This is the prototype that found the whitening: it whitens from the first 2,000 training images and
keeps the eigenvectors' signs as LAPACK returns them. The shipped option
(``train.whiten_first_conv``, ``rt_core/experiment/whitening.py``) uses every training image and
fixes each sign, so its runs differ from these rows in the last digits of every number; the
section's later tables come from the shipped option.
"""
import dataclasses
import json
import sys
import time
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from ramp_curves import after_warm_up, strongest

from rt_core.experiment.evaluation import accuracy_and_loss, predict_logits
from rt_core.experiment.loading import load_config
from rt_core.experiment.parts import domains, new_model, plugin_objects
from rt_core.experiment.training import Generators, train_source


def whiten(model, x, eps=5e-4):
    """The prototype whitening of the first conv (module docstring)."""
    conv = next(m for m in model.features if isinstance(m, nn.Conv2d))
    z = model.features[0](x[:2000])
    k = conv.kernel_size[0]
    p = torch.nn.functional.unfold(z, k, padding=conv.padding[0]).transpose(1, 2).reshape(-1, z.shape[1] * k * k)
    p = p - p.mean(0)
    cov = p.T @ p / len(p)
    vals, vecs = torch.linalg.eigh(cov)
    vals, vecs = vals.flip(0), vecs.flip(1)
    half = conv.out_channels // 2
    w = (vecs[:, :half] / torch.sqrt(vals[:half] + eps)).T.reshape(half, z.shape[1], k, k)
    with torch.no_grad():
        conv.weight.copy_(torch.cat([w, -w]))

def dirac(model):
    """Each conv's first min(in, out) filters set to the identity (``nn.init.dirac_``)."""
    with torch.no_grad():
        for m in model.features:
            if isinstance(m, nn.Conv2d):
                n = min(m.out_channels, m.in_channels)
                nn.init.dirac_(m.weight[:n])

def main(config, variant, seeds, out):
    torch.set_num_threads(1)
    base = load_config(config)
    cpu = torch.device("cpu")
    src, _ = domains(base, cpu)
    train = base.train
    if variant.startswith("lr"):
        train = dataclasses.replace(train, lr=float(variant[2:]))
    cfg = dataclasses.replace(base, train=train)
    keep = {"vanilla", "adversarial", "jacobian", "rotation", "translation"}
    with open(out, "a") as fh:
        for seed in seeds:
            for trial in strongest(cfg, seed):
                if trial.plugin not in keep:
                    continue
                t0 = time.time()
                model = new_model(cfg, src.num_classes, cpu, seed)
                if variant == "whiten":
                    whiten(model, src.x_train)
                if variant == "dirac":
                    dirac(model)
                aug, reg = plugin_objects(trial)
                log = train_source(model, src.x_train, src.y_train, cfg.train, Generators.seeded(seed, cpu), aug, reg)
                acc, _ = accuracy_and_loss(predict_logits(model, src.x_test), src.y_test)
                spe = -(-len(src.x_train) // cfg.train.batch_size)
                full, first = after_warm_up(log.step_losses, cfg.train.treatment_warmup_epochs * spe, src.num_classes)
                row = {"variant": variant, "plugin": trial.plugin, "strength": trial.strength, "seed": seed,
                       "acc_src": round(acc, 2), **log.plateau(src.num_classes), "full_dose_step": full,
                       "first_full_window": first, "secs": round(time.time() - t0, 1),
                       "losses": [round(v, 4) for v in log.step_losses]}
                print({k: v for k, v in row.items() if k != "losses"}, flush=True)
                fh.write(json.dumps(row) + "\n")

if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], [int(s) for s in sys.argv[3].split(",")], sys.argv[4])
