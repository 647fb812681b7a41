"""``rt bench [NAME ...]``: run benchmarks, write ``benchmarks/results/<name>.json`` each, print
their tables, and write ``run.json`` with the wall time of the whole run.

This module is a plugin loaded by every ``rt`` command: the benchmarks (and torch) are imported only
when ``rt bench`` runs."""

from __future__ import annotations

import argparse
import importlib
import time
from pathlib import Path

from rt_core import RtError, hookimpl

BENCHMARKS = ("head_fit", "augment", "pgd", "train_step", "packed", "gpu", "parallel", "step_profile", "sweep")
LONG = ("parallel_sweep", "scores", "import_rows")  # minutes each: run only when named
TINY = ("gpu", "packed")  # those with tiny sizes (--tiny): the CPU dry run of benchmarks/gpu_run.sh


def _bench_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", help=f"benchmarks to run (default: all of {', '.join(BENCHMARKS)}; "
                                            f"only when named: {', '.join(LONG)})")
    p.add_argument("--out", default="benchmarks/results", help="folder for the results files")
    p.add_argument("--device", default="auto", help="auto (default), cpu or cuda")
    p.add_argument("--tiny", action="store_true",
                   help=f"tiny sizes on any device, for {' and '.join(TINY)} only, into an --out other than "
                        "the default: a check that the code runs (benchmarks/gpu_run.sh --dry-run), no measurement")


def bench_command(args: argparse.Namespace) -> int:
    """Run the benchmarks (ratios measured side by side) and write their results files."""
    from benchmarks.harness import at_most, table, write_results
    from rt_core.engine import resolve_device

    unknown = [n for n in args.names if n not in BENCHMARKS + LONG]
    if unknown:
        raise RtError(f"unknown benchmark(s) {', '.join(unknown)}; known: {', '.join(BENCHMARKS + LONG)}")
    if args.tiny:
        if not args.names or set(args.names) - set(TINY):
            raise RtError(f"--tiny: name the benchmarks to check, among {', '.join(TINY)}")
        if Path(args.out).resolve() == Path("benchmarks/results").resolve():
            raise RtError("--tiny writes checks, not figures: give --out a folder other than benchmarks/results")
    device = resolve_device(args.device)
    start, ran = time.perf_counter(), []
    for name in args.names or BENCHMARKS:
        module = importlib.import_module(f"benchmarks.{name}")
        t0 = time.perf_counter()
        measures, details = module.run(device, tiny=True) if args.tiny else module.run(device)
        details["wall_s"] = round(time.perf_counter() - t0, 2)
        path = write_results(args.out, name, measures, [0], details)
        print(table(f"{name} ({details['wall_s']:.0f} s) -> {path}", measures), flush=True)
        ran.append(name)
    total = time.perf_counter() - start
    if not args.names:
        write_results(args.out, "run", [at_most("rt bench wall time", total, "s", 600)], [0], {"benchmarks": ran})
    print(f"rt bench: {len(ran)} benchmark(s) in {total:.0f} s on {device}")
    return 0


@hookimpl
def rt_register_commands(cli) -> None:
    cli.command("bench", _bench_args)(bench_command)
