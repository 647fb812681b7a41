"""Where a trial runs: the device it asks for, and the versions and machine it records."""

from __future__ import annotations

import platform

import torch

from rt_core import __version__
from rt_core.errors import RtError


def resolve_device(name: str) -> torch.device:
    """'auto' -> cuda when available, else cpu; 'cuda' without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise RtError("--device cuda was asked for but no CUDA GPU is visible; use --device cpu or auto")
    if name not in ("cpu",) and not name.startswith("cuda"):
        raise RtError(f"unknown device '{name}'; use auto, cpu or cuda")
    return torch.device(name)


def cpu_name() -> str:
    """The CPU as the float arithmetic sees it: its model name, family and model (Linux's /proc/cpuinfo;
    else ``platform.processor()``) and the instruction set torch's CPU kernels use (e.g. AVX2, AVX512).
    Two CPUs that differ here can round the same training differently."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                fields.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    name = fields.get("model name") or platform.processor() or "unknown"
    if "cpu family" in fields:
        name += f" family {fields['cpu family']} model {fields.get('model', '?')}"
    return f"{name}, torch kernels {torch.backends.cpu.get_cpu_capability()}"


def versions(device: torch.device) -> dict[str, str]:
    """rt, torch and python versions, platform, CPU (``cpu_name``), device (and GPU name), host and
    torch thread count."""
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else ""
    return {"rt": __version__, "torch": torch.__version__, "python": platform.python_version(),
            "platform": platform.platform(), "cpu": cpu_name(), "device": str(device), "gpu": gpu,
            "host": platform.node(), "threads": str(torch.get_num_threads())}
