"""Generic report rendering: typed blocks to Markdown and to one self-contained HTML page.

The host knows nothing of verdicts: a report is a list of blocks (:class:`Heading`, :class:`Text`
holding Markdown, :class:`Table`, :class:`Figure`, :class:`Code`). ``render_markdown`` writes them as
CommonMark with pipe tables; ``render_html`` fills a Jinja2 template, converts every Markdown text
(plugin report sections included, whose pipe tables become real tables) with markdown-it-py, and
embeds figures as base64 so the page stands alone. :func:`write_rendered` writes both atomically.

Every name in a report is data: Jinja2 escapes headings, cells and captions, and markdown-it runs with
raw HTML disabled (a ``<script>`` or ``<img onerror=...>`` in a plugin name, an error message or a
Markdown section is shown as text, never run).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from pathlib import Path

import jinja2
from markdown_it import MarkdownIt

from rt_core.results.io import atomic_write


@dataclass(frozen=True)
class Heading:
    text: str
    level: int = 2


@dataclass(frozen=True)
class Text:
    """A paragraph (or several) of CommonMark, pipe tables allowed."""

    markdown: str


@dataclass(frozen=True)
class Table:
    """A table of already formatted cells; ``row_classes`` (optional, one per row) tint HTML rows."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    caption: str = ""
    row_classes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class Figure:
    """A PNG at ``path`` relative to the report folder."""

    path: str
    caption: str = ""


@dataclass(frozen=True)
class Code:
    text: str


Block = Heading | Text | Table | Figure | Code
_MD = MarkdownIt("commonmark", {"html": False}).enable("table")
_ENV = jinja2.Environment(loader=jinja2.PackageLoader("rt_core.results", "templates"),
                          autoescape=jinja2.select_autoescape(["html", "j2"]), trim_blocks=True,
                          lstrip_blocks=True, undefined=jinja2.StrictUndefined)


_MARKDOWN_SYNTAX = re.compile(r"([\\`*_\[\]<>|&~#])")


def md_escape(text: object) -> str:
    """``text`` as literal Markdown: each character Markdown could read as syntax (backslash, backtick,
    ``* _ [ ] < > | & ~ #``) backslash-escaped and line breaks made spaces, so a name from data shows
    as itself, never as a tag, a link, emphasis, an entity or an extra table column. The one escape
    of every name a report writes: :func:`render_markdown` applies it to headings, table cells and
    captions; a report writer applies it to each name it puts into a :class:`Text`.

    >>> print(md_escape("<img src=x onerror=alert(1)>"), md_escape("a|b_c"))
    \\<img src=x onerror=alert(1)\\> a\\|b\\_c
    """
    return _MARKDOWN_SYNTAX.sub(r"\\\1", " ".join(str(text).splitlines()))


def _markdown_block(b: Block) -> str:
    if isinstance(b, Heading):
        return "#" * b.level + " " + md_escape(b.text)
    if isinstance(b, Text):
        return b.markdown.strip()
    if isinstance(b, Table):
        lines = ["| " + " | ".join(md_escape(h) for h in b.header) + " |", "|" + "---|" * len(b.header)]
        lines += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in b.rows]
        return ((f"*{md_escape(b.caption)}*\n\n" if b.caption else "") + "\n".join(lines))
    if isinstance(b, Figure):
        caption = md_escape(b.caption)
        return f"![{caption}]({b.path})" + (f"\n\n*{caption}*" if b.caption else "")
    if isinstance(b, Code):
        fence = "`" * max(3, 1 + max(map(len, re.findall("`+", b.text)), default=0))  # no line of the text closes it
        return f"{fence}\n" + b.text.rstrip("\n") + f"\n{fence}"
    raise TypeError(f"not a report block: {b!r}")


def render_markdown(blocks: list[Block]) -> str:
    """CommonMark (with pipe tables) of ``blocks``."""
    return "\n\n".join(_markdown_block(b) for b in blocks) + "\n"


def _anchor(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "section"


def _html_block(b: Block, root: Path) -> dict:
    if isinstance(b, Heading):
        return {"kind": "heading", "level": b.level, "text": b.text, "anchor": _anchor(b.text)}
    if isinstance(b, Text):
        return {"kind": "html", "html": _MD.render(b.markdown)}
    if isinstance(b, Table):
        classes = b.row_classes or ("",) * len(b.rows)
        return {"kind": "table", "header": b.header, "rows": list(zip(classes, b.rows, strict=True)),
                "caption": b.caption}
    if isinstance(b, Figure):
        data = base64.b64encode((root / b.path).read_bytes()).decode()
        return {"kind": "figure", "src": f"data:image/png;base64,{data}", "caption": b.caption}
    if isinstance(b, Code):
        return {"kind": "code", "text": b.text}
    raise TypeError(f"not a report block: {b!r}")


def render_html(blocks: list[Block], title: str, root: str | Path) -> str:
    """One self-contained HTML page of ``blocks`` (figures read from ``root`` and embedded)."""
    items = [_html_block(b, Path(root)) for b in blocks]
    toc = [i for i in items if i["kind"] == "heading" and i["level"] == 2]
    return _ENV.get_template("report.html.j2").render(title=title, items=items, toc=toc,
                                                       markup=jinja2.utils.markupsafe.Markup)


def write_rendered(out: str | Path, title: str, blocks: list[Block], extra: dict[str, str] | None = None) -> Path:
    """Write ``report.md``, ``report.html`` and each ``extra`` file (name -> text) under ``out``,
    each atomically; return the path of report.md."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    for name, text in (extra or {}).items():
        atomic_write(out / name, text)
    atomic_write(out / "report.html", render_html(blocks, title, out))
    return atomic_write(out / "report.md", render_markdown(blocks))
