"""The theory plugin's commands: ``rt theory ...`` (classify augmentations, list bounds with their
monotonicity, run the T5 constructions) and ``rt report``; and the report writer behind ``rt demo``.

This module is a plugin loaded by every ``rt`` command, so the theory itself (sympy, cvxpy, torch) is
imported inside the command that needs it: ``rt --help`` and ``rt plugins`` stay fast."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rt_core import Check, RtError, get_regularizer, hookimpl

POSITIVE = Check(low=0, low_open=True)
OUT = Check(text=True, nonempty=True, says="is empty; give a folder, e.g. --out runs/report")


def _option(text: str) -> tuple[str, object]:
    """``key=value`` -> (key, value), the value read as JSON where it parses (1, 0.5, true), else text."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"--option takes key=value, got '{text}'")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def _args(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="theory_command", required=True)
    c = sub.add_parser("classify", help="is an augmentation a regularizer? (T4)")
    c.add_argument("name")
    c.add_argument("--strength", type=Check().arg("--strength"), default=None,
                   help="default: the augmentation's typical value")
    c.add_argument("--samples", type=Check(low=1, integer=True).arg("--samples", int), default=5,
                   help="sampled instances for random augmentations")
    c.add_argument("--grid", type=Check(low=4, integer=True).arg("--grid", int), default=32,
                   help="image grid n (n x n, one channel; at least 4)")
    c.add_argument("--option", type=_option, action="append", default=[], metavar="KEY=VALUE",
                   help="augmentation option passed to its factory (repeatable), e.g. --option per_sample=true")
    c.add_argument("--input-norm", choices=("none", "dataset", "per_image"), default="none",
                   help="the model's fixed input transform: T4 analyses n . a as the model sees it "
                        "(model.options.input_norm; default none: a itself)")
    c.add_argument("--json", action="store_true")
    b = sub.add_parser("bounds", help="registered bounds and their monotonicity (T1-T3)")
    b.add_argument("--check", action="store_true",
                   help="train small models on a synthetic covariate shift: does each bound hold? (tightness table)")
    b.add_argument("--json", action="store_true")
    k = sub.add_parser("constructions", help="robustness is neither necessary nor sufficient (T5)")
    k.add_argument("--json", action="store_true")


def _classify(args) -> int:
    from theory.classify import NUMBER_KEYS, classify_augmentation

    result = classify_augmentation(args.name, args.strength, n=args.grid, samples=args.samples,
                                   options=dict(args.option), input_norm=args.input_norm)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
        return 0
    opts = "".join(f" {k}={v}" for k, v in result.options.items())
    seen = "" if result.input_norm == "none" else f" (as a model with input_norm {result.input_norm} sees it)"
    print(f"{result.name} at strength {result.strength:g}{opts}{seen}: {result.verdict}")
    print(f"  {result.reason}")
    for key in (k for k in NUMBER_KEYS if k in result.numbers):
        print(f"  {key:<27} {result.numbers[key]:.4g}")
    return 0


def _check(args) -> int:
    from theory.holds import holds_table

    rows = [r.to_dict() for r in holds_table()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    print("| regularizer | strength | constrained quantity | tau | T2 bound rho B K W1 | tightness bound/tau | "
          "registered bound | K | acc_src % |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['regularizer']} | {r['strength']:g} | {r['constrained']:.4g} | {r['tau']:.4f} | "
              f"{r['bound']:.4g} | {r['tightness']:.3g} | {r['registered_bound']:.4g} | {r['K']:.3g} | "
              f"{r['acc_src']:.1f} |")
    return 0


def _bounds(args) -> int:
    from theory.bounds import check_bound, list_bounds

    if args.check:
        return _check(args)
    rows = []
    for name, spec in list_bounds().items():
        expr, symbol, _ = spec.expression()
        res = check_bound(name)
        rows.append({"regularizer": name, "plugin": get_regularizer(name).plugin, "bound": str(expr),
                     "strength": str(symbol), "constrains": spec.constrains, "direction": spec.direction,
                     "monotone": res.verdict, "decided_by": res.method, "derivative": str(res.derivative),
                     "constants": res.constants})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        mark = r["monotone"]
        print(f"{r['regularizer']:<13} tau <= {r['bound']}\n{'':<13} {r['direction']} in {r['strength']}: "
              f"{mark} ({r['decided_by']}); constrains {r['constrains']}")
    return 0


def _constructions(args) -> int:
    from theory.constructions import not_necessary, not_sufficient

    results = [not_necessary(), not_sufficient()]
    if args.json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
        return 0
    for r in results:
        print(f"{r.name}: {r.claim}\n  acc_src {r.acc_src:.1f}%  rob_src {r.rob_src:.2f}% (L2 eps {r.eps:.4f})  "
              f"acc_tgt {r.acc_tgt:.1f}%  tau {r.tau:.4f} (loss_tgt {r.loss_tgt:.4f} - loss_src {r.loss_src:.4f})")
    return 0


def theory_command(args: argparse.Namespace) -> int:
    """Theory: classify augmentations (T4), bounds (T1-T3), constructions (T5)."""
    return {"classify": _classify, "bounds": _bounds, "constructions": _constructions}[args.theory_command](args)


def _report_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("directory", nargs="?", help="experiment directory holding results.sqlite")
    p.add_argument("--import", dest="csv", help="published results CSV: plugin,strength,seed,acc_src,acc_tgt[,rob_src]")
    p.add_argument("--out", type=OUT.arg("--out", str),
                   help="where to write the report (default: the experiment directory)")
    p.add_argument("--margin", type=POSITIVE.arg("--margin"), default=None,
                   help="equivalence margin in points of rel_dt (default: the config's [report] equivalence_margin)")
    p.add_argument("--classes", type=Check(low=2, integer=True).arg("--classes", int), default=None,
                   help="with --import: class count of the source task, to exclude trials within 10 points of chance")
    _only_seeds_arg(p)


def _only_seeds_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--only-seeds", metavar="SEEDS",
                   help="read only these seeds of the store, e.g. 0-4 (a pilot's seeds in a store that has grown)")


def _only(args: argparse.Namespace) -> list[int] | None:
    """The seeds of ``--only-seeds`` (None: all of the store's)."""
    from rt_core.cli import parse_seeds  # inside: rt_core.cli loads this plugin

    return None if args.only_seeds is None else parse_seeds(args.only_seeds, "--only-seeds")


def _only_line(only: list[int] | None) -> str:
    """The line that heads a plan or headroom table read with ``--only-seeds``."""
    from theory.report.sections import seed_ranges

    return "" if only is None else f"(seeds {seed_ranges(only)} of the store only: --only-seeds)\n"


def report_command(args: argparse.Namespace) -> int:
    """Write the theory-vs-experiment report (report.md, report.html, figures/, verdicts.json)."""
    from theory.report.job import report_published, report_store

    if not (args.csv or args.directory):
        raise RtError("give an experiment directory (rt report DIR) or --import FILE.csv --out DIR")
    if args.csv and not args.out:
        raise RtError("--import needs --out DIR, the folder to write the report to")
    if args.csv and args.only_seeds:
        raise RtError("--only-seeds reads a store's seeds; filter the CSV itself for --import")
    out = args.out or args.directory
    try:
        path = report_published(args.csv, args.out, args.margin, args.classes) if args.csv else \
            report_store(args.directory, args.out, args.margin, _only(args))
    except OSError as err:
        raise RtError(f"cannot write the report into {out} ({err.strerror or err}); pass --out DIR, a folder "
                      "you can write to") from err
    print(f"report: {path} and {path.with_suffix('.html')}")
    return 0


@hookimpl
def rt_register_commands(cli: Any) -> None:
    cli.command("theory", _args)(theory_command)
    cli.command("report", _report_args)(report_command)
    cli.command("plan", _plan_args)(plan_command)
    cli.command("headroom", _headroom_args)(headroom_command)


def _headroom_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("directory", help="experiment directory holding results.sqlite")
    p.add_argument("--json", action="store_true", help="the table and the criteria as JSON")
    _only_seeds_arg(p)


def headroom_command(args: argparse.Namespace) -> int:
    """Room to move: vanilla and each plugin's strongest strength (acc_src, probe_acc_src, acc_tgt,
    rob_src, plateau), and whether the benchmark meets the criteria of theory.report.headroom."""
    import dataclasses

    from theory.report import headroom
    from theory.report.job import store_headroom
    from theory.report.sections import left_out_line

    only = _only(args)
    table, found, left = store_headroom(args.directory, only)
    if args.json:
        print(json.dumps({"settings": [dataclasses.asdict(s) for s in table],
                          "criteria": [dataclasses.asdict(c) for c in found], "seeds_left_out": left,
                          "only_seeds": only}, indent=2))
    else:
        print(_only_line(only) + headroom.markdown(table, found), end="")
        if left:
            print("\n" + left_out_line(left))
    return 0


def _plan_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("directory", help="experiment directory holding results.sqlite")
    p.add_argument("--effect", type=POSITIVE.arg("--effect"), default=None,
                   help="rel_dt effect over the swept range to detect, in points (default: the config's "
                        "[report] plan_effect, else its equivalence margin, 2 points)")
    p.add_argument("--power", type=Check(low=0, high=1, low_open=True, high_open=True).arg("--power"), default=0.8)
    p.add_argument("--runs", type=int, default=3,
                   help="replication: how many independent studies must reach the same verdict (default 3)")
    p.add_argument("--seeds", type=int, default=None,
                   help="replication: seeds in each of those studies (default: as many as the store has)")
    p.add_argument("--draws", type=int, default=200, help="replication: draws of the --runs studies (default 200)")
    p.add_argument("--calibration-draws", type=int, default=200, metavar="N",
                   help="calibration: null studies (strengths permuted within seeds) passed through the "
                        "report's rule, each also with planted effects of 1, 2, 5, 10 points; 0 skips (default 200)")
    p.add_argument("--demo", metavar="CONFIG",
                   help="a demo config of the store's protocol, on its grid (e.g. examples/quickstart.toml): how "
                        "often demo-sized subsets of the store's seeds contradict the store's verdicts")
    p.add_argument("--demo-draws", type=int, default=500, metavar="N", help="subsets drawn for --demo (default 500)")
    p.add_argument("--figure", metavar="PATH.png",
                   help="also draw the calibration (planted effects found, null false decisions) and, with "
                        "--demo, the demo-against-study outcomes into this PNG")
    p.add_argument("--json", action="store_true",
                   help="rows as JSON, each with its replication share (the joint counts are in the text)")
    _only_seeds_arg(p)


def plan_command(args: argparse.Namespace) -> int:
    """Seeds a study needs per plugin, from a results store's measured seed-to-seed spread, and how
    often independent studies would reach the same verdicts."""
    import dataclasses

    from theory.report.calibration import calibration_json, calibration_text, contradiction_text
    from theory.report.job import store_calibration, store_contradictions, store_plan, store_replication, store_tables

    if not 0.0 < args.power < 1.0:
        raise RtError(f"--power must lie in (0, 1), got {args.power}")
    if args.effect is not None and args.effect <= 0:
        raise RtError(f"--effect must be > 0 points, got {args.effect}")
    for flag, value, low in (("--runs", args.runs, 2), ("--seeds", args.seeds, 1), ("--draws", args.draws, 1),
                             ("--calibration-draws", args.calibration_draws, 0), ("--demo-draws", args.demo_draws, 1)):
        if value is not None and value < low:
            raise RtError(f"{flag} must be at least {low}, got {value}")
    _check_figure(args)
    only = _only(args)
    tables = store_tables(args.directory, only)
    rows, alpha = store_plan(tables, args.effect, args.power)
    if not rows:
        raise RtError(f"{args.directory} holds no plugin trials (only vanilla ones): nothing to plan; "
                      "run a config with a [[sweep]]")
    rep = store_replication(tables, args.seeds, args.runs, args.draws)
    cal = store_calibration(tables, args.calibration_draws) if args.calibration_draws else None
    demo = store_contradictions(tables, args.demo, None, args.demo_draws) if args.demo else None
    if args.figure:
        from theory.report.plan_figures import plan_figure

        plan_figure(args.figure, cal, demo, args.demo or "")
    if args.json:
        print(json.dumps({"plan": [{**dataclasses.asdict(r), "replication": _replication_json(rep, r.plugin)}
                                   for r in rows],
                          "calibration": None if cal is None else calibration_json(cal),
                          "demo": None if demo is None else [dataclasses.asdict(c) for c in demo],
                          "only_seeds": only}, indent=2))
        return 0
    print(_only_line(only), end="")
    _print_plan(rows, alpha, rep)
    if cal is not None:
        print("\n" + calibration_text(cal))
    if demo is not None:
        print("\n" + contradiction_text(demo, args.demo))
    return 0


def _check_figure(args: argparse.Namespace) -> None:
    """--figure names a .png in an existing folder and has something to draw."""
    if not args.figure:
        return
    path = Path(args.figure)
    if path.suffix.lower() != ".png":
        raise RtError(f"--figure {args.figure}: give a file name ending in .png")
    if not path.parent.is_dir():
        raise RtError(f"--figure {args.figure}: folder {path.parent} does not exist; create it first")
    if path.is_dir():
        raise RtError(f"--figure {args.figure} is a folder; give a file name ending in .png")
    if not args.calibration_draws and not args.demo:
        raise RtError("--figure draws the calibration or the demo against the study: drop "
                      "--calibration-draws 0 or add --demo CONFIG")


def _replication_json(rep, plugin: str) -> dict | None:
    if rep is None:
        return None
    return {"runs": rep.runs, "seeds": rep.seeds, "draws": rep.draws, "same_verdict": rep.same[plugin]}


def _print_plan(rows: list, alpha: float, rep) -> None:
    from theory.report.sections import decide_cell

    same = f"same {rep.runs}x{rep.seeds}" if rep else ""
    print(f"seeds for {rows[0].power:.0%} power to detect a rel_dt effect of {rows[0].effect:g} points over the "
          f"swept range (t-test on per-seed effects, alpha {alpha:g}; Holm: alpha / {len(rows)});\n"
          f"decide: seeds at which {rows[0].power:.0%} of draws from the measured seeds reach the same decided "
          f"verdict under the report's own rule (Page's L, Holm, TOST), for the measured effects")
    if rep:
        print(f"{same}: share of {rep.draws} draws of {rep.runs} independent studies of {rep.seeds} seeds each "
              f"(drawn with replacement from the {rep.seeds_measured} measured seeds) that all reach the same "
              "verdict")
    print(f"{'plugin':<14}{'seeds now':>10}{'SD effect':>11}{'detect':>8}{'w/ Holm':>9}{'show none':>11}  "
          f"{'decide':<16}{same}")
    for r in rows:
        sd = "-" if r.effect_sd is None else f"{r.effect_sd:.2f}"
        cells = ["-" if n is None else str(n) for n in (r.seeds_to_detect, r.seeds_to_detect_holm,
                                                           r.seeds_for_equivalence)]
        tail = f"{rep.same[r.plugin]:.2f}" if rep else ""
        print(f"{r.plugin:<14}{r.seeds_measured:>10}{sd:>11}{cells[0]:>8}{cells[1]:>9}{cells[2]:>11}  "
              f"{decide_cell(r):<16}{tail}".rstrip())
    if rep:
        n = len(rows)
        but_one = f", on at least {n - 1} in {rep.at_least(n - 1):.0%}" if n > 1 else ""
        print(f"{rep.runs} studies of {rep.seeds} seeds reach the same verdicts on all {n} plugins in "
              f"{rep.at_least(n):.0%} of draws{but_one}; on {rep.mean_coinciding:.2f} plugins on average")
    else:
        print("replication: not given (it needs at least 3 measured seeds to draw from)")


@hookimpl
def rt_write_report(directory: str | Path, out: str | Path | None) -> Path:
    from theory.report.job import report_store

    return report_store(directory, out)
