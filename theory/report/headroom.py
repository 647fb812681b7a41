"""Room to move: does a store's benchmark leave the measured effects space to show?

Per plugin, the vanilla trials and the trials at the plugin's strongest swept strength (the one
furthest from its identity), over the seeds that have them: mean and SD of acc_src, probe_acc_src,
acc_tgt, rob_src, plateau_step and plateau_frac (the share of training steps before the loss left
its initial plateau; a trial whose loss never left it counts as 1.0), and plateau_stay_frac (the
share before it left the plateau for good: later than plateau_frac when the loss fell back onto it;
recorded by trials run since it was added, else "-"). Then the criteria, each a plain inequality on
those means (k classes, chance = 100 / k):

- vanilla acc_tgt in [3 chance, 85]: off the floor and off the ceiling;
- vanilla acc_src - acc_tgt >= 10: room for the target to lose less than the source;
- vanilla acc_tgt SD over seeds <= 1.5;
- vanilla rob_src in [20, 70]: the attack radius separates models;
- each plugin's strongest: acc_src at least 5 below vanilla (a real treatment) and at least
  chance + 30 (a model that learned);
- vanilla and each strongest: mean plateau_stay_frac <= 0.1 (training left the plateau early and
  did not fall back; a run that is vanilla's until its plateau step, such as a held penalty, would
  meet a plateau_frac criterion by construction), read as plateau_frac <= 0.1 where the setting's
  trials do not record the stay step.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

METRICS = ("acc_src", "probe_acc_src", "acc_tgt", "rob_src", "plateau_step", "plateau_frac", "plateau_stay_frac")
FRACTIONS = ("plateau_frac", "plateau_stay_frac")
PLATEAU_GOAL = 0.1


@dataclass(frozen=True)
class Setting:
    """One plugin at one strength over seeds: mean and SD (None with under 2 values) per metric, and
    whether every trial records the metric (``recorded``)."""

    plugin: str
    strength: float
    seeds: int
    mean: dict[str, float | None]
    sd: dict[str, float | None]
    recorded: dict[str, bool] = field(default_factory=dict)


@dataclass(frozen=True)
class Check:
    name: str
    value: float | None
    passed: bool | None  # None: not measurable here


def _summary(rows: list[dict], plugin: str, strength: float) -> Setting:
    """``rows``: one flat dict per trial (plugin, strength, seed, status and the metrics)."""
    mine = [r for r in rows if r["plugin"] == plugin and r["strength"] == strength and r["status"] == "finished"]
    mean, sd = {}, {}
    for m in METRICS:
        values = [_value(r, m) for r in mine]
        values = np.array([v for v in values if v is not None], float)
        mean[m] = float(values.mean()) if len(values) else None
        sd[m] = float(values.std(ddof=1)) if len(values) >= 2 else None
    recorded = {m: bool(mine) and all(m in r for r in mine) for m in METRICS}
    return Setting(plugin, strength, len({r["seed"] for r in mine}), mean, sd, recorded)


def _value(row: dict, name: str) -> float | None:
    """A metric of one trial; a trained trial whose loss never left the plateau, or (stay) was back on
    it at the end, counts as all of training (1.0); a row without the metric (older stores, brought
    checkpoints) has none."""
    if name in FRACTIONS and name in row and row[name] is None and row.get(name.replace("frac", "step"), 0) is None:
        return 1.0
    return row.get(name)


def strongest(rows: list[dict], identities: dict[str, float]) -> dict[str, float]:
    """Each swept plugin's strength furthest from its identity."""
    out: dict[str, float] = {}
    for plugin, identity in identities.items():
        swept = {r["strength"] for r in rows if r["plugin"] == plugin and r["strength"] != identity}
        if swept:
            out[plugin] = max(swept, key=lambda s: abs(s - identity))
    return out


def settings(rows: list[dict], identities: dict[str, float]) -> list[Setting]:
    """Vanilla first, then each plugin at its strongest strength (sorted by plugin)."""
    top = strongest(rows, identities)
    return [_summary(rows, "vanilla", 0.0)] + [_summary(rows, p, s) for p, s in sorted(top.items())]


def _between(value: float | None, lo: float, hi: float) -> bool | None:
    return None if value is None else lo <= value <= hi


def _plateau(s: Setting, label: str) -> Check:
    """The plateau criterion of one setting: on plateau_stay_frac where all its trials record it."""
    metric = "plateau_stay_frac" if s.recorded.get("plateau_stay_frac") else "plateau_frac"
    value = s.mean[metric]
    return Check(f"{label} {metric} <= 0.1", value, _between(value, 0.0, PLATEAU_GOAL))


def checks(table: list[Setting], num_classes: int) -> list[Check]:
    """The criteria of the module docstring on ``table`` (vanilla first)."""
    chance = 100.0 / num_classes
    v = table[0]
    tgt, src = v.mean["acc_tgt"], v.mean["acc_src"]
    gap = None if tgt is None or src is None else src - tgt
    out = [Check(f"vanilla acc_tgt in [{3 * chance:g}, 85]", tgt, _between(tgt, 3 * chance, 85.0)),
           Check("vanilla acc_src - acc_tgt >= 10", gap, None if gap is None else gap >= 10.0),
           Check("vanilla acc_tgt SD <= 1.5", v.sd["acc_tgt"], _between(v.sd["acc_tgt"], 0.0, 1.5)),
           Check("vanilla rob_src in [20, 70]", v.mean["rob_src"], _between(v.mean["rob_src"], 20.0, 70.0)),
           _plateau(v, "vanilla")]
    for s in table[1:]:
        acc, name = s.mean["acc_src"], f"{s.plugin} {s.strength:g}"
        cost = None if acc is None or src is None else src - acc
        out += [Check(f"{name}: costs >= 5 points of acc_src", cost, None if cost is None else cost >= 5),
                Check(f"{name}: acc_src >= {chance + 30:g}", acc, None if acc is None else acc >= chance + 30),
                _plateau(s, f"{name}:")]
    return out


def _cell(mean: float | None, sd: float | None, digits: int) -> str:
    if mean is None:
        return "-"
    return f"{mean:.{digits}f}" + ("" if sd is None else f" ± {sd:.{digits}f}")


def markdown(table: list[Setting], found: list[Check]) -> str:
    """The table and the criteria as Markdown."""
    head = "| plugin | strength | seeds | " + " | ".join(METRICS) + " |"
    lines = [head, "|" + "---|" * (3 + len(METRICS))]
    for s in table:
        cells = [_cell(s.mean[m], s.sd[m], 3 if m in FRACTIONS else 1) for m in METRICS]
        lines.append(f"| {s.plugin} | {s.strength:g} | {s.seeds} | " + " | ".join(cells) + " |")
    lines += ["", "| criterion | measured | met |", "|---|---|---|"]
    for c in found:
        value = "-" if c.value is None else f"{c.value:.3g}"
        lines.append(f"| {c.name} | {value} | {'-' if c.passed is None else ('yes' if c.passed else 'no')} |")
    return "\n".join(lines) + "\n"
