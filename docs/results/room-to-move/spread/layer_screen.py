"""Where in the source model does the probe read? The seed SD of vanilla acc_tgt when the study's
few-shot probe reads an earlier layer of the same kept vanilla models.

Usage (from the repository root, on a store whose vanilla source models were kept)::

    python docs/results/room-to-move/spread/layer_screen.py STORE [SHOTS ...] > out.txt

The cifar_cnn feature stack is input norm, two conv blocks, max-pool, two conv blocks, max-pool,
flatten, two dense blocks (linear, batch norm, ReLU). Each kept vanilla model (eval mode) is cut after
the first pool (flattened), after the second pool (flattened: the conv stack's output), after the
first dense block, and at its end (the study's features), and the store's own probe (its shots, L2,
iterations and draws) is fitted on each, at the store's shot count, or at each of SHOTS given.
Output per layer and shot count: the mean acc_tgt over models, its SD over models, and the draw and
model parts of that SD (``probe_spread.decomposed``). The rule, fixed before the first screen (the
store's 5 shots) ran: a layer qualifies when the mean is at most 85 and the SD at most 1.5; a
qualifying layer short of the end would make a model whose features end there (no dense blocks) a
source-side candidate, to be trained and checked on its own 48 seeds and 48 held-out ones (a model
trained without the dense blocks need not have these features). The rule of the second screen (1 to
5 shots), fixed before it ran: a layer and shot count qualify with the mean in [30, 85] and the SD
at most 1.5; the one with the lowest SD is then checked on 48 held-out seeds.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from probe_spread import decomposed  # noqa: E402
from target_screen import models, over_models, pooled  # noqa: E402


def cuts(features: nn.Sequential) -> dict[str, int]:
    """Layer name -> the number of leading modules of ``features`` that end there."""
    kinds = [type(m).__name__ for m in features]
    pools = [i for i, k in enumerate(kinds) if k == "MaxPool2d"]
    relus = [i for i, k in enumerate(kinds) if k == "ReLU"]
    return {"pool 1 (flattened)": pools[0] + 1, "pool 2 (flattened)": pools[1] + 1,
            "dense 1": relus[-2] + 1, "dense 2 (the study's)": len(kinds)}


@torch.no_grad()
def cut_features(model, x: torch.Tensor, n: int) -> torch.Tensor:
    """The output of the first ``n`` modules of ``model.features`` on ``x``, flattened, in eval mode."""
    model.eval()
    return model.features[:n](x).flatten(1).float()


def main(where: str, shots: tuple[int, ...] = ()) -> None:
    torch.set_num_threads(1)
    t, tgt, kept = models(where)
    x, y = pooled(tgt)
    print(f"{len(kept)} vanilla models (seeds {kept[0][0]}-{kept[-1][0]}), {len(y)} target images, "
          f"{t.probe_shots} shots, {t.probe_draws} draws, probe L2 {t.probe_l2:g}\n")
    print("| layer | width | shots | mean acc_tgt | SD over models | interaction part | model part | qualifies |")
    print("|---|---|---|---|---|---|---|---|")
    gap = None
    for name, n in cuts(kept[0][1].features).items():
        feats = [cut_features(m, x, n) for _, m, _ in kept]
        for k in shots or (t.probe_shots,):
            a = over_models(feats, y, k, t)
            if n == len(kept[0][1].features) and k == t.probe_shots:
                gap = np.abs(a.mean(1) - np.array([acc for *_, acc in kept])).max()
            mean, sd, inter, part = decomposed(a)
            ok = 30 <= mean <= 85 and sd <= 1.5
            print(f"| {name} | {feats[0].shape[1]} | {k} | {mean:.1f} | {sd:.2f} | {inter:.2f} | {part:.2f} | "
                  f"{'yes' if ok else 'no'} |", flush=True)
    if gap is not None:
        print(f"\nThe end layer's probe at the store's shots against its acc_tgt: largest gap {gap:.1e}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "docs/results/study_whiten", tuple(int(k) for k in sys.argv[2:]))
