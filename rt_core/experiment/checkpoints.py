"""Source models kept and brought.

Kept: with ``[source_models] keep = true`` each trained source model's state dict is written to
``DIR/models/<trial key>.safetensors`` (atomically: a temporary file, then a rename).

Brought: ``[source_models] checkpoints = "family.csv"``, a CSV with columns ``plugin,strength,seed,path``
(paths relative to the CSV; ``vanilla,0,SEED,...`` for the vanilla trials), gives every trial of the
sweep an existing model that is evaluated instead of trained ([SAL20]'s setting: a family of robust
models whose transfer is measured and matched). A checkpoint is a ``.safetensors`` file or a
``torch.save``d state dict, loaded only with ``weights_only=True``; wrappers are unpacked (a
``state_dict`` or ``model`` entry; the robustness library's ``module.model.`` prefix, its attacker and
normalizer copies dropped; a DataParallel ``module.`` prefix). Its keys and shapes must be those of
the registered architecture; the first one that is not is named in a one-line error.
"""

from __future__ import annotations

import csv
import hashlib
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

from rt_core.errors import RtError
from rt_core.experiment.config import parse_number


def save_model(model: Any, path: Path) -> Path:
    """Write ``model.state_dict()`` as safetensors at ``path`` (contiguous copies, atomically)."""
    from safetensors.torch import save_file

    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    save_file(tensors, str(tmp))
    os.replace(tmp, path)
    return path


def _unwrap(blob: Any, path: Path) -> dict:
    for key in ("state_dict", "model"):
        if isinstance(blob, dict) and isinstance(blob.get(key), dict):
            blob = blob[key]
    if not isinstance(blob, dict):
        raise RtError(f"checkpoint {path} holds a {type(blob).__name__}, not a state dict; save model.state_dict()")
    if any(k.startswith("module.model.") for k in blob):  # robustness library: keep the model, drop the rest
        return {k[len("module.model."):]: v for k, v in blob.items() if k.startswith("module.model.")}
    return {k.removeprefix("module."): v for k, v in blob.items()}


def load_state(path: str | Path) -> dict:
    """The state dict in ``path`` (safetensors, or torch.load with weights_only=True), unwrapped."""
    import pickle

    import torch

    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path))
        return _unwrap(torch.load(path, map_location="cpu", weights_only=True), path)
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as err:
        first = (str(err).splitlines() or [type(err).__name__])[0]
        raise RtError(f"checkpoint {path} cannot be read as a state dict ({first}); give a .safetensors file or "
                      "a torch.save of model.state_dict()") from err


def load_into(model: Any, path: str | Path, arch: str) -> None:
    """Load the checkpoint at ``path`` into ``model`` (architecture ``arch``), all keys and shapes matching."""
    state, expected = load_state(path), model.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    if missing or unexpected:
        key, how = (missing[0], "missing from the file") if missing else (unexpected[0], "not in the model")
        raise RtError(f"checkpoint {path} does not fit model '{arch}': first mismatching key '{key}' is {how} "
                      f"({len(missing)} missing, {len(unexpected)} unexpected); give a state dict of '{arch}' "
                      "with the config's model options")
    for key, value in expected.items():
        if tuple(state[key].shape) != tuple(value.shape):
            raise RtError(f"checkpoint {path} does not fit model '{arch}': '{key}' has shape "
                          f"{tuple(state[key].shape)}, the model {tuple(value.shape)}; check model.options "
                          "and the source dataset's classes")
    model.load_state_dict(state)


@lru_cache(maxsize=8)
def read_table(csv_path: str) -> dict[tuple[str, float, int], Path]:
    """``(plugin, strength, seed) -> checkpoint path`` from a CSV ``plugin,strength,seed,path``."""
    where = f"source_models.checkpoints ({csv_path})"
    path = Path(csv_path)
    if not path.is_file():
        raise RtError(f"{where}: file not found; give a CSV with columns plugin,strength,seed,path")
    with open(path, newline="") as fh:
        reader = csv.DictReader(fh)
        if not {"plugin", "strength", "seed", "path"} <= set(reader.fieldnames or []):
            raise RtError(f"{where}: needs columns plugin,strength,seed,path; found {reader.fieldnames}")
        table = {}
        for line, row in enumerate(reader, start=2):
            if not row["seed"].strip().lstrip("-").isdigit():
                raise RtError(f"{where} line {line}: seed '{row['seed']}' is not an integer")
            file = (path.parent / row["path"].strip()).resolve()
            if not file.is_file():
                raise RtError(f"{where} line {line}: checkpoint {file} not found")
            key = (row["plugin"].strip(), parse_number(row["strength"], f"{where} line {line}"), int(row["seed"]))
            table[key] = file
    return table


def checkpoint_for(cfg: Any, trial: Any) -> Path | None:
    """The checkpoint brought for ``trial``, or None when the sweep trains its source models."""
    if not cfg.source_models.checkpoints:
        return None
    table = read_table(cfg.source_models.checkpoints)
    key = (trial.plugin, float(trial.strength), int(trial.seed))
    if key not in table:
        raise RtError(f"source_models.checkpoints: no checkpoint for trial {trial.label} seed {trial.seed}; add a "
                      f"line {trial.plugin},{trial.strength:g},{trial.seed},PATH")
    return table[key]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def brought_info(cfg: Any, trial: Any) -> dict[str, Any]:
    """What the store records for a brought model: trained false, its path and sha256 ({} when trained)."""
    path = checkpoint_for(cfg, trial)
    if path is None:
        return {}
    return {"trained": False, "checkpoint": str(path), "checkpoint_sha256": sha256(path)}
