"""Timing and results files shared by the benchmarks.

``median_time(fn, repeats)`` runs ``fn`` once to warm up, then ``repeats`` times, and returns the
median wall time in seconds (CUDA is synchronised around each run). ``write_results`` writes
``<out>/<name>.json`` atomically with the hardware, versions, seeds and measures.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from rt_core.engine import atomic_write, versions

DEFAULT_OUT = Path("benchmarks") / "results"


@dataclass
class Measure:
    """One measured number, its goal as text (e.g. ">= 20"), and whether the goal is met (None: no goal)."""

    name: str
    value: float | None
    unit: str
    goal: str = ""
    met: bool | None = None


def at_least(name: str, value: float, unit: str, goal: float) -> Measure:
    return Measure(name, value, unit, f">= {goal:g}", value >= goal)


def at_most(name: str, value: float, unit: str, goal: float) -> Measure:
    return Measure(name, value, unit, f"<= {goal:g}", value <= goal)


def info(name: str, value: float | None, unit: str) -> Measure:
    return Measure(name, value, unit)


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def median_time(fn: Callable[[], Any], repeats: int = 5, warmup: int = 1) -> float:
    """Median seconds of ``repeats`` calls of ``fn`` after ``warmup`` untimed calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        _sync()
        t0 = time.perf_counter()
        fn()
        _sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def interleaved_times(fns: dict[str, Callable[[], Any]], repeats: int = 5, warmup: int = 1) -> dict[str, float]:
    """Median seconds of each of ``fns``, run in turn (A B C A B C ...) so that a slow phase of the
    machine hits all of them alike; each warmed up ``warmup`` times first."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            _sync()
            t0 = time.perf_counter()
            fn()
            _sync()
            times[name].append(time.perf_counter() - t0)
    return {name: statistics.median(t) for name, t in times.items()}


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def library_versions() -> dict[str, Any]:
    """torchvision and numpy (as installed: importing torchvision can fail where torch's version does not
    match it), and torch's CUDA and cuDNN versions (None on a CPU build)."""
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    return {"torchvision": installed("torchvision"), "numpy": installed("numpy"), "cuda": torch.version.cuda,
            "cudnn": cudnn}


def hardware() -> dict[str, Any]:
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"cpu": _cpu_model(), "cpu_cores": os.cpu_count(), "torch_threads": torch.get_num_threads(),
            "gpu": gpu, "platform": platform.platform()}


def write_results(out: str | Path, name: str, measures: list[Measure], seeds: list[int],
                  details: dict[str, Any] | None = None) -> Path:
    """Write ``out/name.json`` (temporary file, then rename) and return its path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    blob = {"name": name, "date": time.strftime("%Y-%m-%d %H:%M:%S"), "hardware": hardware(),
            "versions": {**versions(torch.device("cuda" if torch.cuda.is_available() else "cpu")),
                         **library_versions()}, "seeds": seeds, "measures": [asdict(m) for m in measures],
            "details": details or {}}
    return atomic_write(out / f"{name}.json", json.dumps(blob, indent=2, sort_keys=False) + "\n")


def table(name: str, measures: list[Measure]) -> str:
    """A plain-text table of measures for the terminal."""
    lines = [f"{name}"]
    for m in measures:
        value = "unmeasured" if m.value is None else f"{m.value:.4g}"
        met = "" if m.met is None else ("met" if m.met else "NOT met")
        lines.append(f"  {m.name:<44} {value:>12} {m.unit:<10} {m.goal:<10} {met}")
    return "\n".join(lines)
