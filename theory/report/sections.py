"""The report's content as typed blocks, built from typed verdicts (rendered by rt_core.results.render)."""

from __future__ import annotations

import json

from rt_core.reporting import Block, Code, Figure, Heading, Table, Text, md_escape
from theory.report.plan import SEED_GRID, UNDECIDED
from theory.report.verdicts import Estimate, PlanRow, PluginVerdict, Report

PREDICTED = {"rises": "rel_dt rises", "none": "no systematic effect", "unknown": "no prediction"}
STRENGTH_METRICS = (("acc_src", "acc_src %"), ("acc_tgt", "acc_tgt %"), ("rob_src", "rob_src %"),
                    ("rel_dt", "rel_dt"), ("d_acc_src", "Δ acc_src"), ("d_acc_tgt", "Δ acc_tgt"),
                    ("rel_dt_probe", "rel_dt probe"))


def est(e: Estimate | None, sign: bool = True, digits: int = 1) -> str:
    """"+3.1 [-0.5, +6.2]"; "-" when nothing was measured; no interval with one seed."""
    if e is None or e.mean is None:
        return "-"
    f = f"{{:{'+' if sign else ''}.{digits}f}}"
    if e.ci is None:
        return f.format(e.mean) + (" (1 seed)" if e.seeds == 1 else "")
    return f"{f.format(e.mean)} [{f.format(e.ci[0])}, {f.format(e.ci[1])}]"


def _trend_cell(v: PluginVerdict) -> str:
    t = v.trend
    if t is None:
        return "not tested"
    return f"{t.test} {t.statistic:.3g}, p {t.p_value:.2g}, Holm p {t.p_holm:.2g} ({t.direction}, {t.seeds} seeds)"


def _equivalence_cell(v: PluginVerdict) -> str:
    e = v.equivalence
    if e is None:
        return "-"
    return f"90% CI [{e.ci90[0]:+.1f}, {e.ci90[1]:+.1f}] vs ±{e.margin:g}: Holm p {e.p_holm:.2g}"


def _stability_cell(v: PluginVerdict) -> str:
    if v.stability is None:
        return "- (1 seed)"
    return f"{v.stability:.2f}" + ("" if v.stable else " unstable")


def verdict_table(report: Report) -> Table:
    header = ("plugin", "theory predicts", "trend test (rel_dt)", "effect over range [95% CI]", "equivalence",
              "why rel_dt moved", "probe rel_dt effect", "excluded / flagged", "stability", "verdict")
    rows = tuple((v.plugin, PREDICTED[v.prediction.expected], _trend_cell(v), est(v.effect), _equivalence_cell(v),
                  v.decomposition.source, est(v.decomposition.rel_dt_probe), f"{len(v.excluded)} / {len(v.flagged)}",
                  _stability_cell(v), v.label)
                 for v in report.plugins)
    return Table(header, rows, row_classes=tuple(v.verdict for v in report.plugins))


def unstable_decided(plugins) -> str:
    """" N of the M agree/disagree verdicts are unstable ..." (empty when none was decided)."""
    decided = [v for v in plugins if v.verdict in ("agrees", "disagrees")]
    if not decided:
        return ""
    n = sum(v.stable is False for v in decided)
    if len(decided) == 1:
        return (f" The one agree/disagree verdict is {'unstable' if n else 'stable'} "
                f"({'under' if n else 'at least'} 80% of seed resamples reproduce it).")
    return (f" {n} of the {len(decided)} agree/disagree verdicts {'is' if n == 1 else 'are'} unstable "
            f"(under 80% of seed resamples reproduce {'it' if n == 1 else 'them'}).")


def summary(report: Report) -> Text:
    s, plugins = report.settings, report.plugins
    counts = {k: sum(v.verdict == k for v in plugins) for k in ("agrees", "disagrees", "inconclusive")}
    return Text(
        f"{len(plugins)} plugins over seeds {seed_ranges(s.seeds)}: **{counts['agrees']} agree, "
        f"{counts['disagrees']} disagree, {counts['inconclusive']} inconclusive** with the theory as formalised "
        f"in this toolkit (T1-T5 of its docs/science.md, a reconstruction of [XU22]).{unstable_decided(plugins)} "
        f"{excluded_text(report)}{left_out_text(report)}{subset_text(report)}{environments_text(report)}\n\n"
        f"How to read it: seeds are blocks (every trial's rel_dt is taken against its own seed's vanilla). The "
        f"trend test is Page's L over the ordered strengths with seeds as blocks, two-sided, Holm-corrected over "
        f"the {len(plugins)} plugins at alpha = {s.alpha:g}. The effect is the fitted change of rel_dt from the "
        f"identity to the strongest setting, in points, averaged over seeds, with a 95% interval from resampling "
        f"seeds ({s.resamples} resamples; {len(s.seeds)} seeds allow only {s.distinct_resamples} distinct ones). "
        f"A \"no systematic effect\" prediction agrees only when the 90% interval of that effect lies inside "
        f"±{s.equivalence_margin:g} points (TOST, `[report] equivalence_margin`); a large p-value alone is "
        f"inconclusive. Stability is the share of seed resamples that reproduce the verdict (below 0.80: "
        f"unstable). \"Why rel_dt moved\" splits the effect into Δ acc_tgt - Δ acc_src; the probe effect "
        f"replaces the source head by a fresh linear probe on the frozen features, so a source head that fails "
        f"on clean images is told apart from features that transfer.")


def environments_text(report: Report) -> str:
    """" Its trials ran in N environments ..." when the store's trials were run on more than one, each
    named by the recorded fields in which the environments differ."""
    envs = report.provenance.get("environments") or []
    if len(envs) < 2:
        return ""
    differ = [k for k in envs[0]["versions"] if len({json.dumps(e["versions"].get(k)) for e in envs}) > 1]
    parts = "; ".join(f"{e['trials']} ({', '.join(e['plugins'])}) with "
                      + ", ".join(f"{k} {e['versions'].get(k)}" for k in differ) for e in envs)
    return (f" Its trials ran in {len(envs)} environments ({parts}; the provenance lists each): a trial's numbers "
            f"can differ between machines (float arithmetic in training), so a trial paired with its seed's vanilla "
            f"from another environment carries that difference into its rel_dt.")


def left_out_text(report: Report) -> str:
    """" Seeds ... left out: ..." when the store holds seeds whose trials have not all run yet."""
    left = report.provenance.get("seeds_left_out")
    return " " + left_out_line(left) if left else ""


def subset_text(report: Report) -> str:
    """" Read with --only-seeds ..." when the report reads a chosen subset of the store's seeds."""
    only, held = report.provenance.get("only_seeds"), report.provenance.get("store_seeds")
    return (f" Read with `--only-seeds {seed_ranges(only)}`: the store holds seeds {seed_ranges(held)}, "
            f"the others are not in this report.") if only else ""


def left_out_line(left: list[int]) -> str:
    """The sentence naming seeds left out because their trials have not all run."""
    return (f"Seed(s) {seed_ranges(left)} left out: not all of their trials have run yet (a sweep runs "
            f"seed by seed; rerun the same `rt run` to finish them).")


def seed_ranges(seeds: list[int]) -> str:
    """Sorted seeds with runs of consecutive ones written as ranges.

    >>> seed_ranges([0, 1, 2, 5, 7, 8])
    '0-2, 5, 7-8'
    """
    runs: list[list[int]] = []
    for s in sorted(seeds):
        if runs and s == runs[-1][1] + 1:
            runs[-1][1] = s
        else:
            runs.append([s, s])
    return ", ".join(str(a) if a == b else f"{a}-{b}" for a, b in runs)


def excluded_text(report: Report) -> str:
    """"N of M trials excluded: ..." from the report's counts (each trial counted once)."""
    c, s = report.counts, report.settings
    if c is None:
        return ""
    text = (f"{c.excluded} of {c.trials} trials excluded: {c.unusable} did not finish or their source model "
            f"stayed within 10 points of chance (acc_src <= {s.min_acc_src:g}%)")
    text += f", {c.orphaned} more learned but their seed's vanilla did not." if c.orphaned else "."
    return text + (f" {c.flagged} usable trial(s) flagged (source far below its vanilla)." if c.flagged else "")


def reasons(report: Report) -> Text:
    """One line per plugin: its name, verdict, the reason and the theory's text (each escaped: names are data)."""
    return Text("\n".join(f"- **{md_escape(v.plugin)}** ({v.verdict}): {md_escape(v.reason)}. "
                          f"Theory: {md_escape(v.prediction.text)}." for v in report.plugins))


def strength_table(v: PluginVerdict) -> Table:
    header = ("strength", "usable / trials", *[name for _, name in STRENGTH_METRICS])
    rows, classes = [], []
    for r in v.strengths:
        label = f"{r.strength:g}" + (" (vanilla)" if r.strength == v.identity else "")
        count = f"{r.usable} / {r.trials}" + (f", {r.flagged} flagged" if r.flagged else "")
        rows.append((label, count, *[est(r.metrics[m], sign=m not in ("acc_src", "acc_tgt", "rob_src"))
                                     for m, _ in STRENGTH_METRICS]))
        classes.append("flag" if r.flagged or r.usable < r.trials else "")
    return Table(header, tuple(rows), caption=f"{v.plugin}: mean [95% seed-bootstrap interval] per strength; "
                                              "Δ against the same seed's vanilla, points",
                 row_classes=tuple(classes))


def theory_blocks(v: PluginVerdict, bound_png: str | None) -> list[Block]:
    p = v.prediction
    blocks: list[Block] = [Text(f"**Theory** ({p.kind}): predicts {PREDICTED[p.expected]}: {md_escape(p.text)}.")]
    if p.bound is not None:
        if bound_png:
            blocks.append(Figure(bound_png, f"registered bound, monotone in {p.bound.symbol}: {p.bound.monotone} "
                                            f"({p.bound.decided_by})"))
        else:
            blocks.append(Code(f"tau <= {p.bound.unicode}"))
    if p.strengths:
        rows = tuple((f"{c.strength:g}", c.verdict, _numbers(c.numbers), c.reason) for c in p.strengths)
        blocks.append(Table(("strength", "T4 verdict", "numbers", "reason"), rows,
                            caption="the classifier at each swept strength"))
    return blocks


def _numbers(numbers: dict) -> str:
    keys = [k for k in ("spectral_norm", "detail_gain", "lost_fraction", "isometry_distance") if k in numbers]
    keys = keys or sorted(numbers)[:4]
    return ", ".join(f"{k} {numbers[k]:.2f}" for k in keys if isinstance(numbers[k], int | float))


def notes(v: PluginVerdict) -> list[Block]:
    items = [f"- excluded: strength {n.strength:g}, seed {n.seed}, acc_src "
             f"{'-' if n.acc_src is None else f'{n.acc_src:.1f}%'} ({md_escape(n.why)})" for n in v.excluded]
    items += [f"- flagged: strength {n.strength:g}, seed {n.seed}, acc_src {n.acc_src:.1f}% ({md_escape(n.why)})"
              for n in v.flagged]
    return [Text("\n".join(items))] if items else []


def plan_table(report: Report) -> Table:
    header = ("plugin", "seeds measured", "SD of effect over seeds", "seeds to detect", "with Holm",
              "seeds to show none", "seeds to decide (resampled)")
    rows = tuple((r.plugin, str(r.seeds_measured), "-" if r.effect_sd is None else f"{r.effect_sd:.2f}",
                  _n(r.seeds_to_detect), _n(r.seeds_to_detect_holm), _n(r.seeds_for_equivalence), decide_cell(r))
                 for r in report.plan)
    return Table(header, rows)


def decide_cell(r: PlanRow) -> str:
    """"8 (agrees)"; "> 64" when no seed count of the grid decides; "-" when not sized."""
    if r.seeds_to_decide is not None:
        return f"{r.seeds_to_decide} ({r.decided_as})"
    return f"> {SEED_GRID[-1]}" if r.decided_as == UNDECIDED else "-"


def _n(n: int | None) -> str:
    return "-" if n is None else str(n)


def provenance(report: Report) -> list[Block]:
    return [Heading("Provenance"), Code(json.dumps(report.provenance, indent=2, sort_keys=True, default=str))]
