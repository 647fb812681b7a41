"""The ``rt`` command. Each subcommand lives in a small function; user errors print one line
(``rt: error: ...``) and exit with status 2."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable

from rt_core.errors import RtError

COMMANDS: dict[str, tuple[Callable, Callable]] = {}


def command(name: str, configure: Callable[[argparse.ArgumentParser], None]):
    """Register ``fn(args) -> int`` as subcommand ``name``; ``configure`` adds its arguments."""
    def wrap(fn: Callable) -> Callable:
        COMMANDS[name] = (fn, configure)
        return fn
    return wrap


def _plugins_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the table as JSON")


def _cell(values: list[str]) -> str:
    return ", ".join(values) if values else "-"


@command("plugins", _plugins_args)
def plugins_command(args: argparse.Namespace) -> int:
    """List loaded plugins: name, version, hooks and what each registered."""
    from rt_core.plugins import plugin_table

    rows = plugin_table()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = ("plugin", "version", "registered")
    lines = []
    for r in rows:
        what = [f"{k}: {_cell(r[k])}" for k in ("augmentations", "regularizers", "datasets", "models",
                                                "bounds") if r[k]]
        lines.append((r["name"], r["version"], "; ".join(what) or _cell(r["hooks"])))
    widths = [max(len(str(x[i])) for x in [header, *lines]) for i in range(2)]
    print(f"{header[0]:<{widths[0]}}  {header[1]:<{widths[1]}}  {header[2]}")
    for name, version, what in lines:
        print(f"{name:<{widths[0]}}  {version:<{widths[1]}}  {what}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rt", description="regularization and transferability toolkit")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (fn, configure) in COMMANDS.items():
        p = sub.add_parser(name, help=(fn.__doc__ or "").splitlines()[0])
        configure(p)
        p.set_defaults(func=fn)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except RtError as err:
        print(f"rt: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
