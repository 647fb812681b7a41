"""Example configs shipped inside the package (``examples/`` of a checkout links here), so an installed
``rt`` finds them anywhere: ``quickstart``, ``gpu_study``, ``paper_cifar10_svhn`` and
``published/salman2020_cifar10.csv``."""

from __future__ import annotations

from pathlib import Path

from rt_core.errors import RtError

HERE = Path(__file__).resolve().parent


def names() -> list[str]:
    """The shipped example configs, by name (file stem)."""
    return sorted(p.stem for p in HERE.glob("*.toml"))


def path(name: str) -> Path:
    """The shipped config called ``name`` (``quickstart`` or ``quickstart.toml``)."""
    found = HERE / (name if name.endswith(".toml") else f"{name}.toml")
    if not found.is_file():
        raise RtError(f"no example config '{name}'; shipped examples: {', '.join(names())}")
    return found


def resolve(config: str | None) -> Path:
    """A config argument: a file that exists, else the name of a shipped example; None -> quickstart."""
    if config is None:
        return path("quickstart")
    given = Path(config)
    if given.is_file() or given.suffix or "/" in config:
        return given
    return path(config)
