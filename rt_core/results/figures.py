"""The report's figures (matplotlib, Agg): one colour per plugin across every figure."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

VERDICT_COLOURS = {"agrees": "#e6f4ea", "disagrees": "#fdecea", "inconclusive": "#f1f1f1"}


def plugin_colours(plugins: list[str]) -> dict[str, str]:
    """Plugin -> hex colour (tab10 in name order; vanilla black). Hex strings, never RGBA tuples,
    which matplotlib can read as four values to colour-map when a series has four points."""
    cmap = plt.get_cmap("tab10")
    names = sorted(p for p in set(plugins) if p != "vanilla")
    colours = {p: matplotlib.colors.to_hex(cmap(i % 10)) for i, p in enumerate(names)}
    colours["vanilla"] = "#000000"
    return colours


def _save(fig, path: Path) -> Path:
    """Lay out, write the PNG at 110 dpi, and free the figure."""
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _xscale(ax, xs: list[float]) -> None:
    positive = [x for x in xs if x > 0]
    if positive and max(positive) / min(positive) > 30:
        ax.set_xscale("symlog", linthresh=min(positive))


def rel_dt_by_strength(points: dict, verdicts: dict, colours: dict, path: Path) -> Path:
    """One panel per plugin: rel_dt of each trial (dots), mean +- std per strength (line),
    excluded trials (grey x), background tinted by the verdict, prediction in the title."""
    plugins = sorted(points)
    cols = min(4, max(1, len(plugins)))
    rows = -(-len(plugins) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.3 * rows), squeeze=False)
    for ax, plugin in zip(axes.flat, plugins, strict=False):
        good, bad = points[plugin]["good"], points[plugin]["excluded"]
        v = verdicts.get(plugin, {})
        ax.set_facecolor(VERDICT_COLOURS.get(v.get("verdict"), "white"))
        if good:
            xs, ys = zip(*good, strict=True)
            ax.scatter(xs, ys, s=16, color=colours[plugin], alpha=0.55, zorder=3)
            levels = sorted(set(xs))
            means = [np.mean([y for x, y in good if x == s]) for s in levels]
            stds = [np.std([y for x, y in good if x == s]) for s in levels]
            ax.errorbar(levels, means, yerr=stds, color=colours[plugin], lw=2, capsize=3, zorder=4)
            _xscale(ax, list(xs))
        if bad:
            ax.scatter([x for x, _ in bad], [y for _, y in bad], marker="x", color="0.55", s=22, zorder=2,
                       label="excluded (did not learn)")
            ax.legend(fontsize=7, loc="best")
        ax.axhline(0, color="0.4", lw=0.8, ls="--")
        ax.set_title(f"{plugin}\npredicted: {v.get('prediction', '?')} | {v.get('verdict', '?')}", fontsize=9)
        ax.set_xlabel("strength", fontsize=8)
        ax.set_ylabel("rel_dt (pp)", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(plugins):]:
        ax.axis("off")
    fig.suptitle("Relative domain transferability vs strength (mean +- std over seeds)", fontsize=11)
    return _save(fig, path)


def robustness_vs_transfer(trials: list[dict], colours: dict, path: Path) -> Path:
    """Every usable trial: rob_src (x) vs rel_dt (y); colour = plugin, size = strength rank."""
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for plugin in sorted({t["plugin"] for t in trials}):
        mine = [t for t in trials if t["plugin"] == plugin and t.get("rob_src") is not None]
        if not mine:
            continue
        levels = sorted({t["strength"] for t in mine})
        sizes = [20 + 60 * levels.index(t["strength"]) / max(1, len(levels) - 1) for t in mine]
        ax.scatter([t["rob_src"] for t in mine], [t["rel_dt"] for t in mine], s=sizes, alpha=0.7,
                   color=colours[plugin], label=plugin, edgecolors="white", linewidths=0.5)
    ax.axhline(0, color="0.4", lw=0.8, ls="--")
    ax.set_xlabel("source robust accuracy (%)")
    ax.set_ylabel("rel_dt (pp)")
    ax.set_title("Robustness vs relative transferability (size = strength)")
    if ax.collections:
        ax.legend(fontsize=7, ncol=2)
    else:
        ax.text(0.5, 0.5, "no rob_src in these results", ha="center", va="center", transform=ax.transAxes)
    return _save(fig, path)


def source_vs_target(trials: list[dict], colours: dict, path: Path) -> Path:
    """acc_src (x) vs acc_tgt (y) per trial; lines join each plugin's means by strength."""
    fig, ax = plt.subplots(figsize=(6.4, 4.6))
    for plugin in sorted({t["plugin"] for t in trials}):
        mine = [t for t in trials if t["plugin"] == plugin]
        ax.scatter([t["acc_src"] for t in mine], [t["acc_tgt"] for t in mine], s=18, alpha=0.45,
                   color=colours[plugin])
        levels = sorted({t["strength"] for t in mine})
        mx = [np.mean([t["acc_src"] for t in mine if t["strength"] == s]) for s in levels]
        my = [np.mean([t["acc_tgt"] for t in mine if t["strength"] == s]) for s in levels]
        ax.plot(mx, my, "-o", color=colours[plugin], ms=4, lw=1.5, label=plugin)
    ax.set_xlabel("source clean accuracy (%)")
    ax.set_ylabel("target accuracy (%)")
    ax.set_title("Source vs target accuracy (lines: mean per strength)")
    ax.legend(fontsize=7, ncol=2)
    return _save(fig, path)
