"""The trial runner: runs a pack of trials in whichever process it lands in (this one, a local worker
process, a Ray task) and turns what happens into ``Outcome``s: finished, diverged or failed.
"""

from __future__ import annotations

import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from rt_core.experiment.checkpoints import brought_info, save_model
from rt_core.experiment.config import ExperimentConfig
from rt_core.experiment.environment import resolve_device, versions
from rt_core.experiment.packing.plan import packing_method, train_pack
from rt_core.experiment.parts import Domain, domains
from rt_core.experiment.pipeline import evaluate_trial, run_trial, trial_timings
from rt_core.experiment.training import Diverged
from rt_core.experiment.trials import Outcome, Trial
from rt_core.host.manager import ensure_plugins


@dataclass
class TrialRunner:
    """Runs a pack of trials (usually one; see ``rt_core.experiment.packing.plan``) in whichever process it lands
    in (this one, or a Ray worker); picklable.

    A plugin that raises makes the trial ``failed`` (error line and traceback kept); a non-finite
    loss makes it ``diverged`` with its epoch; either way the sweep goes on. ``extra_plugins`` are
    the plugins registered in-process in the driver, re-registered in a fresh worker.
    """

    cfg: ExperimentConfig
    device: str = "auto"
    show_epochs: bool = False
    extra_plugins: tuple = ()
    models_dir: str = ""  # with [source_models] keep: each trained model goes to models_dir/<key>.safetensors

    def _keep(self, key: str) -> Path | None:
        return Path(self.models_dir) / f"{key}.safetensors" if self.models_dir else None

    def __call__(self, pack: list[tuple[Trial, str]]) -> list[Outcome]:
        """Outcomes of a pack of (trial, key): one trial run alone, or several trained together."""
        ensure_plugins(self.extra_plugins)
        dev = resolve_device(self.device)
        src, tgt = domains(self.cfg, dev)
        if len(pack) == 1:
            return [self._alone(*pack[0], dev, src, tgt)]
        return self._packed(pack, dev, src, tgt)

    def _bar(self, label: str):
        return tqdm(total=self.cfg.train.epochs, desc=f"  {label}", leave=False, disable=not self.show_epochs,
                    unit="ep")

    def _alone(self, trial: Trial, key: str, dev: torch.device, src: Domain, tgt: Domain) -> Outcome:
        with self._bar(f"{trial.label} seed {trial.seed}") as bar:
            info = {**versions(dev), **brought_info(self.cfg, trial)}
            return _guarded(trial, key, info, lambda: run_trial(
                trial, self.cfg, src, tgt, dev, on_epoch=lambda e, loss: (bar.update(1), bar.set_postfix(
                    loss=f"{loss:.3f}")), keep=self._keep(key)))

    def _packed(self, pack: list[tuple[Trial, str]], dev: torch.device, src: Domain, tgt: Domain) -> list[Outcome]:
        method = packing_method(self.cfg, src.num_classes)
        t0 = time.perf_counter()
        try:
            with self._bar(f"pack of {len(pack)} ({method})") as bar:
                models, gens, diverged = train_pack([t for t, _ in pack], self.cfg, src, dev, method,
                                                    lambda e: bar.update(1))
        except Exception:  # noqa: BLE001 - a plugin failed inside the pack: each trial alone, so only its own fails
            return [self._alone(t, k, dev, src, tgt) for t, k in pack]
        train_s = (time.perf_counter() - t0) / len(pack)
        info = {**versions(dev), "packed": f"{method} x{len(pack)}"}
        outcomes = []
        for (trial, key), model, g, epoch in zip(pack, models, gens, diverged, strict=True):
            def evaluate(model=model, g=g, trial=trial, epoch=epoch, key=key):
                if epoch is not None:
                    raise Diverged(epoch)
                if self._keep(key) is not None:
                    save_model(model, self._keep(key))
                metrics, t = evaluate_trial(model, trial, self.cfg, src, tgt, g)
                return metrics, trial_timings(train_s, t)
            outcomes.append(_guarded(trial, key, info, evaluate))
        return outcomes


def _guarded(trial: Trial, key: str, info: dict, run: Callable[[], tuple[dict, dict]]) -> Outcome:
    """The outcome of ``run()``: finished, diverged (train.Diverged) or failed (any other error)."""
    try:
        metrics, timings = run()
        return Outcome(trial, key, "finished", metrics, timings, versions=info)
    except Diverged as err:
        return Outcome(trial, key, "diverged", {}, {}, error=str(err), epoch=err.epoch, versions=info)
    except Exception as err:  # noqa: BLE001 - any plugin error fails this trial only
        return Outcome(trial, key, "failed", {}, {}, error=f"{type(err).__name__}: {err}".splitlines()[0],
                       traceback=traceback.format_exc(), versions=info)
