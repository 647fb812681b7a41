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


def versions(device: torch.device) -> dict[str, str]:
    """rt, torch and python versions, platform, device (and GPU name), host and torch thread count."""
    gpu = torch.cuda.get_device_name(device) if device.type == "cuda" else ""
    return {"rt": __version__, "torch": torch.__version__, "python": platform.python_version(),
            "platform": platform.platform(), "device": str(device), "gpu": gpu, "host": platform.node(),
            "threads": str(torch.get_num_threads())}
