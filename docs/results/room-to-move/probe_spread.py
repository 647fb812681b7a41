"""Where the seed spread of vanilla acc_tgt comes from, on the study's kept vanilla source models.

Usage (from the repository root, after the study has run with its models kept under
``docs/results/study/models/``, which git does not hold)::

    python docs/results/room-to-move/probe_spread.py > docs/results/room-to-move/probe_spread.txt
    python docs/results/room-to-move/probe_spread.py STORE 10,40,100   # another store, the study's probe only

    python docs/results/room-to-move/probe_spread.py STORE shots=5,6,7,8   # the probe's shots varied
    python docs/results/room-to-move/probe_spread.py STORE l2=3e-4,3e-3,3e-2 # its L2 penalty varied

STORE: any store whose vanilla models were kept (default ``docs/results/study``); a second argument
lists numbers of draws for the study's probe on raw features instead of the variants below, or
(``shots=`` / ``l2=``) values of the store's probe setting to vary, each on raw features over the
store's number of draws, the rest of its probe unchanged.

For each target-probe variant, every vanilla model m of the study is scored on the same D few-shot
draws d (``few_shot_draws``: 5 images per class, the rest scored), giving accuracies a[m, d]. The
reported acc_tgt of a model is the mean over draws, so its variance across models is

    Var(mean_d a[m, d]) = s2_model + s2_inter / D,

with s2_inter the model-by-draw interaction variance, estimated as the residual mean square of the
two-way table without replication (a[m, d] - row mean - column mean + grand mean, over
(M - 1)(D - 1) degrees of freedom), and s2_model what is left. Only s2_inter / D shrinks with more
draws; a probe variant can change both. Variants: the study's probe (``fit_linear_probe``, L2 3e-3)
on the raw features, on features standardised over all target images, on L2-normalised features,
on centred-then-L2-normalised features ("CL2N", Wang et al. 2019, SimpleShot), and a nearest-class-
mean classifier (cosine to each class's mean of its shots) on raw and CL2N features; the study's
probe over 40 draws. The study's own acc_tgt must be reproduced exactly by the first row.
"""

from __future__ import annotations

import dataclasses
import json
import sys

import numpy as np
import torch
import torch.nn.functional as F

from rt_core.experiment.checkpoints import load_state
from rt_core.experiment.loading import from_dict
from rt_core.experiment.parts import domains, new_model
from rt_core.experiment.rescore import model_path
from rt_core.experiment.transfer import extract_features, few_shot_draws, fit_linear_probe
from rt_core.results.store import Store

STUDY = "docs/results/study"
VARIANTS = [("raw", "probe", 10), ("standardised", "probe", 10), ("l2", "probe", 10), ("cl2n", "probe", 10),
            ("raw", "class mean", 10), ("cl2n", "class mean", 10), ("raw", "probe", 40)]


def vanilla_features(where: str = STUDY) -> tuple[dict[int, torch.Tensor], torch.Tensor, dict[int, float], object]:
    """({seed: f(x) of all target images, train then test}, their labels, {seed: stored acc_tgt}, transfer cfg)."""
    store = Store(where, create=False, read_only=True)
    try:
        cfg = from_dict(json.loads(store.get_meta("config")))
        rows = [r for r in store.rows() if r["status"] == "finished" and r["plugin"] == "vanilla"]
    finally:
        store.close()
    cpu = torch.device("cpu")
    src, tgt = domains(cfg, cpu)
    feats, stored = {}, {}
    for r in sorted(rows, key=lambda r: r["seed"]):
        model = new_model(cfg, src.num_classes, cpu, r["seed"])
        model.load_state_dict(load_state(model_path(where, r["key"])))
        feats[r["seed"]] = torch.cat([extract_features(model, x) for x in (tgt.x_train, tgt.x_test)]).float()
        stored[r["seed"]] = r["metrics"]["acc_tgt"]
    return feats, torch.cat([tgt.y_train, tgt.y_test]), stored, cfg.transfer


def prepared(z: torch.Tensor, how: str) -> torch.Tensor:
    """The features as a variant sees them (statistics over all target images, no labels used)."""
    if how == "standardised":
        return (z - z.mean(0)) / (z.std(0) + 1e-6)
    if how == "l2":
        return F.normalize(z, dim=1)
    if how == "cl2n":
        return F.normalize(z - z.mean(0), dim=1)
    return z


def draw_accuracy(z: torch.Tensor, y: torch.Tensor, train: torch.Tensor, classifier: str, t) -> float:
    """Accuracy in percent on the images not drawn, of the classifier fitted on the drawn ones."""
    if classifier == "probe":
        probe = fit_linear_probe(z[train], y[train], int(y.max()) + 1, t.probe_l2, t.probe_iters, t.probe_tol)
        with torch.no_grad():
            pred = probe(z[~train]).argmax(1)
    else:
        means = F.normalize(torch.stack([z[train & (y == k)].mean(0) for k in range(int(y.max()) + 1)]), dim=1)
        pred = (F.normalize(z[~train], dim=1) @ means.T).argmax(1)
    return (pred == y[~train]).float().mean().item() * 100


def table(feats: dict, y: torch.Tensor, how: str, classifier: str, draws: int, t) -> np.ndarray:
    """a[m, d]: model m's accuracy on draw d."""
    masks = []
    for idx in few_shot_draws(y, t.probe_shots, draws):
        train = torch.zeros(len(y), dtype=torch.bool)
        train[torch.from_numpy(idx)] = True
        masks.append(train)
    views = [prepared(z, how) for z in feats.values()]
    return np.array([[draw_accuracy(z, y, m, classifier, t) for m in masks] for z in views])


def decomposed(a: np.ndarray) -> tuple[float, float, float, float]:
    """(mean, SD over models of the draw mean, SD of the interaction part s_inter / sqrt(D), model SD)."""
    means = a.mean(1)
    resid = a - a.mean(1, keepdims=True) - a.mean(0, keepdims=True) + a.mean()
    s2_inter = (resid ** 2).sum() / ((a.shape[0] - 1) * (a.shape[1] - 1))
    total = means.var(ddof=1)
    return means.mean(), np.sqrt(total), np.sqrt(s2_inter / a.shape[1]), np.sqrt(max(total - s2_inter / a.shape[1], 0))


def main(where: str = STUDY, variants: list = VARIANTS) -> None:
    torch.set_num_threads(1)
    feats, y, stored, t = vanilla_features(where)
    print(f"{len(feats)} vanilla models (seeds {min(feats)}-{max(feats)}), {t.probe_shots}-shot draws over {len(y)} "
          "target images\n")
    print("| features | classifier | draws | mean acc_tgt | SD over models | interaction part | model part |")
    print("|---|---|---|---|---|---|---|")
    gap = None
    for how, classifier, draws in variants:
        a = table(feats, y, how, classifier, draws, t)
        if (how, classifier, draws) == ("raw", "probe", t.probe_draws):
            gap = max(abs(a[i].mean() - v) for i, v in enumerate(stored.values()))
        mean, sd, inter, model = decomposed(a)
        print(f"| {how} | {classifier} | {draws} | {mean:.1f} | {sd:.2f} | {inter:.2f} | {model:.2f} |", flush=True)
    if gap is not None:
        print(f"\nThe study's probe (raw, probe, {t.probe_draws} draws) against its stored acc_tgt: "
              f"largest difference {gap:.1e}")


def settings(where: str, field: str, values: list[float]) -> None:
    """The study's probe on raw features with ``field`` (probe_shots or probe_l2) set to each value."""
    torch.set_num_threads(1)
    feats, y, _, t = vanilla_features(where)
    print(f"{len(feats)} vanilla models (seeds {min(feats)}-{max(feats)}), {len(y)} target images, "
          f"{t.probe_draws} draws; the store's probe: {t.probe_shots} shots, L2 {t.probe_l2:g}\n")
    print(f"| {field} | mean acc_tgt | SD over models | interaction part | model part |")
    print("|---|---|---|---|---|")
    for value in values:
        a = table(feats, y, "raw", "probe", t.probe_draws, dataclasses.replace(t, **{field: value}))
        mean, sd, inter, model = decomposed(a)
        print(f"| {value:g} | {mean:.1f} | {sd:.2f} | {inter:.2f} | {model:.2f} |", flush=True)


if __name__ == "__main__":
    chosen = sys.argv[1] if len(sys.argv) > 1 else STUDY
    arg = sys.argv[2] if len(sys.argv) > 2 else ""
    if arg.startswith(("shots=", "l2=")):
        name, _, listed = arg.partition("=")
        cast = int if name == "shots" else float
        settings(chosen, f"probe_{name}", [cast(v) for v in listed.split(",")])
    else:
        main(chosen, [("raw", "probe", int(d)) for d in arg.split(",")] if arg else VARIANTS)
