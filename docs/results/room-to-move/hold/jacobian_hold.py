"""Does training keep learning once a held-back Jacobian penalty comes in?

Usage (from the repository root; one run is about 45 s on one thread, two run at a time)::

    python docs/results/room-to-move/hold/jacobian_hold.py CONFIG STRENGTH [ramp_steps=R] [held_only=1] SEED [SEED ...]
    python docs/results/room-to-move/hold/jacobian_hold.py jacobian_hold.csv   # redraw only

For each seed, vanilla and the Jacobian penalty at STRENGTH are trained with CONFIG's recipe, the
penalty with ``hold = true`` (and ``ramp_steps = R`` when given; the files are then named
``jacobian_hold_ramp<R>``) and, for comparison, without it (``held_only=1``: the held run alone,
files suffixed ``_held``; the figure then draws the first 5 seeds). The hold makes the run the vanilla run
until the plateau step (the penalty joins the update of the batch that completes the first window
below the threshold), so its ``plateau_step`` is vanilla's by construction and says nothing about the
penalty. What does: ``relapse_peak``, the largest 10-step mean of the training cross-entropy over the
windows that end after the plateau step, against the threshold 0.9 min(L0, ln k). ``relapsed`` is
true when it reaches the threshold: the penalty pushed the network back onto the plateau. Then
``left_for_good`` is the step count from which every 10-step mean stays below the threshold (one
after the end of the last window at or above it; the plateau step when there is none): the engine's
``plateau_stay_step``, which trials now store as ``plateau_stay_step`` / ``plateau_stay_frac``. Every
step's cross-entropy goes to ``jacobian_hold.csv``, drawn in ``jacobian_hold.png``; the per-run
table and its mean per setting go to ``jacobian_hold.txt`` (also from the redraw).
"""

from __future__ import annotations

import csv
import sys
from concurrent.futures import ProcessPoolExecutor
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
    plateau_stay_step,
    train_source,
)
from rt_core.experiment.trials import Trial  # noqa: E402

HERE = Path(__file__).parent
SETTINGS = (("vanilla", {}), ("jacobian", {"hold": True}), ("jacobian", {}))


def relapse(losses: list[float], step: int | None, num_classes: int) -> tuple[float | None, float]:
    """(largest 10-step mean over the windows ending after ``step``, the plateau threshold)."""
    means, threshold = plateau_curve(losses, num_classes)  # means[i]: steps i+1 .. i+w (1-based)
    if step is None or step - PLATEAU_WINDOW + 1 >= len(means):
        return None, threshold
    return float(means[step - PLATEAU_WINDOW + 1:].max()), threshold


def one_run(config: str, plugin: str, strength: float, options: dict, seed: int) -> dict:
    torch.set_num_threads(1)
    cfg, cpu = load_config(config), torch.device("cpu")
    src, _ = domains(cfg, cpu)
    trial = Trial(plugin, 0.0 if plugin == "vanilla" else strength, seed, options)
    model = new_model(cfg, src.num_classes, cpu, seed)
    log = train_source(model, src.x_train, src.y_train, cfg.train, Generators.seeded(seed, cpu), *plugin_objects(trial))
    acc, _ = accuracy_and_loss(predict_logits(model, src.x_test), src.y_test)
    plateau = log.plateau(src.num_classes)
    peak, threshold = relapse(log.step_losses, plateau["plateau_step"], src.num_classes)
    row = {"setting": label(plugin, options), "strength": trial.strength, "seed": seed, "acc_src": round(acc, 2),
           **plateau, "threshold": round(threshold, 4), "relapse_peak": None if peak is None else round(peak, 4),
           "relapsed": peak is None or peak >= threshold, "losses": log.step_losses}
    print({k: v for k, v in row.items() if k != "losses"}, flush=True)
    return row


def label(plugin: str, options: dict) -> str:
    ramp = options.get("ramp_steps", 0)
    return plugin + (" hold" if options.get("hold") else "") + (f" ramp {ramp}" if ramp else "")


def write(rows: list[dict], name: str) -> Path:
    path = HERE / f"{name}.csv"
    with open(path, "w", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["setting", "strength", "seed", "acc_src", "plateau_step", "relapse_peak", "threshold", "step",
                      "cross_entropy"])
        for r in rows:
            for step, ce in enumerate(r["losses"], start=1):
                out.writerow([r["setting"], r["strength"], r["seed"], r["acc_src"], r["plateau_step"],
                              r["relapse_peak"], r["threshold"], step, f"{ce:.5f}"])
    return path


def summarize(csv_path: Path) -> str:
    """Per run and per setting (mean ± SD over seeds): acc_src, plateau step, relapse peak, the step
    left for good and its share of all steps; written beside the CSV as .txt and returned."""
    import pandas as pd

    table = pd.read_csv(csv_path)
    runs = []
    for (setting, strength, seed), run in table.groupby(["setting", "strength", "seed"], sort=False):
        losses = run.sort_values("step")["cross_entropy"].to_numpy()
        step = None if pd.isna(run["plateau_step"].iloc[0]) else int(run["plateau_step"].iloc[0])
        good = plateau_stay_step(losses, 10)
        runs.append({"setting": setting, "strength": strength, "seed": seed, "acc_src": run["acc_src"].iloc[0],
                     "plateau_step": step, "relapse_peak": run["relapse_peak"].iloc[0],
                     "threshold": run["threshold"].iloc[0], "left_for_good": good,
                     "left_for_good_frac": None if good is None else round(good / len(losses), 3)})
    per_run = pd.DataFrame(runs)
    numeric = ["acc_src", "plateau_step", "relapse_peak", "left_for_good", "left_for_good_frac"]
    mean = per_run.groupby(["setting", "strength"], sort=False)[numeric].agg(["mean", "std"]).round(3)
    text = per_run.to_string(index=False) + "\n\nmean and SD over seeds:\n" + mean.to_string() + "\n"
    csv_path.with_suffix(".txt").write_text(text)
    return text


def plot(csv_path: Path) -> None:
    """One panel per seed: the 10-step mean of each setting's training cross-entropy."""
    import pandas as pd

    table = pd.read_csv(csv_path)
    seeds = sorted(table["seed"].unique())[:5]
    fig, axes = plt.subplots(1, len(seeds), figsize=(3.2 * len(seeds), 3.4), sharey=True, squeeze=False)
    for ax, seed in zip(axes[0], seeds, strict=True):
        for (setting, acc), run in table[table["seed"] == seed].groupby(["setting", "acc_src"], sort=False):
            smooth, threshold = plateau_curve(run.sort_values("step")["cross_entropy"].to_numpy(), 10)
            ax.plot(np.arange(len(smooth)) + PLATEAU_WINDOW, smooth, lw=1.1, label=f"{setting}: acc_src {acc:.1f}")
        ax.axhline(threshold, color="k", ls="--", lw=0.8)
        ax.axvline(0.1 * len(run), color="grey", ls="--", lw=0.8)
        ax.set_title(f"seed {seed}", fontsize=9)
        ax.set_xlabel("step")
        ax.legend(fontsize=6)
    axes[0][0].set_ylabel("10-step mean of the training cross-entropy")
    strength = table.loc[table["setting"] != "vanilla", "strength"].iloc[0]
    fig.suptitle(f"Jacobian {strength:g} with and without the hold; black dashed = plateau threshold, grey dashed = "
                 "10% of the steps (CPU, torch 2.13, one thread)", fontsize=9)
    fig.tight_layout()
    fig.savefig(csv_path.with_suffix(".png"), dpi=110)


def main(argv: list[str]) -> None:
    if argv[0].endswith(".csv"):
        print(summarize(Path(argv[0])))
        plot(Path(argv[0]))
        return
    config, strength = argv[0], float(argv[1])
    ramp = next((int(a.split("=")[1]) for a in argv[2:] if a.startswith("ramp_steps=")), 0)
    held_only = "held_only=1" in argv[2:]
    seeds = [int(a) for a in argv[2:] if "=" not in a]
    settings = [(p, o | {"ramp_steps": ramp} if ramp and o else o) for p, o in SETTINGS
                if o.get("hold") or not held_only]
    jobs = [(config, plugin, strength, options, seed) for seed in seeds for plugin, options in settings]
    with ProcessPoolExecutor(2) as pool:
        rows = list(pool.map(one_run, *zip(*jobs, strict=True)))
    path = write(rows, "jacobian_hold" + (f"_ramp{ramp}" if ramp else "") + ("_held" if held_only else ""))
    print(summarize(path))
    plot(path)


if __name__ == "__main__":
    main(sys.argv[1:])
