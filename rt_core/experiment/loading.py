"""Loading a config: the TOML file read, parsed (``rt_core.experiment.config``), and every name in it
checked against the registries before anything runs.

Plugin, dataset and model names are looked up, so an unknown one is an RtError listing the known ones;
every strength is range-checked against its plugin's record, every ``options`` table against the
signature it is passed to (``rt_core.experiment.checks``), and brought checkpoints against the trials.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rt_core.errors import RtError
from rt_core.experiment.checkpoints import checkpoint_for
from rt_core.experiment.checks import check_domain, check_model_options, check_plugin
from rt_core.experiment.config import ExperimentConfig, SweepConfig, parse
from rt_core.experiment.trials import expand
from rt_core.host.lookup import get_augmentation, get_dataset, get_model, get_regularizer
from rt_core.host.manager import broken_plugins, registries
from rt_core.host.registry import AugmentationSpec, RegularizerSpec

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REQUIRED = ("source", "target", "model")
EXAMPLES = {"source": '[source] dataset = "printed_digits"', "target": '[target] dataset = "handwritten_digits"',
            "model": '[model] name = "cifar_cnn"'}


def from_dict(data: dict) -> ExperimentConfig:
    """Validate a parsed TOML document into an ExperimentConfig (plugin names included)."""
    cfg = parse(data)
    validate_names(cfg)
    return cfg


def _sweep_spec(sweep: SweepConfig, i: int) -> AugmentationSpec | RegularizerSpec:
    """The record of the plugin ``sweep[i]`` names; an unknown or broken one is one line listing the known."""
    regs = registries()
    if sweep.plugin in regs.augmentations:
        return get_augmentation(sweep.plugin)
    if sweep.plugin in regs.regularizers:
        return get_regularizer(sweep.plugin)
    if sweep.plugin in broken_plugins():
        raise RtError(f"sweep[{i}].plugin: {broken_plugins()[sweep.plugin]}")
    known = sorted(regs.augmentations.names() + regs.regularizers.names())
    raise RtError(f"sweep[{i}].plugin: unknown plugin '{sweep.plugin}'; known: {', '.join(known)}")


def validate_names(cfg: ExperimentConfig) -> None:
    """Look every plugin, dataset and model name up (errors list the known names) and range-check
    every strength against the plugin's declared range."""
    for section in ("source", "target"):
        data = getattr(cfg, section)
        if get_dataset(data.dataset).needs_root and not data.root:
            raise RtError(f"{section}.root: dataset '{data.dataset}' is read from a folder you give; set "
                          f"root = \"/path/to/{data.dataset}\" in [{section}] (nothing is downloaded)")
    get_model(cfg.model.name)
    check_domain(cfg.source, "source")
    check_domain(cfg.target, "target")
    check_model_options(cfg.model)
    for i, sweep in enumerate(cfg.sweep):
        spec = _sweep_spec(sweep, i)
        for s in sweep.strengths:
            spec.strength.validate(s, f"sweep[{i}] {sweep.plugin}")
        check_plugin(spec, sweep.strengths, sweep.options, f"sweep[{i}]")
    if cfg.source_models.checkpoints:
        for trial in expand(cfg):
            checkpoint_for(cfg, trial)


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate a TOML config file."""
    path = Path(path)
    if not path.is_file():
        raise RtError(f"config file '{path}' not found; pass the path of a TOML file, e.g. examples/quickstart.toml")
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise RtError(f"config file '{path}' is not valid TOML: {err}") from err
    _require_sections(data, path)
    brought = data.get("source_models", {}).get("checkpoints") if isinstance(data.get("source_models"), dict) else None
    if isinstance(brought, str) and brought and not Path(brought).is_absolute():  # relative to the config file
        data["source_models"] = {**data["source_models"], "checkpoints": str(path.parent / brought)}
    return from_dict(data)


def _require_sections(data: dict, path: Path) -> None:
    """A config file names its domains, its model and its sweep: defaults there hide mistakes."""
    for name in REQUIRED:
        if name not in data:
            raise RtError(f"{path}: no [{name}] section; add one (see examples/quickstart.toml), e.g. "
                          f"{EXAMPLES[name]}")
    if "sweep" not in data:
        raise RtError(f"{path}: no [[sweep]] tables, so only vanilla trials would run; add [[sweep]] with plugin "
                      "and strengths, or write sweep = [] at the top to run vanilla trials only")
