"""The Jacobian penalty against the cross-entropy at initialisation, with and without the whitened first conv.

Usage (from the repository root)::

    python docs/results/room-to-move/whiten/jacobian_init.py > docs/results/room-to-move/whiten/jacobian_init.txt

For the candidate study's model (examples/study_whiten.toml) on seeds 0 and 1, on the first 64 source
training images in train mode (batch statistics, as in the first training step): the exact
mean ||J_f(x)||_F^2 of the feature extractor (the quantity the Jacobian plugin estimates by random
projections), the penalty at the grid's strongest weight 3e-3, the cross-entropy, and the step
t + 1 = W * CE / (3e-3 ||J||^2) at which the warm-up's ramp r = (t + 1) / W (W = 63 steps) would make
the penalty equal the cross-entropy if both kept their initial values.
"""

import torch

from plugins.jacobian import frobenius_exact
from rt_core.experiment.loading import load_config
from rt_core.experiment.parts import domains, new_model
from rt_core.experiment.whitening import whiten_first_conv

WEIGHT, RAMP = 3e-3, 63

torch.set_num_threads(1)
cfg = load_config("examples/study_whiten.toml")
src, _ = domains(cfg, torch.device("cpu"))
x, y = src.x_train[:64], src.y_train[:64]
print("| seed | first conv | mean ‖J_f‖²_F | 3e-3 × it | cross-entropy | ramp step where they are equal |")
print("|---|---|---|---|---|---|")
for seed in (0, 1):
    for white in (False, True):
        model = new_model(cfg, src.num_classes, torch.device("cpu"), seed)
        if white:
            whiten_first_conv(model, src.x_train)
        model.train()
        xx = x.clone().requires_grad_(True)
        f = model.features(xx)
        j = frobenius_exact(f, xx).item()
        ce = torch.nn.functional.cross_entropy(model.head(f), y).item()
        print(f"| {seed} | {'whitened' if white else 'default'} | {j:.0f} | {WEIGHT * j:.1f} | {ce:.2f} | "
              f"{RAMP * ce / (WEIGHT * j):.0f} |")
