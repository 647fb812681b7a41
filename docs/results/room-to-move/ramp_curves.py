"""Training curves of the study's strongest settings with and without a treatment warm-up.

Usage (from the repository root; about 4 CPU-minutes a run of the table on one thread)::

    python docs/results/room-to-move/ramp_curves.py [CONFIG [SEED [WARM-UP ...]]]
    python docs/results/room-to-move/ramp_curves.py ramp_curves_study.csv   # redraw only

For one seed (default 0), vanilla and each plugin's strongest setting of CONFIG (default
``examples/study.toml``) are trained with its recipe under treatment warm-ups (default 0, 0.5 and 1
epoch)
(``train.treatment_warmup_epochs``: the plugin's dose r rises linearly to 1; each image is treated
with probability r and a penalty is scaled by r). Every step's training cross-entropy is written to
``ramp_curves_<config>.csv`` and drawn in ``ramp_curves_<config>.png`` beside the plateau threshold 0.9 min(L0, ln k).

A warm-up lets the loss fall while most images are still untreated, so ``plateau_step`` alone could
flatter it. This script also gives, per run, ``full_dose_step``: the first step t whose whole window
(steps t - 10 .. t - 1) is at full dose with its mean below the threshold, and ``first_full_window``,
the earliest such t could be (10 steps after the dose reached 1). The two are equal when the loss,
having fallen under the ramp, stays below the threshold once the full treatment applies; a later
``full_dose_step`` is a plateau at full strength. The source accuracy on the held-out test split
shows what the run learned.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

from rt_core.experiment.evaluation import accuracy_and_loss, predict_logits  # noqa: E402
from rt_core.experiment.loading import load_config  # noqa: E402
from rt_core.experiment.parts import domains, new_model, plugin_objects  # noqa: E402
from rt_core.experiment.training import (  # noqa: E402
    PLATEAU_WINDOW,
    Generators,
    plateau_curve,
    ramped,
    train_source,
)
from rt_core.experiment.trials import Trial  # noqa: E402

HERE = Path(__file__).parent
WARMUPS = (0.0, 0.5, 1.0)


def strongest(cfg, seed: int) -> list[Trial]:
    """Vanilla and each sweep's last (strongest) strength, as the config's trials of ``seed``."""
    return [Trial("vanilla", 0.0, seed)] + [Trial(s.plugin, float(s.strengths[-1]), seed, dict(s.options))
                                            for s in cfg.sweep]


def after_warm_up(losses: list[float], ramp_steps: float, num_classes: int) -> tuple[int | None, int]:
    """(full_dose_step, first_full_window) of one run's step losses, as the module docstring defines them."""
    means, threshold = plateau_curve(losses, num_classes)  # means[i]: steps i .. i + w - 1
    first_full = max(0, math.ceil(ramp_steps) - 1)  # 0-based step from which the dose is 1
    starts = np.arange(len(means))
    below = (starts >= first_full) & (means < threshold)
    return (int(starts[below][0]) + PLATEAU_WINDOW if below.any() else None), first_full + PLATEAU_WINDOW


def run(config: str, seed: int, warmups: tuple[float, ...] = WARMUPS) -> list[dict]:
    torch.set_num_threads(1)
    base = load_config(config)
    cpu = torch.device("cpu")
    src, _ = domains(base, cpu)
    rows = []
    for warm in warmups:
        cfg = dataclasses.replace(base, train=dataclasses.replace(base.train, treatment_warmup_epochs=warm))
        for trial in strongest(cfg, seed):
            model = new_model(cfg, src.num_classes, cpu, seed)
            augmentation, regularizer = plugin_objects(trial)
            log = train_source(model, src.x_train, src.y_train, cfg.train, Generators.seeded(seed, cpu),
                               augmentation, regularizer)
            acc, _ = accuracy_and_loss(predict_logits(model, src.x_test), src.y_test)
            steps_per_epoch = -(-len(src.x_train) // cfg.train.batch_size)
            full_step, first_window = after_warm_up(log.step_losses, warm * steps_per_epoch, src.num_classes)
            row = {"plugin": trial.plugin, "strength": trial.strength, "seed": seed, "warmup_epochs": warm,
                   "acc_src": round(acc, 2), **log.plateau(src.num_classes), "full_dose_step": full_step,
                   "first_full_window": first_window, "steps": len(log.step_losses), "losses": log.step_losses}
            print({k: v for k, v in row.items() if k != "losses"}, flush=True)
            rows.append(row)
    return rows


def write(rows: list[dict], config: str) -> Path:
    """Every run's step losses as one CSV row per step; returns its path."""
    path = HERE / f"ramp_curves_{Path(config).stem}.csv"
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["plugin", "strength", "seed", "warmup_epochs", "acc_src", "plateau_step",
                      "full_dose_step", "first_full_window", "step", "cross_entropy"])
        for r in rows:
            for step, ce in enumerate(r["losses"], start=1):
                out.writerow([r["plugin"], r["strength"], r["seed"], r["warmup_epochs"], r["acc_src"],
                              r["plateau_step"], r["full_dose_step"], r["first_full_window"], step, f"{ce:.5f}"])
    return path


def plot(csv_path: Path) -> None:
    """Draw the curves of ``csv_path`` (as ``write`` made it) beside it, as a PNG of the same stem."""
    import pandas as pd

    table = pd.read_csv(csv_path)
    settings = list(dict.fromkeys(zip(table["plugin"], table["strength"], strict=True)))
    fig, axes = plt.subplots(3, 3, figsize=(12, 9), sharex=True, sharey=True)
    for ax, (plugin, strength) in zip(axes.flat, settings, strict=False):
        runs = table[(table["plugin"] == plugin) & (table["strength"] == strength)]
        for (warm, acc), run_rows in runs.groupby(["warmup_epochs", "acc_src"], sort=False):
            losses = run_rows.sort_values("step")["cross_entropy"].to_numpy()
            smooth, threshold = plateau_curve(losses, 10)
            line, = ax.plot(np.arange(len(smooth)) + PLATEAU_WINDOW, smooth, lw=1.2,
                            label=f"warm-up {warm:g} ep: acc_src {acc:.1f}")
            if warm > 0 and ramped(*plugin_objects(Trial(plugin, float(strength), 0))):
                ax.axvline(run_rows["first_full_window"].iloc[0] - PLATEAU_WINDOW, color=line.get_color(), ls=":",
                           lw=0.8)
            if warm == runs["warmup_epochs"].iloc[0]:
                ax.axhline(threshold, color="k", ls="--", lw=0.8)
                ax.axvline(0.1 * len(losses), color="grey", ls="--", lw=0.8)
        ax.set_title(f"{plugin} {strength:g}", fontsize=10)
        ax.legend(fontsize=7)
    for ax in axes[-1]:
        ax.set_xlabel("step (10-step mean of the training cross-entropy)")
    seed = int(table["seed"].iloc[0])
    fig.suptitle(f"{csv_path.stem}, seed {seed}: black dashed = plateau threshold 0.9 min(L0, ln 10), grey dashed ="
                 " 10% of the steps, dotted = the dose reaches 1 (CPU, torch 2.13, one thread)", fontsize=9)
    fig.tight_layout()
    fig.savefig(csv_path.with_suffix(".png"), dpi=110)


if __name__ == "__main__":
    path = sys.argv[1] if len(sys.argv) > 1 else "examples/study.toml"
    if path.endswith(".csv"):  # redraw a written table
        plot(Path(path))
    else:
        chosen = int(sys.argv[2]) if len(sys.argv) > 2 else 0
        lengths = tuple(float(w) for w in sys.argv[3:]) or WARMUPS
        plot(write(run(path, chosen, lengths), path))
