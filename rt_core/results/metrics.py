"""Relative domain transferability and its parts, against the vanilla trial of the same seed.

All values are percentage points. With Delta x = x(trial) - x(vanilla of the same seed):

- ``rel_dt = (acc_tgt - acc_src) - (acc_tgt_v - acc_src_v) = Delta acc_tgt - Delta acc_src``
  (docs/science.md#2-metrics);
- ``rel_dt_probe = Delta acc_tgt - Delta probe_acc_src``: the symmetric variant in which both
  accuracies come from fresh linear probes on the frozen features (``acc_tgt`` already is the target
  probe's accuracy), so a source head that fails on clean images is told apart from features that
  transfer.

``usable``: the trial finished and its source accuracy is above ``min_acc_src``: more than
USABLE_MARGIN points above chance (100 / num_classes), i.e. its source model learnt something. With
the class count unknown (published numbers) the threshold is 0: finished trials are kept. This is
the one rule, used by ``rt_core.load_results`` and by the report (``theory.report.analysis``).
"""

from __future__ import annotations

USABLE_MARGIN = 10.0
PARTS = ("acc_src", "acc_tgt", "rob_src", "probe_acc_src")


def rel_dt(acc_src: float, acc_tgt: float, vanilla_acc_src: float, vanilla_acc_tgt: float) -> float:
    """``(acc_tgt - acc_src) - (vanilla_acc_tgt - vanilla_acc_src)`` in points."""
    return (acc_tgt - acc_src) - (vanilla_acc_tgt - vanilla_acc_src)


def deltas(trial: dict, vanilla: dict) -> dict[str, float | None]:
    """``d_<metric>`` = trial - vanilla for each of PARTS (None where either lacks it), ``rel_dt`` and
    ``rel_dt_probe`` (None where a part is missing)."""
    out: dict[str, float | None] = {}
    for key in PARTS:
        a, b = trial.get(key), vanilla.get(key)
        out[f"d_{key}"] = None if a is None or b is None else a - b
    d_src, d_tgt, d_probe = out["d_acc_src"], out["d_acc_tgt"], out["d_probe_acc_src"]
    out["rel_dt"] = None if d_src is None or d_tgt is None else d_tgt - d_src
    out["rel_dt_probe"] = None if d_probe is None or d_tgt is None else d_tgt - d_probe
    return out


def min_acc_src(num_classes: int | None) -> float:
    """The source accuracy (percent) a trial must exceed to be usable: 100 / num_classes +
    USABLE_MARGIN; 0 when the class count is unknown (None or 0)."""
    return 100.0 / num_classes + USABLE_MARGIN if num_classes else 0.0


def usable_at(status: str, acc_src: float | None, min_acc: float) -> bool:
    """Finished, with ``acc_src`` (percent) strictly above ``min_acc``."""
    return status == "finished" and acc_src is not None and acc_src > min_acc


def usable(status: str, acc_src: float | None, num_classes: int | None) -> bool:
    """``usable_at`` with the threshold ``min_acc_src(num_classes)``."""
    return usable_at(status, acc_src, min_acc_src(num_classes))
