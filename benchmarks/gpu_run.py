"""The Python half of ``benchmarks/gpu_run.sh`` (the one-call GPU run, and its CPU ``--dry-run``):
what that script cannot say in bash. Run from the repository root as ``python -m benchmarks.gpu_run
COMMAND``; it needs only the standard library until a command asks for torch or rt.

- ``env FILE --steps TSV``: hardware (CPU, ``nvidia-smi``, torch's view of the GPU), versions,
  and the distributions named in the three pyproject files that are not installed, as JSON, also
  printed; TSV: each step, then nothing or the module it cannot import (the script then skips that
  step and says so).
- ``seeds --left S --per-seed T --first F --max N``: the seeds ``F-L`` that fit in S seconds at T
  seconds a seed (the first seed's measured time, start-up included), at most N seeds in all;
  prints nothing when none fits.
- ``copy-store SRC DST --json FILE``: SRC/results.sqlite (and its -wal) as one self-contained file
  DST/results.sqlite, read back with ``rt_core.load_results``: trials by status, seeds, into FILE.
- ``summary``: ``OUT/gpu_run.json``: mode, device, deadline, each step's time box, wall time and
  exit status, the study's plan and store (study_plan.json, study_store.json in the work folder),
  with the environment.
- ``check-out OUT``: what ``$OUT`` holds against the device tool's limits (8 files, 16 MiB each,
  2 folders down, plain names); exit 1 when over.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from importlib import import_module, metadata
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECTS = (ROOT / "pyproject.toml", ROOT / "benchmarks" / "pyproject.toml",
              ROOT / "examples" / "plugin-template" / "pyproject.toml")
# What a missing distribution would stop: none of the script's steps needs cvxpy or torchattacks.
USED_BY = {"cvxpy": "theory's numeric bounds (rt theory; none of this script's steps)",
           "torchattacks": "rt bench pgd (not run by this script)",
           "ray": "the Ray executor (not used)", "pyarrow": "parquet export (not used)"}
# The modules each step imports (their own imports included): a step whose modules fail is skipped.
STEPS = {"cuda-tests": ("pytest", "rt_core.engine", "rt_core.cli", "tests.helpers.tiny"),
         "bench": ("rt_core.engine", "benchmarks.harness", "benchmarks.gpu", "benchmarks.packed", "benchmarks.cli"),
         "study": ("rt_core.engine", "rt_core.cli", "rt_core.api", "sklearn.datasets", "threadpoolctl", "tqdm",
                   "PIL", "scipy.optimize", "pandas")}
LIBRARIES = ("torchvision", "numpy", "scipy", "pandas", "scikit-learn", "pytest", "setuptools", "rt-toolkit",
             "rt-benchmarks", "rt-noise")
LIMITS = {"files": 8, "bytes": 16 * 2**20, "depth": 2}
NAME = re.compile(r"^[A-Za-z0-9._-]+$")


def _requirements() -> list[str]:
    """Distribution names required by the three pyproject files (markers that do not hold dropped)."""
    names = []
    for path in PYPROJECTS:
        if not path.exists():
            continue
        project = tomllib.loads(path.read_text())["project"]
        for req in project.get("dependencies", []):
            spec, _, marker = req.partition(";")
            if "python_version < '3.11'" in marker.replace('"', "'") and sys.version_info >= (3, 11):
                continue
            names.append(re.split(r"[<>=!~\[ ]", spec.strip(), maxsplit=1)[0])
    own = {"rt-toolkit", "rt-benchmarks", "rt-noise"}
    return sorted(set(names) - own)


def missing_distributions() -> dict[str, str]:
    """{name: what needs it} for each required distribution that is not installed."""
    missing = {}
    for name in _requirements():
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            missing[name] = USED_BY.get(name, "rt itself (a step importing it is skipped)")
    return missing


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _nvidia_smi() -> dict:
    if not shutil.which("nvidia-smi"):
        return {"error": "nvidia-smi not found"}
    fields = "name,driver_version,memory.total,clocks.max.sm,clocks.max.memory,power.limit,pci.bus_id"
    for argv in ([f"--query-gpu={fields}", "--format=csv,noheader"], ["-L"]):
        try:
            out = subprocess.run(["nvidia-smi", *argv], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired) as err:
            return {"error": str(err)}
        if out.returncode == 0:
            return {"query": " ".join(argv), "gpus": [line.strip() for line in out.stdout.splitlines() if line.strip()]}
    return {"error": (out.stderr or out.stdout).strip()[-500:]}


def environment() -> dict:
    import torch

    cuda = torch.cuda.is_available()
    gpu = None
    if cuda:
        props = torch.cuda.get_device_properties(0)
        gpu = {"name": torch.cuda.get_device_name(0), "capability": f"{props.major}.{props.minor}",
               "memory_gib": round(props.total_memory / 2**30, 1), "multiprocessors": props.multi_processor_count,
               "count": torch.cuda.device_count()}
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    hardware = {"cpu": cpu, "cpu_cores": os.cpu_count(), "platform": platform.platform(), "cuda_visible": cuda,
                "torch_gpu": gpu, "nvidia_smi": _nvidia_smi() if cuda or shutil.which("nvidia-smi") else None}
    versions = {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
                "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
                **{name: _version(name) for name in LIBRARIES}}
    return {"hardware": hardware, "versions": versions, "missing": missing_distributions()}


def needs(step: str) -> str | None:
    """The first module of ``step`` that cannot be imported, with the reason; None when all can."""
    for module in STEPS[step]:
        try:
            import_module(module)
        except Exception as err:  # an ImportError, or a broken install failing otherwise
            return f"{module}: {type(err).__name__}: {err}"
    return None


def seeds(left: float, per_seed: float, first: int, most: int) -> str:
    """``first-last`` (or ``first``) for the seeds that fit in ``left`` seconds; "" when none does."""
    if per_seed <= 0 or left <= 0:
        return ""
    n = min(math.floor(left / per_seed), most - first)
    if n < 1:
        return ""
    return str(first) if n == 1 else f"{first}-{first + n - 1}"


def copy_store(src: Path, dst: Path) -> dict:
    """SRC/results.sqlite, its WAL folded in, as DST/results.sqlite; what ``load_results`` reads of it."""
    from rt_core import load_results

    dst.mkdir(parents=True, exist_ok=True)
    target = dst / "results.sqlite"
    with tempfile.TemporaryDirectory() as tmp:
        staged = Path(tmp) / "results.sqlite"
        source = sqlite3.connect(f"file:{src / 'results.sqlite'}?mode=ro", uri=True)
        copy = sqlite3.connect(staged)
        try:
            source.backup(copy)
            copy.execute("PRAGMA journal_mode=DELETE")
        finally:
            copy.close()
            source.close()
        shutil.move(staged, target)
    frame = load_results(dst)
    if frame.empty:  # a sweep stopped before its first trial finished
        return {"trials": 0, "statuses": {}, "seeds": [], "plugins": [], "bytes": target.stat().st_size}
    statuses = {str(k): int(v) for k, v in frame["status"].value_counts().items()}
    return {"trials": len(frame), "statuses": statuses, "seeds": sorted(int(s) for s in frame["seed"].unique()),
            "plugins": sorted(frame["plugin"].unique().tolist()), "bytes": target.stat().st_size}


def check_out(out: Path) -> list[str]:
    """What in ``out`` breaks the device tool's limits on what comes back."""
    files = sorted(p for p in out.rglob("*") if p.is_file() or p.is_symlink())
    problems = []
    if len(files) > LIMITS["files"]:
        problems.append(f"{len(files)} files, more than {LIMITS['files']}: {[str(p.relative_to(out)) for p in files]}")
    for p in files:
        rel = p.relative_to(out)
        if p.is_symlink():
            problems.append(f"{rel}: a link")
        elif p.stat().st_size > LIMITS["bytes"]:
            problems.append(f"{rel}: {p.stat().st_size} bytes, over 16 MiB")
        if len(rel.parts) - 1 > LIMITS["depth"]:
            problems.append(f"{rel}: more than {LIMITS['depth']} folders down")
        if not all(NAME.match(part) for part in rel.parts):
            problems.append(f"{rel}: a name with characters other than letters, digits, '.', '_', '-'")
    return problems


def _steps(path: Path) -> list[dict]:
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            name, box, wall, rc, status = line.split("\t", 4)
            rows.append({"step": name, "time_box_s": int(box), "wall_s": int(wall),
                         "exit": None if rc == "" else int(rc), "status": status})
    return rows


def _json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.gpu_run", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("env")
    p.add_argument("file")
    p.add_argument("--steps", required=True)
    p = sub.add_parser("seeds")
    p.add_argument("--left", type=float, required=True)
    p.add_argument("--per-seed", type=float, required=True)
    p.add_argument("--first", type=int, default=1)
    p.add_argument("--max", type=int, required=True)
    p = sub.add_parser("copy-store")
    p.add_argument("src")
    p.add_argument("dst")
    p.add_argument("--json", required=True)
    p = sub.add_parser("summary")
    for name in ("work", "out", "mode", "device"):
        p.add_argument(f"--{name}", required=True)
    p.add_argument("--deadline", type=int, required=True)
    p.add_argument("--wall", type=int, required=True)
    sub.add_parser("check-out").add_argument("out")
    args = parser.parse_args(argv)

    if args.command == "env":
        env = environment()
        Path(args.file).write_text(json.dumps(env, indent=2) + "\n")
        hw = env["hardware"]
        print(f"GPU: {hw['torch_gpu'] or 'none visible to torch'}; nvidia-smi: {hw['nvidia_smi']}")
        print("versions:", ", ".join(f"{k} {v}" for k, v in env["versions"].items()))
        for name, why in env["missing"].items():
            print(f"missing package {name}: needed by {why}")
        if not env["missing"]:
            print("every package the pyproject files name is installed")
        lines = []
        for step in STEPS:
            problem = needs(step)
            print(f"step {step}: {'ready' if problem is None else 'cannot import ' + problem}")
            lines.append(f"{step}\t{'' if problem is None else 'cannot import ' + problem}")
        Path(args.steps).write_text("\n".join(lines) + "\n")
        return 0
    if args.command == "seeds":
        print(seeds(args.left, args.per_seed, args.first, args.max))
        return 0
    if args.command == "copy-store":
        study = copy_store(Path(args.src), Path(args.dst))
        Path(args.json).write_text(json.dumps(study) + "\n")
        print(f"{args.dst}/results.sqlite: {study['trials']} trials {study['statuses']}, seeds {study['seeds']}")
        return 0
    if args.command == "summary":
        work = Path(args.work)
        env = _json(work / "env.json") or {"error": "the environment was not read (see gpu_run.log)"}
        if args.mode == "dry-run":
            note = "a CPU dry run at tiny sizes: no number here or in its files is a GPU figure"
        elif env.get("hardware", {}).get("cuda_visible"):
            note = "measured on the GPU named under hardware (steps that did not finish measured nothing)"
        else:
            note = "no CUDA GPU was visible: nothing was measured"
        blob = {"name": "gpu_run", "mode": args.mode, "device": args.device, "deadline_s": args.deadline,
                "wall_s": args.wall, "note": note,
                **env, "steps": _steps(work / "steps.tsv"),
                "study": {**(_json(work / "study_plan.json") or {}), **(_json(work / "study_store.json") or {})}
                or None}
        Path(args.out).write_text(json.dumps(blob, indent=2) + "\n")
        return 0
    problems = check_out(Path(args.out))
    for problem in problems:
        print(f"OUT over the device tool's limits: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
