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
    from rt_core.host.manager import broken_plugins, plugin_table

    rows = plugin_table()
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    _plugins_text(rows)
    for line in broken_plugins().values():
        print(f"not loaded: {line}")
    return 0


def _plugins_text(rows: list[dict]) -> None:
    """The plugin table, each registered record on its own indented line with its description."""
    header = ("plugin", "version", "registered")
    lines = []
    for r in rows:
        what = [f"{k}: {_cell(r[k])}" for k in ("augmentations", "regularizers", "datasets", "models",
                                                "bounds") if r[k]]
        lines.append((r["name"], r["version"], "; ".join(what) or _cell(r["hooks"])))
    widths = [max(len(str(x[i])) for x in [header, *lines]) for i in range(2)]
    print(f"{header[0]:<{widths[0]}}  {header[1]:<{widths[1]}}  {header[2]}")
    for (name, version, what), row in zip(lines, rows, strict=True):
        print(f"{name:<{widths[0]}}  {version:<{widths[1]}}  {what}")
        for record, text in row["descriptions"].items():
            print(f"    {record}: {text or '(no description)'}")


def _load_commands() -> None:
    """Import the modules that define more subcommands (theory, report)."""
    import importlib

    for module in EXTRA_COMMANDS:
        importlib.import_module(module)


EXTRA_COMMANDS = ("theory.cli", "benchmarks.cli")  # theory, report, demo; bench


def build_parser() -> argparse.ArgumentParser:
    _load_commands()
    from rt_core import __version__

    parser = argparse.ArgumentParser(prog="rt", description="regularization and transferability toolkit")
    parser.add_argument("--version", action="version", version=f"rt {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, (fn, configure) in COMMANDS.items():
        p = sub.add_parser(name, help=(fn.__doc__ or "").splitlines()[0])
        configure(p)
        p.set_defaults(func=fn)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``rt`` command; a user's mistake (RtError, from the command or from loading plugins) is one
    line on stderr and exit 2."""
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        return int(args.func(args) or 0)
    except RtError as err:
        print(f"rt: error: {err}", file=sys.stderr)
        return 2



def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="TOML experiment config, e.g. examples/quickstart.toml")
    p.add_argument("--out", required=True, help="experiment directory (results.sqlite, results.csv)")
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    p.add_argument("--force", action="store_true", help="write into a store made for a different config")
    p.add_argument("--quiet", action="store_true", help="no progress bars or per-trial lines")
    p.add_argument("--pack", type=int, default=1, metavar="K",
                   help="train up to K packable trials together (vanilla, augmentations, weight decay; models "
                        "without batch norm): worth it on a GPU, e.g. --pack 16; default 1 (each alone)")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local: one trial after another here (default); ray: one Ray task per trial")
    p.add_argument("--address", help="Ray cluster address (default: start a local instance for the run)")
    p.add_argument("--cpus-per-trial", type=float, default=1.0, help="Ray CPUs per trial (default 1)")
    p.add_argument("--gpus-per-trial", type=float, default=0.0, help="Ray GPUs per trial, fractions allowed")
    p.add_argument("--max-retries", type=int, default=2, help="reruns of a trial whose Ray worker died (default 2)")


def make_executor(args: argparse.Namespace):
    """The executor the command line asks for; Ray options without --executor ray are an error."""
    from rt_core.experiment.sweep import LocalExecutor

    if args.executor == "local":
        if args.address:
            raise RtError("--address is a Ray option; add --executor ray")
        return LocalExecutor()
    from rt_core.experiment.ray_executor import RayExecutor

    gpus = args.gpus_per_trial or (1.0 if args.device.startswith("cuda") else 0.0)
    return RayExecutor(args.address, args.cpus_per_trial, gpus, args.max_retries)


@command("run", _run_args)
def run_command(args: argparse.Namespace) -> int:
    """Run a sweep (resumable: finished trials are skipped on a rerun).

    Exit status: 0 when no trial failed (diverged trials are results), 1 when some failed, 2 on bad input.
    """
    from rt_core.experiment.config import load_config
    from rt_core.experiment.sweep import run_sweep

    cfg = load_config(args.config)
    counts = run_sweep(cfg, args.out, device=args.device, force=args.force, quiet=args.quiet,
                       executor=make_executor(args), pack=args.pack)
    done = ", ".join(f"{v} {k}" for k, v in counts.items() if k != "total")
    print(f"{counts['total']} trials ({done}); results in {args.out}/results.sqlite and results.csv")
    if counts.get("failed"):
        print(f"{counts['failed']} trial(s) failed: their errors are in results.csv and `rt report {args.out}`; "
              "a rerun retries them", file=sys.stderr)
        return 1
    return 0


def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("directory", help="experiment directory holding results.sqlite (read only)")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv", help="csv (default) or parquet")
    p.add_argument("--out", help="file to write (default: DIR/results_table.csv or .parquet)")


@command("export", _export_args)
def export_command(args: argparse.Namespace) -> int:
    """Export the trials as one table (metrics, usable, delta_acc_src, delta_acc_tgt, rel_dt): csv or parquet."""
    from rt_core.api import export

    path = export(args.directory, args.out, args.format)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":  # `python -m rt_core.cli`: run the imported module, whose registry the guests fill
    from rt_core.cli import main as imported_main

    sys.exit(imported_main())
