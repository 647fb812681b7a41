"""Metrics computed across trials, in percentage points, each trial m against the vanilla trial v of its seed:

    delta_acc_src = acc_src(m) - acc_src(v),   delta_acc_tgt = acc_tgt(m) - acc_tgt(v)
    rel_dt(m)     = (acc_tgt(m) - acc_src(m)) - (acc_tgt(v) - acc_src(v)) = delta_acc_tgt - delta_acc_src

and ``usable``: the trial finished and its source accuracy is more than USABLE_MARGIN points above
chance (100 / num_classes), i.e. its source model learnt something.
"""

from __future__ import annotations

USABLE_MARGIN = 10.0


def rel_dt(acc_src: float, acc_tgt: float, vanilla_acc_src: float, vanilla_acc_tgt: float) -> float:
    """(acc_tgt - acc_src) - (vanilla_acc_tgt - vanilla_acc_src), in points."""
    return (acc_tgt - acc_src) - (vanilla_acc_tgt - vanilla_acc_src)


def deltas(acc_src: float, acc_tgt: float, vanilla_acc_src: float, vanilla_acc_tgt: float) -> dict[str, float]:
    """delta_acc_src, delta_acc_tgt and rel_dt of one trial against its vanilla trial."""
    return {"delta_acc_src": acc_src - vanilla_acc_src, "delta_acc_tgt": acc_tgt - vanilla_acc_tgt,
            "rel_dt": rel_dt(acc_src, acc_tgt, vanilla_acc_src, vanilla_acc_tgt)}


def usable(status: str, acc_src: float | None, num_classes: int) -> bool:
    """Finished, with acc_src (percent) above chance + USABLE_MARGIN points; chance unknown (0 classes) -> 0."""
    if status != "finished" or acc_src is None:
        return False
    chance = 100.0 / num_classes if num_classes > 0 else 0.0
    return acc_src > chance + USABLE_MARGIN
