"""How much rescale changes the reference study's source images at each of its strengths.

Usage (from the repository root): ``python docs/results/room-to-move/rescale_change.py``

For the first 2,000 training images x of examples/study_whiten.toml's source and each factor m of
its rescale grid (16/15, 16/14, 16/12, 16/11, and 16/13 between), the op y = U(D_m(x)) (plugins/rescale.py:
antialiased bilinear down to round(16/m) pixels, bilinear back) is scored by the share of the images'
variation it changes, sum (y - x)^2 / sum (x - mean_pixels(x))^2, and by the mean |y - x|.
"""

from __future__ import annotations

import torch

from plugins.rescale import rescale
from rt_core.experiment.loading import load_config
from rt_core.experiment.parts import domains


def main() -> None:
    src, _ = domains(load_config("examples/study_whiten.toml"), torch.device("cpu"))
    x = src.x_train[:2000]
    spread = (x - x.mean((2, 3), keepdim=True)).pow(2).sum()
    print("| size | factor | share of the variation changed | mean abs change |")
    print("|---|---|---|---|")
    for size in (15, 14, 13, 12, 11):
        change = rescale(x, 16 / size) - x
        share, mean_abs = (change.pow(2).sum() / spread).item(), change.abs().mean().item()
        print(f"| {size} | 16/{size} | {share:.3f} | {mean_abs:.4f} |")


if __name__ == "__main__":
    main()
