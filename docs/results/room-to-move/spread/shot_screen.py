"""The study's few-shot probe at fewer shots: the seed SD of vanilla acc_tgt at 1 to 5 images per class.

Usage (from the repository root, on a store whose vanilla source models were kept)::

    python docs/results/room-to-move/spread/shot_screen.py STORE [DRAWS] > out.txt

Every kept vanilla model of STORE that learned (acc_src at least 20%, the report's rule) is scored
by the store's probe (its L2 and iterations) on the store's target images at 1, 2, 3, 4 and 5
shots, over the store's number of draws or DRAWS. Output: the store's mean acc_src and plateau_frac
(over those models), then per shot count the mean acc_tgt over models, its SD over models, the draw
and model parts of that SD (``probe_spread.decomposed``), and whether it meets the headroom
criteria (mean acc_tgt in [3x chance, 85], at least 10 below the mean acc_src, SD at most 1.5).
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from probe_spread import decomposed  # noqa: E402
from target_screen import models, over_models, pooled  # noqa: E402

from rt_core.experiment.transfer import extract_features  # noqa: E402
from rt_core.results.store import Store  # noqa: E402

LEARNED = 20.0  # acc_src (%) below which the report leaves a seed out: its model did not learn


def source_side(where: str) -> tuple[float, float, list[int]]:
    """(mean acc_src and mean plateau_frac of the store's finished vanilla trials that learned, the
    seeds that did not)."""
    store = Store(where, create=False, read_only=True)
    try:
        rows = [r for r in store.rows() if r["status"] == "finished" and r["plugin"] == "vanilla"]
    finally:
        store.close()
    ok = [r["metrics"] for r in rows if r["metrics"]["acc_src"] >= LEARNED]
    failed = sorted(r["seed"] for r in rows if r["metrics"]["acc_src"] < LEARNED)
    return float(np.mean([m["acc_src"] for m in ok])), float(np.mean([m["plateau_frac"] for m in ok])), failed


def main(where: str, draws: int | None = None) -> None:
    torch.set_num_threads(1)
    t, tgt, kept = models(where)
    t = dataclasses.replace(t, probe_draws=draws or t.probe_draws)
    x, y = pooled(tgt)
    acc_src, plateau, failed = source_side(where)
    kept = [k for k in kept if k[0] not in failed]
    chance = 100 / (int(y.max()) + 1)
    print(f"{len(kept)} vanilla models (seeds {kept[0][0]}-{kept[-1][0]}), {len(y)} target images, "
          f"{t.probe_draws} draws, probe L2 {t.probe_l2:g}; acc_src {acc_src:.1f}, plateau_frac {plateau:.3f}; "
          f"left out, did not learn: seeds {failed or 'none'}\n")
    print("| shots | mean acc_tgt | SD over models | interaction part | model part | meets the criteria |")
    print("|---|---|---|---|---|---|")
    feats = [extract_features(m, x).float() for _, m, _ in kept]
    for shots in range(1, 6):
        a = over_models(feats, y, shots, t)
        mean, sd, inter, part = decomposed(a)
        ok = 3 * chance <= mean <= min(85, acc_src - 10) and sd <= 1.5
        print(f"| {shots} | {mean:.1f} | {sd:.2f} | {inter:.2f} | {part:.2f} | {'yes' if ok else 'no'} |", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else None)
