"""The report: ``report.md``, a self-contained ``report.html`` (figures embedded), ``figures/*.png``
and ``verdicts.json``, written from flat trial rows and per-plugin verdicts (computed by the theory
package). Content is built once as a list of blocks, then rendered to Markdown and to HTML.
All files are written to temporary names and renamed, so a failed report leaves no half file.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rt_core.host.manager import report_sections
from rt_core.results import figures
from rt_core.results.io import atomic_write


@dataclass
class Block:
    kind: str  # "h1", "h2", "p", "table", "image", "code"
    text: str = ""
    rows: list = field(default_factory=list)
    path: str = ""


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    if isinstance(v, tuple | list) and len(v) == 2 and all(isinstance(x, float) for x in v):
        return f"[{v[0]:.{digits}f}, {v[1]:.{digits}f}]"
    return str(v)


def to_markdown(blocks: list[Block]) -> str:
    out = []
    for b in blocks:
        if b.kind in ("h1", "h2"):
            out.append(("# " if b.kind == "h1" else "## ") + b.text)
        elif b.kind == "p":
            out.append(b.text)
        elif b.kind == "table":
            head, *body = b.rows
            out.append("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
            out[-1] += "".join("\n| " + " | ".join(_fmt(c).replace("|", "\\|") for c in r) + " |" for r in body)
        elif b.kind == "image":
            out.append(f"![{b.text}]({b.path})")
        elif b.kind == "code":
            out.append("```\n" + b.text + "\n```")
    return "\n\n".join(out) + "\n"


def to_html(blocks: list[Block], root: Path, title: str) -> str:
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;font-size:13px}td,th{border:1px solid #ccc;padding:4px 8px;"
             "vertical-align:top}th{background:#f3f3f3}img{max-width:100%}pre{background:#f6f6f6;padding:1em;"
             "overflow:auto;font-size:12px}.agrees{background:#e6f4ea}.disagrees{background:#fdecea}"
             ".inconclusive{background:#f1f1f1}</style></head><body>"]
    for b in blocks:
        if b.kind in ("h1", "h2"):
            parts.append(f"<{b.kind}>{html.escape(b.text)}</{b.kind}>")
        elif b.kind == "p":
            parts.append(f"<p>{html.escape(b.text)}</p>")
        elif b.kind == "table":
            head, *body = b.rows
            rows = "".join("<tr>" + "".join(f"<td class='{html.escape(str(c))}'>{html.escape(_fmt(c))}</td>"
                                            for c in r) + "</tr>" for r in body)
            parts.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + f"</tr>{rows}</table>")
        elif b.kind == "image":
            data = base64.b64encode((root / b.path).read_bytes()).decode()
            parts.append(f"<p><img alt='{html.escape(b.text)}' src='data:image/png;base64,{data}'></p>")
        elif b.kind == "code":
            parts.append(f"<pre>{html.escape(b.text)}</pre>")
    return "".join(parts) + "</body></html>"


def _verdict_rows(verdicts: list[dict]) -> list[list]:
    rows = [["plugin", "theory prediction", "theory's numbers", "measured rel_dt trend", "slope per rank [95% CI]",
             "rob_src trend", "excluded", "verdict", "why"]]
    for v in verdicts:
        rel, rob = v["rel_dt"], v["rob_src"]
        measured = "-" if rel["spearman_rho"] is None else \
            f"rho {rel['spearman_rho']:+.2f} (p {rel['p_value']:.3g}, n {rel['n']})"
        slope = "-" if rel["slope"] is None else f"{rel['slope']:+.2f} {_fmt(tuple(rel['slope_ci']))}"
        robust = "-" if rob["spearman_rho"] is None else f"rho {rob['spearman_rho']:+.2f} (p {rob['p_value']:.3g})"
        rows.append([v["plugin"], v["prediction"], v["theory"], measured, slope, robust, v["excluded"],
                     v["verdict"], v["reason"]])
    return rows


def _figure_blocks(out: Path, trials: list[dict], verdicts: list[dict]) -> list[Block]:
    figdir = out / "figures"
    figdir.mkdir(parents=True, exist_ok=True)
    colours = figures.plugin_colours([t["plugin"] for t in trials])
    by_plugin = {v["plugin"]: v for v in verdicts}
    points: dict = {}
    vanilla = [t for t in trials if t["plugin"] == "vanilla" and t["usable"]]
    for v in verdicts:
        mine = [t for t in trials if t["plugin"] == v["plugin"]]
        good = [(v["identity"], t["rel_dt"]) for t in vanilla] + \
               [(t["strength"], t["rel_dt"]) for t in mine if t["usable"] and t.get("rel_dt") is not None]
        bad = [(t["strength"], t["rel_dt"]) for t in mine if not t["usable"] and t.get("rel_dt") is not None]
        points[v["plugin"]] = {"good": good, "excluded": bad}
    usable = [t for t in trials if t["usable"] and t.get("rel_dt") is not None]
    figures.rel_dt_by_strength(points, by_plugin, colours, figdir / "rel_dt_vs_strength.png")
    figures.robustness_vs_transfer(usable, colours, figdir / "robustness_vs_rel_dt.png")
    figures.source_vs_target([t for t in trials if t.get("acc_tgt") is not None], colours,
                             figdir / "source_vs_target.png")
    return [Block("h2", "Relative DT vs strength"),
            Block("image", "rel_dt vs strength", path="figures/rel_dt_vs_strength.png"),
            Block("p", "Background: green = agrees, red = disagrees, grey = inconclusive. The vanilla trials "
                       "stand at each plugin's identity strength (rel_dt = 0 by definition)."),
            Block("h2", "Robustness vs relative DT"),
            Block("image", "rob_src vs rel_dt", path="figures/robustness_vs_rel_dt.png"),
            Block("h2", "Source vs target accuracy"),
            Block("image", "acc_src vs acc_tgt", path="figures/source_vs_target.png")]


def build_blocks(out: Path, title: str, trials: list[dict], verdicts: list[dict], robustness: dict,
                 provenance: dict) -> list[Block]:
    counts = {s: sum(t["status"] == s for t in trials) for s in sorted({t["status"] for t in trials})}
    agree = sum(v["verdict"] == "agrees" for v in verdicts)
    blocks = [Block("h1", title),
              Block("p", f"{len(trials)} trials ({', '.join(f'{n} {s}' for s, n in counts.items())}); theory and "
                         f"measurement agree for {agree} of {len(verdicts)} plugins. The theory is this toolkit's "
                         "formalisation of [XU22] (SCIENCE.md T1-T5). Disagreements are findings, shown as measured."),
              Block("h2", "Verdicts"), Block("table", rows=_verdict_rows(verdicts))]
    rho = robustness
    blocks.append(Block("p", "Robustness vs transfer over all usable trials: " + (
        "too few trials" if rho["spearman_rho"] is None else
        f"Spearman rho(rob_src, rel_dt) = {rho['spearman_rho']:+.2f} (p = {rho['p_value']:.3g}, n = {rho['n']}). "
        "[SAL20] reads robustness as what transfers; [XU22] says it is not a reliable predictor.")))
    blocks += _figure_blocks(out, trials, verdicts)
    failed = [t for t in trials if t["status"] not in ("finished",)]
    if failed:
        blocks += [Block("h2", "Failed or diverged trials"),
                   Block("table", rows=[["plugin", "strength", "seed", "status", "error"]] +
                         [[t["plugin"], t["strength"], t["seed"], t["status"], t.get("error") or ""] for t in failed])]
    for heading, text in report_sections(trials):
        blocks += [Block("h2", heading), Block("p", text)]
    blocks += [Block("h2", "Provenance"), Block("code", json.dumps(provenance, indent=2, sort_keys=True, default=str))]
    return blocks


def write_report(out: str | Path, title: str, trials: list[dict], verdicts: list[dict], robustness: dict,
                 provenance: dict) -> Path:
    """Write report.md, report.html, figures/ and verdicts.json under ``out``; return report.md."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    blocks = build_blocks(out, title, trials, verdicts, robustness, provenance)
    atomic_write(out / "verdicts.json", json.dumps(verdicts, indent=2, default=str))
    atomic_write(out / "report.html", to_html(blocks, out, title))
    atomic_write(out / "report.md", to_markdown(blocks))
    return out / "report.md"
