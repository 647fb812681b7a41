"""What a report writer needs from the host (the theory plugin's ``rt report`` uses it; so may any
plugin implementing ``rt_write_report``): the store it reads, the one definition of rel_dt and of a
usable trial, the report settings of a config, the renderer that turns blocks into Markdown and
HTML (``md_escape``: the one escape of a name in Markdown), and the rule that tells files rt wrote from
a user's (``check_overwrite`` before writing, ``FIGURE_METADATA`` on every figure). Imports no torch.

>>> from rt_core.reporting import Heading, Text, render_markdown, rel_dt
>>> print(render_markdown([Heading("Result", 2), Text(f"rel_dt = {rel_dt(90.0, 60.0, 92.0, 55.0):+.1f}")]))
## Result
<BLANKLINE>
rel_dt = +7.0
<BLANKLINE>
"""

from __future__ import annotations

from rt_core.experiment.config import ReportConfig, parse_number
from rt_core.results.io import atomic_write
from rt_core.results.metrics import deltas, min_acc_src, rel_dt, usable, usable_at
from rt_core.results.owned import FIGURE_METADATA, REPORT_FILES, check_overwrite, is_ours
from rt_core.results.render import (
    Block,
    Code,
    Figure,
    Heading,
    Table,
    Text,
    md_escape,
    render_html,
    render_markdown,
    write_rendered,
)
from rt_core.results.store import Store

__all__ = ["FIGURE_METADATA", "REPORT_FILES", "Block", "Code", "Figure", "Heading", "ReportConfig", "Store", "Table",
           "Text", "atomic_write", "check_overwrite", "deltas", "is_ours", "md_escape", "min_acc_src", "parse_number",
           "rel_dt", "render_html", "render_markdown", "usable", "usable_at", "write_rendered"]
