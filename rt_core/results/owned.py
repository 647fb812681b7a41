"""Which files rt wrote: before a command replaces a file it checks, by what the file holds, that rt
wrote it, so a user's file that happens to have the name rt writes is never overwritten.

The rule, one signature per kind of file (the kind is the file's suffix unless the caller names it):

- ``.csv`` (``results.csv``, ``results_table.csv``): the header starts ``key,plugin,strength,seed,status,``,
  as every table rt writes does;
- ``.parquet``: its columns start the same way;
- ``.md`` and ``.html`` (``report.md``, ``report.html``): the last section is the ``Provenance`` heading
  with its JSON in a code block, as every report rt writes ends (reports written before this rule
  existed end the same way, so they are recognised too);
- ``.json`` (``verdicts.json``): a JSON object holding ``title``, ``settings``, ``plugins`` and
  ``provenance``;
- ``.png`` (``figures/*.png``): it carries rt's text chunk (``FIGURE_METADATA``, which every figure rt
  draws is saved with), or it is a Matplotlib PNG in the ``figures/`` folder of a report whose
  ``report.md`` is rt's (figures drawn before rt marked them).

A folder, a file that cannot be read, or a file of any other kind is not rt's.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from pathlib import Path

from rt_core.errors import RtError

CSV_HEADER = "key,plugin,strength,seed,status,"
FIGURE_MARK = "written by rt report"
FIGURE_METADATA = {"Comment": FIGURE_MARK}  # savefig(..., metadata=FIGURE_METADATA): the PNG's tEXt chunk
REPORT_KEYS = {"title", "settings", "plugins", "provenance"}
REPORT_FILES = ("report.md", "report.html", "verdicts.json")  # what a report writes into its folder, figures aside


def _read(path: Path, size: int = -1) -> bytes:
    try:
        with open(path, "rb") as fh:
            return fh.read(size)
    except OSError:
        return b""


def csv_is_ours(path: str | Path) -> bool:
    """The file starts with the header of the tables rt writes."""
    return _read(Path(path), len(CSV_HEADER)) == CSV_HEADER.encode()


def _parquet_is_ours(path: Path) -> bool:
    import pyarrow.parquet as pq  # only a parquet export gets here, and it needs pyarrow anyway

    try:
        names = pq.read_schema(path).names
    except (OSError, ValueError):  # pyarrow's ArrowInvalid is a ValueError
        return False
    return ",".join(names[:5]) + "," == CSV_HEADER


def _text(path: Path) -> str:
    return _read(path).decode("utf-8", "replace")


_PROVENANCE_MD = re.compile(r"## Provenance\n\n(`{3,})\n\{.*\}\n\1", re.DOTALL)


def _markdown_is_ours(path: Path) -> bool:
    text = _text(path).rstrip()
    last = text[text.rfind("\n## ") + 1:]  # the JSON's lines are indented: none starts with "## "
    return _PROVENANCE_MD.fullmatch(last) is not None


def _html_is_ours(path: Path) -> bool:
    text = _text(path).rstrip()
    last = text[text.rfind("<h2 "):]  # the JSON in <pre> is escaped: no raw tag inside it
    return last.startswith('<h2 id="provenance">Provenance</h2>\n<pre>{') and last.endswith("}</pre>\n</body>\n</html>")


def _json_is_ours(path: Path) -> bool:
    try:
        found = json.loads(_read(path))
    except ValueError:
        return False
    return isinstance(found, dict) and REPORT_KEYS <= found.keys()


def _png_is_ours(path: Path) -> bool:
    head = _read(path, 4096).split(b"IDAT")[0]  # text chunks come before the image data
    if not head.startswith(b"\x89PNG") or b"tEXt" not in head:
        return False
    if b"tEXtComment\x00" + FIGURE_MARK.encode() in head:
        return True
    report = path.parent.parent / "report.md"
    return b"tEXtSoftware\x00Matplotlib" in head and path.parent.name == "figures" and _markdown_is_ours(report)


RULES = {".csv": csv_is_ours, ".parquet": _parquet_is_ours, ".md": _markdown_is_ours, ".html": _html_is_ours,
         ".json": _json_is_ours, ".png": _png_is_ours}


def is_ours(path: str | Path, kind: str | None = None) -> bool:
    """Whether rt wrote the file at ``path``, by the signature of its ``kind`` (a suffix such as
    ``".csv"``; default the path's own suffix): the module docstring's rule."""
    path = Path(path)
    rule = RULES.get(kind or path.suffix)
    return path.is_file() and rule is not None and bool(rule(path))


def check_overwrite(paths: Iterable[str | Path], kind: str | None = None) -> None:
    """Refuse, in one RtError line and before anything is written, to replace an existing path that
    rt did not write (:func:`is_ours`); paths that do not exist yet are fine."""
    for path in map(Path, paths):
        if os.path.lexists(path) and not is_ours(path, kind):
            what = "a folder" if path.is_dir() else "a file rt did not write"
            raise RtError(f"{path} is {what}; rt replaces only files it wrote, never yours: move it away or give "
                          "another --out")
