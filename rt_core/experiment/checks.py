"""Input checks that run before the first trial, so a mistake costs one line and no wasted work.

- options: every ``options`` table is checked against the signature of the function it is passed to
  (a plugin's factory, a dataset's loader, a model's builder), and each plugin is instantiated
  once per strength so a bad option value is caught too;
- the output directory: a file, or a folder that cannot be created or written, is refused;
- the model: one forward pass on a batch of each domain, so a shape mismatch is caught up front.

Every failure is an RtError: one line naming the config key and the fix.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from rt_core.errors import RtError


def _plugin_bases() -> tuple[type, ...]:
    from rt_core.host.augmentation import Augmentation
    from rt_core.host.regularizer import Regularizer

    return Augmentation, Regularizer


def accepted_options(fn: Callable, skip: Iterable[str]) -> set[str] | None:
    """The keyword options ``fn`` accepts, without the parameters in ``skip``; None when it takes
    any keyword (a ``**kwargs`` we cannot check). A plugin class's ``**options`` that only reaches
    the base ``Augmentation``/``Regularizer.__init__`` accepts nothing more: options must be declared
    as keyword parameters of the factory."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    params = list(sig.parameters.values())
    named = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    takes_any = any(p.kind is p.VAR_KEYWORD for p in params)
    if takes_any and not (inspect.isclass(fn) and issubclass(fn, _plugin_bases())):
        return None
    return named - set(skip)


def check_options(fn: Callable, options: dict, where: str, what: str, skip: Iterable[str]) -> None:
    """RtError ``where.KEY: unknown option of WHAT; its options: ...`` for an option ``fn`` does not take."""
    known = accepted_options(fn, skip)
    if known is None:
        return
    unknown = sorted(set(options) - known)
    if unknown:
        listed = ", ".join(sorted(known)) or "(none)"
        raise RtError(f"{where}.{unknown[0]}: unknown option of {what}; its options: {listed}")


def check_plugin(spec: Any, strengths: list[float], options: dict, where: str) -> None:
    """Options against the factory's signature, then one instance per strength (a bad value fails here)."""
    check_options(spec.factory, options, f"{where}.options", f"plugin '{spec.name}'", skip=("strength",))
    for s in strengths:
        try:
            spec.factory(s, **options)
        except (TypeError, ValueError) as err:
            first = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise RtError(f"{where}.options: plugin '{spec.name}' refused {options} at strength {s:g}: "
                          f"{first}") from err


def check_domain(data_cfg: Any, where: str) -> None:
    """Dataset options against the loader's signature (a missing root is checked by the config, whether the
    folder holds the data when it loads, before the first write)."""
    from rt_core.host.lookup import get_dataset

    spec = get_dataset(data_cfg.dataset)
    check_options(spec.loader, data_cfg.options, f"{where}.options", f"dataset '{spec.name}'",
                  skip=("split", "root"))


def check_model_options(model_cfg: Any) -> None:
    from rt_core.host.lookup import get_model

    spec = get_model(model_cfg.name)
    check_options(spec.builder, model_cfg.options, "model.options", f"model '{spec.name}'", skip=("num_classes",))


def check_out_dir(out: str | Path) -> None:
    """``--out`` must be a directory, or a path whose nearest existing parent we may write into."""
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise RtError(f"--out {out} is a file, not a directory; give a directory (it is created if missing)")
    probe = path
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise RtError(f"--out {out}: cannot write into {probe} (permission denied); give a directory you "
                      "can write to")


def check_model_fits(cfg: Any, src: Any, tgt: Any, device: Any) -> None:
    """Build the model and run it on two images of each domain; a mismatch is one line naming the shapes."""
    import torch

    from rt_core.experiment.pipeline import new_model

    try:
        model = new_model(cfg, src.num_classes, device, seed=0).eval()
    except (TypeError, ValueError, RuntimeError) as err:
        raise RtError(f"model.options: model '{cfg.model.name}' cannot be built with {cfg.model.options}: "
                      f"{str(err).splitlines()[0]}") from err
    if cfg.source_models.checkpoints:  # every brought model must fit the architecture, before anything runs
        from rt_core.experiment.checkpoints import load_into, read_table

        for path in sorted(set(read_table(cfg.source_models.checkpoints).values())):
            load_into(new_model(cfg, src.num_classes, device, seed=0), path, cfg.model.name)
    for where, dom in (("source", src), ("target", tgt)):
        shape = tuple(dom.x_train.shape[1:])
        try:
            with torch.no_grad():
                model.features(dom.x_train[:2])
        except RuntimeError as err:
            raise RtError(f"{where}: model '{cfg.model.name}' {cfg.model.options} cannot take {where} images "
                          f"of shape {shape} ({str(err).splitlines()[0]}); make [{where}] options give the "
                          "image size the model expects (e.g. model.options.image_size)") from err


def check_probe_folds(cfg: Any, tgt: Any) -> None:
    """k-fold target probes need every target class in every fold: at least k images of each."""
    import torch

    k = cfg.transfer.probe_folds
    if not k:
        return
    counts = torch.bincount(torch.cat([tgt.y_train, tgt.y_test]).cpu(), minlength=tgt.num_classes)
    smallest = int(counts.min())
    if smallest < k:
        raise RtError(f"transfer.probe_folds: {k} folds need at least {k} target images of every class, and "
                      f"class {int(counts.argmin())} has {smallest}; lower probe_folds or use a larger target set")
