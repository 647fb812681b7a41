"""``rt report --import`` against the number of rows: is it linear?

A published-results CSV of N rows (4 regularizers x the identity and 4 strengths, plus a vanilla
row, per seed: 21 rows a seed, accuracies drawn at random) is read at N = 10^4, 10^5 and 10^6, each
size in a fresh process that reports its own wall time and peak resident memory (getrusage):

- the import (``theory.report.job.read_published``: read, check every value, rel_dt of each row
  against its reference), whose reference lookup used to scan every row for every row;
- the whole report (``report_published``: the statistics with their seed-bootstrap resamples, the
  calibration, the figures, the files) at 5,000 and 50,000 rows (50,000 did not finish in 240 s when
  the lookup was quadratic; ``--full`` adds 10^6, whose resampling over ~48,000 seeds takes long).

Measures: the import's time per row at the largest size over that at the smallest (goal <= 2: linear;
quadratic would be ~100 per decade), its rows per second at 10^6 (goal >= 16,667: a million rows in a
minute) and its peak memory there (goal <= 400 MB, the interpreter with the report's libraries
imported included; the rows are held in columns, theory.report.rows); the whole report's per-row
time ratio from 5,000 to 50,000 rows (goal <= 2) and its rows per second. ``python -m benchmarks.import_rows`` or
``rt bench import_rows`` (named: it runs for minutes).
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.harness import Measure, at_least, at_most, info

PLUGINS = {"weight_decay": (0.0, 1e-4, 1e-3, 5e-3, 1e-2), "jacobian": (0.0, 0.01, 0.03, 0.1, 0.3),
           "last_layer": (0.0, 0.25, 0.5, 0.75, 1.0), "adversarial": (0.0, 0.05, 0.1, 0.2, 0.3)}
PER_SEED = 1 + sum(map(len, PLUGINS.values()))
IMPORT_SIZES = (10_000, 100_000, 1_000_000)
REPORT_SIZES = (5_000, 50_000)

CHILD = """
import json, resource, sys, time
from theory.report.job import read_published, report_published
path, out, whole = sys.argv[1], sys.argv[2], sys.argv[3] == "report"
t0 = time.perf_counter()
rows = report_published(path, out) if whole else read_published(path)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_table(path: Path, rows: int, seed: int = 0) -> int:
    """A CSV of about ``rows`` rows (whole seeds); returns how many it holds."""
    rng = random.Random(seed)
    seeds = max(2, rows // PER_SEED)
    with open(path, "w") as fh:
        fh.write("plugin,strength,seed,acc_src,acc_tgt,rob_src\n")
        for s in range(seeds):
            fh.write(f"vanilla,0,{s},{90 + rng.random():.2f},{60 + rng.random():.2f},{30 + rng.random():.2f}\n")
            for plugin, strengths in PLUGINS.items():
                for i, strength in enumerate(strengths):
                    fh.write(f"{plugin},{strength},{s},{90 - i + rng.random():.2f},{60 + i + 3 * rng.random():.2f},"
                             f"{30 + i + rng.random():.2f}\n")
    return seeds * PER_SEED


def measure(path: Path, out: Path, what: str) -> dict:
    """Wall seconds and peak MB of ``what`` ("import" or "report") of ``path``, in a fresh process."""
    done = subprocess.run([sys.executable, "-c", CHILD, str(path), str(out), what], capture_output=True, text=True,
                          check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def _series(folder: Path, sizes: tuple[int, ...], what: str) -> dict[int, dict]:
    found = {}
    for size in sizes:
        path = folder / f"rows{size}.csv"
        n = write_table(path, size) if not path.exists() else sum(1 for _ in open(path)) - 1
        found[n] = measure(path, folder / f"report{size}", what)
        print(f"{what} {n} rows: {found[n]['seconds']:.1f} s, {found[n]['peak_mb']:.0f} MB", flush=True)
    return found


def _per_row_ratio(found: dict[int, dict]) -> float:
    small, large = min(found), max(found)
    return (found[large]["seconds"] / large) / (found[small]["seconds"] / small)


def run(device=None, full: bool = False) -> tuple[list[Measure], dict]:
    with tempfile.TemporaryDirectory(prefix="rt-import-") as tmp:
        folder = Path(tmp)
        imports = _series(folder, IMPORT_SIZES, "import")
        reports = _series(folder, REPORT_SIZES + ((1_000_000,) if full else ()), "report")
    big, most = max(imports), max(reports)
    measures = [
        at_most("import: time per row at 10^6 rows / at 10^4", _per_row_ratio(imports), "x", 2.0),
        at_least("import: rows per second at 10^6 rows", big / imports[big]["seconds"], "rows/s", 1e6 / 60),
        at_most("import: peak memory at 10^6 rows", imports[big]["peak_mb"], "MB", 400.0),
        at_most(f"whole report: time per row at {most} rows / at {min(reports)}", _per_row_ratio(reports), "x", 2.0),
        info(f"whole report: rows per second at {most} rows", most / reports[most]["seconds"], "rows/s"),
        info(f"whole report: peak memory at {most} rows", reports[most]["peak_mb"], "MB"),
    ]
    details = {"rows_per_seed": PER_SEED, "plugins": {k: list(v) for k, v in PLUGINS.items()},
               "import": {str(k): v for k, v in imports.items()}, "report": {str(k): v for k, v in reports.items()}}
    return measures, details


if __name__ == "__main__":
    from benchmarks.harness import table, write_results

    found, info_ = run(full="--full" in sys.argv)
    print(table("import_rows", found))
    print(f"-> {write_results('benchmarks/results', 'import_rows', found, [0], info_)}")
