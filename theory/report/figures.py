"""The report's figures (matplotlib, Agg), each written atomically as a PNG marked as rt's
(``FIGURE_METADATA``: a report may replace it later, never a figure of yours).

Strength axes carry the strength's symbol and unit. When the swept strengths span a decade or more
the axis is logarithmic: ``log`` when the identity is positive (rescale's factor 1),
otherwise ``symlog`` with its linear region up to the weakest swept strength, so the identity 0
(the vanilla) sits at the left edge and the swept grid is evenly spread.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.collections import LineCollection  # noqa: E402

from rt_core.reporting import FIGURE_METADATA, atomic_write  # noqa: E402
from theory.report.analysis import PluginData  # noqa: E402
from theory.report.verdicts import Correlation, PluginVerdict  # noqa: E402

VERDICT_COLOURS = {"agrees": "#e6f4ea", "disagrees": "#fdecea", "inconclusive": "#f4f4f4"}
PANELS = (("acc_src", "source accuracy (%)"), ("acc_tgt", "target accuracy (%)"),
          ("rob_src", "source robust accuracy (%)"), ("rel_dt", "rel_dt (points)"))
GREEK = {"sigma": "σ", "lambda": "λ", "eps": "ε", "theta": "θ"}


def plugin_colours(plugins: list[str]) -> dict[str, str]:
    """Plugin -> hex colour (tab10 in name order)."""
    cmap = plt.get_cmap("tab10")
    return {p: matplotlib.colors.to_hex(cmap(i % 10)) for i, p in enumerate(sorted(set(plugins)))}


def axis_label(v: PluginVerdict) -> str:
    """The strength's symbol and unit, e.g. "blur σ (px)"."""
    unit = f" ({v.strength_unit})" if v.strength_unit else ""
    return f"{v.plugin} {GREEK.get(v.strength_name, v.strength_name)}{unit}"


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, metadata=FIGURE_METADATA)
    plt.close(fig)
    return atomic_write(path, buffer.getvalue())


def set_strength_axis(ax: plt.Axes, levels: list[float], identity: float) -> None:
    """Log scale for grids spanning more than a decade (module docstring), ticks at the grid."""
    swept = [x for x in levels if x != identity and x > 0]
    if swept and max(swept) / min(swept) >= 10:
        if identity > 0:
            ax.set_xscale("log")
        else:
            ax.set_xscale("symlog", linthresh=min(swept), linscale=0.6)
    ax.set_xticks(levels)
    ax.set_xticklabels([f"{x:.3g}" for x in levels], fontsize=7, rotation=30 if len(levels) > 5 else 0)
    ax.minorticks_off()
    t = ax.xaxis.get_transform()
    a, b = t.transform([min(levels), max(levels)])
    pad = 0.05 * (b - a) if b > a else 1.0
    ax.set_xlim(*t.inverted().transform([a - pad, b + pad]))


def _mean_ci(v: PluginVerdict, metric: str) -> tuple[list, list, list, list]:
    xs, mean, lo, hi = [], [], [], []
    for row in v.strengths:
        e = row.metrics[metric]
        if e.mean is not None:
            xs.append(row.strength)
            mean.append(e.mean)
            lo.append(e.ci[0] if e.ci else e.mean)
            hi.append(e.ci[1] if e.ci else e.mean)
    return xs, mean, lo, hi


RING = {"s": 60, "facecolors": "none", "edgecolors": "#d97706", "lw": 1.4, "zorder": 5,
        "label": "flagged: source far below vanilla"}


def ring(ax: plt.Axes, points: list[tuple[float, float]]) -> None:
    """Ring ``points`` (the flagged trials) the same way in every figure; nothing when there are none."""
    if points:
        ax.scatter(*zip(*points, strict=True), **RING)


def flagged_points(v: PluginVerdict, data: PluginData, metric: str) -> list[tuple[float, float]]:
    """(strength, value of ``metric``) of each flagged trial of ``v`` that has a value."""
    flagged = {(n.strength, n.seed) for n in v.flagged}
    table = data.tables[metric]
    return [(x, float(table[i, j])) for i, seed in enumerate(data.seeds) for j, x in enumerate(data.levels)
            if (x, seed) in flagged and not np.isnan(table[i, j])]


def plugin_panels(v: PluginVerdict, data: PluginData, colour: str, min_acc: float, path: Path) -> Path:
    """acc_src, acc_tgt, rob_src and rel_dt vs strength: mean with 95% seed-bootstrap band, each
    seed faint, flagged trials ringed, excluded trials as grey crosses at their acc_src."""
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.1))
    for ax, (metric, label) in zip(axes, PANELS, strict=True):
        table = data.tables[metric]
        levels = np.array(data.levels, float)  # each seed faint: one artist for all of them, not one per seed
        lines = [np.column_stack([levels[ok], row[ok]]) for row in table if (ok := ~np.isnan(row)).any()]
        ax.add_collection(LineCollection(lines, colors=colour, alpha=0.25, lw=0.8), autolim=True)
        ring(ax, flagged_points(v, data, metric))
        xs, mean, lo, hi = _mean_ci(v, metric)
        if xs:
            ax.fill_between(xs, lo, hi, color=colour, alpha=0.18, lw=0)
            ax.plot(xs, mean, "o-", color=colour, lw=2, ms=4)
        if metric == "acc_src":
            ax.axhline(min_acc, color="0.5", lw=0.8, ls=":", label=f"usable above {min_acc:g}%")
            bad = [(n.strength, n.acc_src) for n in v.excluded if n.acc_src is not None]
            if bad:
                ax.scatter(*zip(*bad, strict=True), marker="x", color="0.45", s=30, zorder=4,
                           label="excluded (did not learn)")
        if metric == "rel_dt":
            ax.axhline(0, color="0.4", lw=0.8, ls="--")
            ax.set_facecolor(VERDICT_COLOURS.get(v.verdict, "white"))
        set_strength_axis(ax, data.levels, data.identity)
        ax.set_xlabel(axis_label(v), fontsize=8)
        ax.set_ylabel(label, fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        handles, names = ax.get_legend_handles_labels()
        if handles:
            uniq = dict(zip(names, handles, strict=True))
            ax.legend(uniq.values(), uniq.keys(), fontsize=6.5, loc="best")
    fig.suptitle(f"{v.plugin}: predicted {v.prediction.expected}, {v.label}  (mean, 95% band over seeds)",
                 fontsize=10)
    return _save(fig, path)


def rel_dt_overview(verdicts: list[PluginVerdict], data: dict[str, PluginData], colours: dict, path: Path) -> Path:
    """One small panel per plugin: rel_dt vs strength (mean, seed band, each trial a faint dot, flagged
    trials ringed), background by verdict."""
    cols = min(4, max(1, len(verdicts)))
    rows = -(-len(verdicts) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.1 * cols, 3.1 * rows), squeeze=False)
    for ax, v in zip(axes.flat, verdicts, strict=False):
        xs, mean, lo, hi = _mean_ci(v, "rel_dt")
        ax.set_facecolor(VERDICT_COLOURS.get(v.verdict, "white"))
        if xs:
            ax.fill_between(xs, lo, hi, color=colours[v.plugin], alpha=0.2, lw=0)
            ax.plot(xs, mean, "o-", color=colours[v.plugin], lw=2, ms=4)
        table = data[v.plugin].tables["rel_dt"]
        ok = ~np.isnan(table)
        ax.scatter(np.broadcast_to(data[v.plugin].levels, table.shape)[ok], table[ok], s=9, alpha=0.35,
                   color=colours[v.plugin], lw=0)
        ring(ax, flagged_points(v, data[v.plugin], "rel_dt"))
        ax.axhline(0, color="0.4", lw=0.8, ls="--")
        set_strength_axis(ax, data[v.plugin].levels, v.identity)
        ax.set_xlabel(axis_label(v), fontsize=8)
        ax.set_ylabel("rel_dt (points)", fontsize=8)
        ax.tick_params(axis="y", labelsize=7)
        ax.set_title(f"{v.plugin}: predicted {v.prediction.expected} | {v.label}", fontsize=9)
    for ax in list(axes.flat)[len(verdicts):]:
        ax.axis("off")
    fig.suptitle("Relative DT vs strength (mean and 95% seed-bootstrap band; green agrees, red disagrees, "
                 "grey inconclusive)", fontsize=10)
    return _save(fig, path)


def robustness_scatter(verdicts: list[PluginVerdict], data: dict[str, PluginData], corr: Correlation,
                       colours: dict, path: Path) -> Path:
    """rob_src vs rel_dt of every usable non-vanilla trial, flagged trials ringed, with Spearman rho and
    the fitted line over all of them and without the flagged ones."""
    fig, ax = plt.subplots(figsize=(6.6, 4.6))
    flagged = []
    for v in verdicts:
        marks = {(n.strength, n.seed) for n in v.flagged}
        d = data[v.plugin]
        rob, rel = d.tables["rob_src"][:, 1:], d.tables["rel_dt"][:, 1:]
        ok = ~np.isnan(rob) & ~np.isnan(rel)
        if ok.any():
            ax.scatter(rob[ok], rel[ok], s=26, alpha=0.75, color=colours[v.plugin], label=v.plugin,
                       edgecolors="white", linewidths=0.5)
        flagged += [(rob[i, j], rel[i, j]) for i, seed in enumerate(d.seeds) for j, level in enumerate(d.levels[1:])
                    if ok[i, j] and (level, seed) in marks]
    ring(ax, flagged)
    ax.axhline(0, color="0.4", lw=0.8, ls="--")
    if corr.rho is not None:
        xs = np.linspace(*ax.get_xlim(), 50)
        ax.plot(xs, corr.intercept + corr.slope * xs, color="0.2", lw=1.2,
                label=f"fit: rel_dt = {corr.intercept:+.1f} {corr.slope:+.2f} rob_src")
        u = corr.unflagged
        if corr.flagged and u is not None and u.rho is not None:
            ax.plot(xs, u.intercept + u.slope * xs, color="0.2", lw=1.0, ls="--", label="fit without flagged")
        ax.set_title(_rho_title(corr), fontsize=9)
    else:
        ax.text(0.5, 0.5, "too few trials with rob_src", ha="center", va="center", transform=ax.transAxes)
    ax.set_xlabel("source robust accuracy rob_src (%)")
    ax.set_ylabel("rel_dt (points)")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)


def _rho_title(corr: Correlation) -> str:
    """"Spearman rho = +0.41 (n = 20, 95% seed CI [...])", and on a second line the same without the
    flagged trials when there are any."""
    ci = f", 95% seed CI [{corr.rho_ci[0]:+.2f}, {corr.rho_ci[1]:+.2f}]" if corr.rho_ci else ""
    title = f"Spearman rho = {corr.rho:+.2f} (n = {corr.n}{ci})"
    u = corr.unflagged
    if not corr.flagged or u is None:
        return title
    rest = "too few for rho" if u.rho is None else f"rho = {u.rho:+.2f}"
    return title + f"\nwithout the {corr.flagged} flagged: {rest} (n = {u.n})"


def bound_image(latex: str, path: Path) -> Path | None:
    """The bound ``tau <= latex`` rendered with matplotlib's mathtext; None when mathtext cannot
    parse it (the report then shows the unicode form)."""
    fig = plt.figure(figsize=(0.01, 0.01))
    fig.text(0, 0, f"$\\tau \\leq {latex}$", fontsize=15)
    buffer = io.BytesIO()
    try:
        fig.savefig(buffer, format="png", dpi=120, bbox_inches="tight", pad_inches=0.06, metadata=FIGURE_METADATA)
    except ValueError:  # mathtext's parse error for LaTeX it does not support
        return None
    finally:
        plt.close(fig)
    return atomic_write(path, buffer.getvalue())
