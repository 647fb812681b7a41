"""Checks that run after the data is loaded and before the first write, so bad input leaves ``--out``
as it was and costs one line:

- the output directory: a file, or a folder that cannot be created or written, is refused;
- the model: one forward pass on a batch of each domain, so a shape mismatch is caught up front,
  every brought checkpoint loaded into the architecture, and with ``train.whiten_first_conv`` a
  first conv that can be whitened;
- k-fold target probes: every target class has at least k images; k-shot probes: more than k.

Every failure is an RtError: one line naming the config key and the fix.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from rt_core.errors import RtError
from rt_core.experiment.checkpoints import load_into, read_table
from rt_core.experiment.config import ExperimentConfig
from rt_core.experiment.parts import Domain, new_model
from rt_core.experiment.whitening import first_conv


def check_out_dir(out: str | Path) -> None:
    """``--out`` must be a directory, or a path whose nearest existing parent we may write into; an empty
    path (which would write into the current folder) is refused."""
    if not str(out).strip():
        raise RtError("--out is empty; give a directory, e.g. --out runs/mine (an empty path would write into the "
                      "current folder)")
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise RtError(f"--out {out} is a file, not a directory; give a directory (it is created if missing)")
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise RtError(f"--out {out}: cannot write into {probe} (permission denied); give a directory you "
                      "can write to")


def check_model_fits(cfg: ExperimentConfig, src: Domain, tgt: Domain, device: torch.device) -> None:
    """Build the model and run it on two images of each domain; a mismatch is one line naming the shapes."""
    try:
        model = new_model(cfg, src.num_classes, device, seed=0).eval()
    except (TypeError, ValueError, RuntimeError) as err:
        raise RtError(f"model.options: model '{cfg.model.name}' cannot be built with {cfg.model.options}: "
                      f"{str(err).splitlines()[0]}") from err
    if cfg.source_models.checkpoints:  # every brought model must fit the architecture, before anything runs
        for path in sorted(set(read_table(cfg.source_models.checkpoints).values())):
            load_into(new_model(cfg, src.num_classes, device, seed=0), path, cfg.model.name)
    if cfg.train.whiten_first_conv:
        first_conv(model.features)
    for where, dom in (("source", src), ("target", tgt)):
        shape = tuple(dom.x_train.shape[1:])
        try:
            with torch.no_grad():
                model.features(dom.x_train[:2])
        except RuntimeError as err:
            raise RtError(f"{where}: model '{cfg.model.name}' {cfg.model.options} cannot take {where} images "
                          f"of shape {shape} ({str(err).splitlines()[0]}); make [{where}] options give the "
                          "image size the model expects (e.g. model.options.image_size)") from err


def check_probe_folds(cfg: ExperimentConfig, tgt: Domain) -> None:
    """k-fold target probes need every target class in every fold: at least k images of each; k-shot
    probes need k images of each class to fit on and at least one more to score."""
    folds, shots = cfg.transfer.probe_folds, cfg.transfer.probe_shots
    if not folds and not shots:
        return
    counts = torch.bincount(torch.cat([tgt.y_train, tgt.y_test]).cpu(), minlength=tgt.num_classes)
    smallest, which = int(counts.min()), int(counts.argmin())
    if folds and smallest < folds:
        raise RtError(f"transfer.probe_folds: {folds} folds need at least {folds} target images of every class, "
                      f"and class {which} has {smallest}; lower probe_folds or use a larger target set")
    if shots and smallest <= shots:
        raise RtError(f"transfer.probe_shots: {shots} shots need more than {shots} target images of every class, "
                      f"and class {which} has {smallest}; lower probe_shots or use a larger target set")
