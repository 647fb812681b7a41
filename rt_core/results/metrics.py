"""Metrics computed across trials: relative domain transferability against the same seed's vanilla.

rel_dt(m) = (acc_tgt(m) - acc_src(m)) - (acc_tgt(v) - acc_src(v)) = delta_acc_tgt - delta_acc_src,
in percentage points, where v is the vanilla trial of m's seed and delta_x = x(m) - x(v).
"""

from __future__ import annotations


def rel_dt(acc_src: float, acc_tgt: float, vanilla_acc_src: float, vanilla_acc_tgt: float) -> float:
    """(acc_tgt - acc_src) - (vanilla_acc_tgt - vanilla_acc_src), in points."""
    return (acc_tgt - acc_src) - (vanilla_acc_tgt - vanilla_acc_src)
