"""Source models kept and brought.

Kept: with ``[source_models] keep = true`` each trained source model's state dict is written to
``DIR/models/<trial key>.safetensors`` (atomically: a temporary file, then a rename).

Brought: ``[source_models] checkpoints = "family.csv"``, a CSV with columns ``plugin,strength,seed,path``
(paths relative to the CSV; ``vanilla,0,SEED,...`` for the vanilla trials), gives every trial of the
sweep an existing model that is evaluated instead of trained ([SAL20]'s setting: a family of robust
models whose transfer is measured and matched). A checkpoint is a ``.safetensors`` file or a
``torch.save``d state dict, loaded only with ``weights_only=True``; wrappers are unpacked (a
``state_dict`` or ``model`` entry, so timm's training checkpoints give their ``state_dict``, not the
EMA copy; the robustness library's ``module.model.`` prefix, its ``module.normalizer.`` kept and its
``module.attacker.`` copy dropped; a DataParallel ``module.`` prefix).

The key map. rt's own names (``features.N...``, ``head.``) load as they are. Names in torchvision's
ResNet layout, which timm's ResNet-18/50 and the robustness library's models share, are mapped onto
a ResNet-like model (``resnet18``, ``tv_resnet18``, ``tv_resnet50``) by position:

=================================  ===========================================================
theirs                             ours
=================================  ===========================================================
``conv1.``, ``bn1.``               the first conv and the first batch norm of ``features``
``layerS.B.`` (S = 1..4)           the B-th block of stage S of ``features`` (a stage starts at
                                   the first block and at every block whose shortcut has stride 2)
``layerS.B.downsample.``           that block's ``shortcut.``
``fc.``, ``linear.``               ``head.``
``normalizer.new_mean`` / ``_std``  the first ``Normalize``'s ``mean`` / ``std`` (reshaped); other
                                   ``normalizer.`` entries are dropped
=================================  ===========================================================

The ``Normalize`` buffers a torchvision or timm file does not have keep the model's own values
(``tv_resnet*``: the ImageNet statistics those weights expect). After the map the keys and shapes
must be those of the architecture; the first one that is not is named in a one-line error, in the
file's own name, and a file none of whose keys matches is named by its first keys.
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
    if any(k.startswith("module.model.") for k in blob):  # robustness library: the model and its normalizer
        keep = ("module.model.", "module.normalizer.")
        return {k.removeprefix("module.model.").removeprefix("module."): v for k, v in blob.items()
                if k.startswith(keep)}
    return {k.removeprefix("module."): v for k, v in blob.items()}


def load_state(path: str | Path) -> dict:
    """The state dict in ``path`` (safetensors, or torch.load with weights_only=True), unwrapped."""
    import pickle

    import torch
    from safetensors import SafetensorError

    path = Path(path)
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return _unwrap(load_file(str(path)), path)
        return _unwrap(torch.load(path, map_location="cpu", weights_only=True), path)
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError, SafetensorError) as err:
        first = (str(err).splitlines() or [type(err).__name__])[0]
        raise RtError(f"checkpoint {path} cannot be read as a state dict ({first}); give a .safetensors file or "
                      "a torch.save of model.state_dict()") from err


FOREIGN = ("conv1.", "bn1.", "layer1.", "fc.", "linear.", "normalizer.")


def resnet_key_map(model: Any) -> dict[str, str]:
    """Prefix in torchvision's ResNet layout -> prefix in ``model`` (module docstring): the normalizer
    entries when the model has a ``Normalize``, the ResNet ones when it has a stem conv and residual
    blocks."""
    from torch import nn

    from rt_core.experiment.models import Normalize

    children = list(model.features.named_children())
    first = {kind: next((n for n, m in children if isinstance(m, kind)), None)
             for kind in (nn.Conv2d, nn.BatchNorm2d, Normalize)}
    out = {} if first[Normalize] is None else {"normalizer.new_mean": f"features.{first[Normalize]}.mean",
                                               "normalizer.new_std": f"features.{first[Normalize]}.std"}
    blocks = [(n, m) for n, m in children if hasattr(m, "conv1") and hasattr(m, "shortcut")]
    if first[nn.Conv2d] is None or first[nn.BatchNorm2d] is None or not blocks:
        return out
    out.update({"conv1.": f"features.{first[nn.Conv2d]}.", "bn1.": f"features.{first[nn.BatchNorm2d]}.",
                "fc.": "head.", "linear.": "head."})
    stage = index = 0
    for k, (name, block) in enumerate(blocks):
        if k == 0 or any(getattr(m, "stride", None) == (2, 2) for m in block.shortcut):
            stage, index = stage + 1, 0
        out[f"layer{stage}.{index}."] = f"features.{name}."
        index += 1
    return out


def _rename(key: str, prefixes: dict[str, str]) -> str:
    match = max((p for p in prefixes if key.startswith(p)), key=len, default=None)
    if match is None:
        return key
    renamed = prefixes[match] + key[len(match):]
    return renamed.replace(".downsample.", ".shortcut.") if match.startswith("layer") else renamed


def mapped_state(state: dict, model: Any) -> tuple[dict, dict[str, str]]:
    """(``state`` under ``model``'s names, our name -> the file's name): the key map of the module
    docstring when the file uses torchvision's layout, else the names unchanged; shapes are fitted
    only where just the layout differs (the normalizer's (3, 1, 1) for our (1, 3, 1, 1))."""
    prefixes = resnet_key_map(model) if any(k.startswith(FOREIGN) for k in state) else {}
    expected = model.state_dict()
    out, theirs = {}, {}
    for key, value in state.items():
        ours = _rename(key, prefixes)
        if key.startswith("normalizer.") and ours not in expected:
            continue  # a normalizer entry with no place in the model (documented: dropped)
        if ours in expected and value.shape != expected[ours].shape and value.numel() == expected[ours].numel() \
                and key.startswith("normalizer."):
            value = value.reshape(expected[ours].shape)
        out[ours], theirs[ours] = value, key
    return out, theirs


def _fixed_buffers(model: Any) -> set[str]:
    """The keys of ``model``'s fixed input transforms (``Normalize`` mean and std)."""
    from rt_core.experiment.models import Normalize

    return {f"{n}.{b}" for n, m in model.named_modules() if isinstance(m, Normalize) for b in ("mean", "std")}


def load_into(model: Any, path: str | Path, arch: str) -> None:
    """Load the checkpoint at ``path`` into ``model`` (architecture ``arch``) through the key map, all
    keys and shapes matching (a fixed input transform's buffers the file lacks keep the model's)."""
    state, theirs = mapped_state(load_state(path), model)
    expected = model.state_dict()
    if state and not set(state) & set(expected):
        shown = ", ".join(f"'{k}'" for k in list(theirs.values())[:3])
        raise RtError(f"checkpoint {path} matches no key of model '{arch}': its keys begin {shown} ({len(state)} "
                      "in all); rt reads its own names and torchvision's/timm's ResNet names (conv1., layer1.0., "
                      "fc.; docs/running.md); rename them, or save model.state_dict() of that architecture")
    for key in _fixed_buffers(model) - set(state):
        state[key] = expected[key]
    _check_fit(state, theirs, expected, path, arch, resnet_key_map(model))
    model.load_state_dict(state)


def _check_fit(state: dict, theirs: dict, expected: dict, path: Path, arch: str, prefixes: dict) -> None:
    missing = [k for k in expected if k not in state]
    unexpected = [theirs[k] for k in state if k not in expected]
    if missing or unexpected:
        key, how = (_theirs(missing[0], theirs, prefixes), "missing from the file") if missing else \
            (unexpected[0], "not in the model")
        raise RtError(f"checkpoint {path} does not fit model '{arch}': first mismatching key '{key}' is {how} "
                      f"({len(missing)} missing, {len(unexpected)} unexpected); give a state dict of '{arch}' "
                      "with the config's model options")
    for key, value in expected.items():
        if tuple(state[key].shape) != tuple(value.shape):
            raise RtError(f"checkpoint {path} does not fit model '{arch}': '{theirs.get(key, key)}' has shape "
                          f"{tuple(state[key].shape)}, the model {tuple(value.shape)}; check model.options "
                          "(stem, width) and the source dataset's classes")


def _theirs(ours: str, theirs: dict, prefixes: dict) -> str:
    """A model key in the file's naming: torchvision's when the file used it, else ours."""
    if not any(v.startswith(FOREIGN) for v in theirs.values()):
        return ours
    inverse = {v: k for k, v in prefixes.items() if not k.startswith(("fc.", "normalizer."))}
    match = max((p for p in inverse if ours.startswith(p)), key=len, default=None)
    if match is None:
        return ours
    name = inverse[match] + ours[len(match):]
    return name.replace(".shortcut.", ".downsample.") if inverse[match].startswith("layer") else name


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
            if None in row or None in row.values():
                raise RtError(f"{where} line {line}: a row of {'more' if None in row else 'fewer'} cells than the "
                              "header's; give plugin,strength,seed,path on every line")
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
