"""The ``rt`` command: every subcommand comes from a plugin's ``rt_register_commands(cli)`` hook,
this module's own (``plugins``, ``run``, ``demo``) included. User errors print one line
(``rt: error: ...``) and exit with status 2.

The sweep and its executors (torch, Ray) are imported inside the commands that run them, so ``rt --help``
and ``rt plugins`` start without importing torch.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from pathlib import Path

from rt_core import __version__, examples
from rt_core.api import export
from rt_core.errors import RtError
from rt_core.experiment.config import AT_LEAST_ONE, NON_NEGATIVE, OUT, POSITIVE, Check, ExperimentConfig
from rt_core.experiment.interrupts import SweepInterrupted
from rt_core.experiment.loading import load_config
from rt_core.host.commands import commands
from rt_core.host.hookspecs import hookimpl
from rt_core.host.manager import broken_plugins, get_plugin_manager, plugin_table, write_report


def _plugins_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print the table as JSON")


def _cell(values: list[str]) -> str:
    return ", ".join(values) if values else "-"


def plugins_command(args: argparse.Namespace) -> int:
    """List loaded plugins: name, version, hooks and what each registered, with descriptions."""
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
                                                "predictors", "commands") if r[k]]
        lines.append((r["name"], r["version"], "; ".join(what) or _cell(r["hooks"])))
    widths = [max(len(str(x[i])) for x in [header, *lines]) for i in range(2)]
    print(f"{header[0]:<{widths[0]}}  {header[1]:<{widths[1]}}  {header[2]}")
    for (name, version, what), row in zip(lines, rows, strict=True):
        print(f"{name:<{widths[0]}}  {version:<{widths[1]}}  {what}")
        for record, text in row["descriptions"].items():
            print(f"    {record}: {text or '(no description)'}{_predictor_note(row, record)}")


def _predictor_note(row: dict, record: str) -> str:
    """The note after a predictor's description, e.g. " (higher is better; needs source_logits)"; ""
    after any other record's."""
    flags = row["predictor_flags"].get(record)
    if flags is None:
        return ""
    parts = ["higher is better" if flags["higher_is_better"] else "lower is better"]
    parts += [f"needs {', '.join(flags['needs'])}"] if flags["needs"] else []
    return f" ({'; '.join(parts)})"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every registered subcommand."""
    parser = argparse.ArgumentParser(prog="rt", description="regularization and transferability toolkit")
    parser.add_argument("--version", action="version", version=f"rt {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    registered = commands(get_plugin_manager()).values()
    ordered = sorted(registered, key=lambda c: c.plugin != __name__)  # the host's own first
    for cmd in ordered:
        p = sub.add_parser(cmd.name, help=cmd.summary)
        cmd.configure(p)
        p.set_defaults(func=cmd.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run ``rt`` with ``argv``; an RtError (bad input, a broken plugin) is one line and exit 2; Ctrl-C
    during a sweep is one line and exit 130."""
    try:
        args = build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except RtError as err:
        print(f"rt: error: {err}", file=sys.stderr)
        return 2
    except SweepInterrupted as stop:
        print(stop, file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print("interrupted before any trial started; nothing was lost", file=sys.stderr)
        return 130


def _run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", help="TOML experiment config, e.g. examples/quickstart.toml")
    p.add_argument("--out", required=True, type=OUT.arg("--out", str),
                   help="experiment directory (results.sqlite, results.csv)")
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    p.add_argument("--force", action="store_true", help="write into a store made for a different config")
    p.add_argument("--quiet", action="store_true", help="no progress bars or per-trial lines")
    _seeds_arg(p)
    p.add_argument("--pack", type=Check(low=1, integer=True, says="must be at least 1 (1 trains every trial alone)")
                   .arg("--pack", int), default=1, metavar="K",
                   help="train up to K packable trials together (vanilla, augmentations, weight decay; models "
                        "without batch norm): worth it on a GPU, e.g. --pack 16; default 1 (each alone)")
    p.add_argument("--executor", choices=("local", "ray"), default="local",
                   help="local: trials in parallel worker processes on this machine (default); ray: one Ray "
                        "task per trial")
    p.add_argument("--workers", type=AT_LEAST_ONE.arg("--workers", int), metavar="N",
                   help="local worker processes (default: on CPU one per core, on CUDA 1); 1 runs the trials "
                        "in this process")
    p.add_argument("--threads", type=AT_LEAST_ONE.arg("--threads", int), metavar="T",
                   help="torch threads per worker (default on CPU: cores // workers, so 1 with the default "
                        "workers); --workers 1 --threads 2 is the old one-trial-at-a-time run on 2 threads")
    p.add_argument("--address", help="Ray cluster address (default: start a local instance for the run)")
    p.add_argument("--cpus-per-trial", type=POSITIVE.arg("--cpus-per-trial"), default=1.0,
                   help="Ray CPUs per trial (default 1)")
    p.add_argument("--gpus-per-trial", type=NON_NEGATIVE.arg("--gpus-per-trial"), default=0.0,
                   help="Ray GPUs per trial, fractions allowed")
    p.add_argument("--max-retries", type=Check(low=0, integer=True).arg("--max-retries", int), default=2,
                   help="reruns of a trial whose worker process (local or Ray) died (default 2)")


def _seeds_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--seeds", help="seeds to run instead of the config's, e.g. 5,6,7,8,9 or 5-9")


def parse_seeds(text: str, flag: str = "--seeds") -> list[int]:
    """``"5,6,9"`` or ``"5-9"`` (inclusive) or a mix, as a sorted list of distinct integers; errors
    name ``flag``."""
    seeds: set[int] = set()
    for part in text.split(","):
        low, _, high = part.strip().partition("-")
        try:
            seeds.update(range(int(low), int(high or low) + 1))
        except ValueError as err:
            raise RtError(f"{flag} {text!r}: use integers like 5,6,7 or a range like 5-9") from err
    if not seeds:
        raise RtError(f"{flag} {text!r}: give at least one seed")
    return sorted(seeds)


def load_run_config(path: str, seeds: str | None) -> ExperimentConfig:
    """The validated config at ``path`` (a file or a shipped example name), its seeds replaced by ``seeds``."""
    cfg = load_config(examples.resolve(path))
    return cfg if seeds is None else dataclasses.replace(cfg, seeds=parse_seeds(seeds))


def make_executor(args: argparse.Namespace):
    """The executor the command line asks for; Ray options without --executor ray are an error."""
    from rt_core.experiment.executors import LocalExecutor

    if args.executor == "local":
        if args.address:
            raise RtError("--address is a Ray option; add --executor ray")
        return LocalExecutor(args.workers, args.threads, args.max_retries)
    from rt_core.experiment.ray_executor import RayExecutor

    if args.workers is not None or args.threads is not None:
        raise RtError("--workers and --threads are options of the local executor; with --executor ray use "
                      "--cpus-per-trial (a Ray task runs torch on that many threads)")
    gpus = args.gpus_per_trial or (1.0 if args.device.startswith("cuda") else 0.0)
    return RayExecutor(args.address, args.cpus_per_trial, gpus, args.max_retries)


def run_command(args: argparse.Namespace) -> int:
    """Run a sweep (resumable: finished trials are skipped on a rerun).

    Exit status: 0 when no trial failed (diverged trials are results), 1 when some failed or a vanilla
    model did not learn (one warning line: every trial of its seed is left out of the report), 2 on bad
    input.
    """
    from rt_core.api import vanilla_warning
    from rt_core.experiment.sweep import run_sweep

    cfg = load_run_config(args.config, args.seeds)
    counts = run_sweep(cfg, args.out, make_executor(args), device=args.device, force=args.force, quiet=args.quiet,
                       pack=args.pack)
    done = ", ".join(f"{v} {k}" for k, v in counts.items() if k != "total")
    print(f"{counts['total']} trials ({done}); results in {args.out}/results.sqlite and results.csv")
    stuck = vanilla_warning(args.out)
    if stuck:
        print(stuck, file=sys.stderr)
    if counts.get("failed"):
        print(f"{counts['failed']} trial(s) failed: their errors are in results.csv and `rt report {args.out}`; "
              "a rerun retries them", file=sys.stderr)
        return 1
    return 1 if stuck else 0


def _demo_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="runs/demo", type=OUT.arg("--out", str),
                   help="experiment directory (default runs/demo)")
    p.add_argument("--config", default=None, help="a TOML file or the name of a shipped example "
                   "(default: quickstart, shipped with rt)")
    p.add_argument("--device", default="auto")
    _seeds_arg(p)


def demo_command(args: argparse.Namespace) -> int:
    """The main job: run the quickstart sweep on the embedded digits, then write its report."""
    from rt_core.experiment.executors import LocalExecutor
    from rt_core.experiment.sweep import run_sweep
    from rt_core.reporting import REPORT_FILES, check_overwrite

    cfg = load_run_config(args.config, args.seeds)
    # the report is written after the sweep: a file of the user's in its place is refused before it
    check_overwrite(Path(args.out) / name for name in REPORT_FILES)
    start = time.perf_counter()
    counts = run_sweep(cfg, args.out, LocalExecutor(), device=args.device)
    path = write_report(args.out)
    print(f"{counts['total']} trials in {time.perf_counter() - start:.0f} s; report: {path} and "
          f"{path.with_suffix('.html')}")
    return 0


def _export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("directory", help="experiment directory holding results.sqlite (read only)")
    p.add_argument("--format", choices=("csv", "parquet"), default="csv", help="csv (default) or parquet")
    p.add_argument("--out", type=OUT.arg("--out", str),
                   help="file to write (default: DIR/results_table.csv or .parquet)")


def export_command(args: argparse.Namespace) -> int:
    """Export the trials as one table (metrics, usable, delta_acc_src, delta_acc_tgt, rel_dt): csv or parquet."""
    path = export(args.directory, args.out, args.format)
    print(f"wrote {path}")
    return 0


def _scores_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("directory", help="experiment directory holding results.sqlite and the kept models/")
    p.add_argument("--redo", action="store_true", help="recompute every finished trial's scores (default: fill "
                   "in only the trials lacking a score)")
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def scores_command(args: argparse.Namespace) -> int:
    """Fill in the transferability scores (score_<name>) of finished trials from their kept source models."""
    from rt_core.experiment.rescore import fill_scores  # imports torch: only this command needs it

    for line in fill_scores(args.directory, args.device, args.redo, args.quiet).lines():
        print(line)
    return 0


@hookimpl
def rt_register_commands(cli) -> None:
    cli.command("plugins", _plugins_args)(plugins_command)
    cli.command("run", _run_args)(run_command)
    cli.command("demo", _demo_args)(demo_command)
    cli.command("export", _export_args)(export_command)
    cli.command("scores", _scores_args)(scores_command)


if __name__ == "__main__":
    sys.exit(main())
