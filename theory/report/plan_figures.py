"""The figure of ``rt plan --figure``: is the report's rule calibrated, and does a demo contradict the study?

Left panel (the calibration): per tested plugin, the share of simulated studies in which an effect
planted over the swept range (0 = the null: strength labels permuted within seeds) is found, with
its Clopper-Pearson 95% interval; a dashed line at alpha, and the share of null studies with any
false decision (the familywise share) as a black point with its interval at effect 0.

Right panel (the demo against the study): per plugin of the demo, the share of demo-sized subsets of
the study's seeds whose verdict agrees with the study's decided verdict (or is decided while the
study's is not), is inconclusive, or contradicts it (``theory.report.calibration.contradicts``),
as stacked bars; the total of contradicting decided verdicts in the title.
"""

from __future__ import annotations

from pathlib import Path

from theory.report.calibration import Calibration, Contradiction, Share, contradiction_total
from theory.report.figures import _save, plt, plugin_colours

OUTCOME_COLOURS = {"same as the study": "#4c9a5b", "decided, study not": "#9cc9a6",
                   "inconclusive": "#d9d9d9", "contradicts": "#c0392b"}


def _errorbar(ax: plt.Axes, x: list[float], shares: list[Share], **style) -> None:
    values = [s.value for s in shares]
    lows = [s.value - s.interval[0] for s in shares]
    highs = [s.interval[1] - s.value for s in shares]
    ax.errorbar(x, values, yerr=[lows, highs], capsize=3, **style)


def calibration_panel(ax: plt.Axes, cal: Calibration) -> None:
    """Planted effect (points over the range) against the share of studies that find it, per plugin."""
    effects = sorted(cal.found)
    colours = plugin_colours(list(cal.per_plugin))
    for p in cal.per_plugin:
        _errorbar(ax, [0.0, *effects], [cal.per_plugin[p], *(cal.found[e][p] for e in effects)],
                  marker="o", ms=4, lw=1.2, color=colours[p], label=p)
    _errorbar(ax, [0.0], [cal.familywise], marker="s", ms=6, color="black", ls="none",
              label="null: any false decision")
    ax.axhline(cal.alpha, color="grey", ls="--", lw=1)
    ax.text(effects[-1] if effects else 1.0, cal.alpha, f" alpha {cal.alpha:g}", va="bottom", ha="right",
            fontsize=8, color="grey")
    ax.set(xlabel="planted rel_dt effect over the range (points)", ylabel="share of simulated studies",
           ylim=(-0.02, 1.02), title=f"calibration: {cal.draws} null studies of {cal.seeds} seeds")
    ax.legend(fontsize=7, loc="center right")


def _outcomes(r: Contradiction) -> dict[str, float]:
    return {"same as the study": r.same / r.draws,
            "decided, study not": (r.decided - r.same - r.contradicts) / r.draws,
            "inconclusive": (r.draws - r.decided) / r.draws,
            "contradicts": r.contradicts / r.draws}


def contradiction_panel(ax: plt.Axes, rows: list[Contradiction], demo: str) -> None:
    """Stacked shares of each demo plugin's outcomes over the drawn subsets."""
    names = [f"{r.plugin}\n(study: {r.study})" for r in rows]
    bottom = [0.0] * len(rows)
    for outcome, colour in OUTCOME_COLOURS.items():
        heights = [_outcomes(r)[outcome] for r in rows]
        ax.bar(names, heights, bottom=bottom, color=colour, label=outcome, edgecolor="white")
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    total = contradiction_total(rows)
    share = f"{total.value:.1%} [{total.interval[0]:.1%}, {total.interval[1]:.1%}]" if total.n else "none decided"
    draws = rows[0].draws if rows else 0
    ax.set(ylabel="share of demo-sized subsets", ylim=(0, 1.0),
           title=f"demo ({Path(demo).name}) against the study: {draws} subsets\n"
                 f"contradicting decided verdicts: {total.hits} of {total.n}, {share}")
    ax.legend(fontsize=7, loc="lower right")


def plan_figure(path: str | Path, cal: Calibration | None, rows: list[Contradiction] | None,
                demo: str = "") -> Path:
    """Write the calibration and/or contradiction panels (whichever is given) to ``path`` (PNG)."""
    panels = [p for p in (cal, rows) if p is not None]
    if not panels:
        raise ValueError("nothing to draw: give a calibration, demo rows, or both")
    fig, axes = plt.subplots(1, len(panels), figsize=(6.2 * len(panels), 4.6), squeeze=False)
    axes = list(axes[0])
    if cal is not None:
        calibration_panel(axes.pop(0), cal)
    if rows is not None:
        contradiction_panel(axes.pop(0), rows, demo)
    return _save(fig, Path(path))
