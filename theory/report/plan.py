"""``rt plan``: how many seeds a study needs, from a results store's measured seed-to-seed spread.

Per plugin, the spread is the standard deviation over seeds of the per-seed rel_dt effect (the
fitted change over the swept range, theory.report.statistics). Seeds are sized for a one-sample
t-test of that effect (statsmodels TTestPower), the parametric stand-in for the blocked Page test:
to detect ``effect`` points with ``power`` at two-sided alpha, and at alpha / plugins (what Holm
asks of the smallest p-value of the report); for "none" predictions, also the seeds for the
equivalence test against +-margin to succeed when the true effect is 0.
"""

from __future__ import annotations

import numpy as np

from theory.report import statistics as st
from theory.report.analysis import PluginData
from theory.report.verdicts import PlanRow


def plan(data: dict[str, PluginData], expected: dict[str, str], effect: float, alpha: float, margin: float,
         power: float = 0.8) -> list[PlanRow]:
    """One PlanRow per plugin (module docstring)."""
    rows = []
    family = max(1, len(data))
    for p in sorted(data):
        effects = st.seed_effects(data[p].tables["rel_dt"])
        sd = float(np.std(effects, ddof=1)) if len(effects) >= 2 else None
        detect = st.seeds_needed(sd, effect, alpha, power) if sd else None
        holm = st.seeds_needed(sd, effect, alpha / family, power) if sd else None
        equiv = st.seeds_needed(sd, margin, alpha, power, equivalence=True) \
            if sd and expected.get(p) == "none" else None
        rows.append(PlanRow(p, len(effects), sd, effect, power, detect, holm, equiv))
    return rows
