"""Run a sweep's trials as Ray tasks, on a running cluster (``address``) or a local one started
for the run. Outcomes come back to the driver, the single writer of ``results.sqlite``.

Each trial (each pack of trials with ``rt run --pack``) is one task asking for ``cpus_per_trial``
CPUs and ``gpus_per_trial`` GPUs (fractions allowed, e.g. 0.25 shares a GPU among four tasks). A
worker that dies mid-task (killed, out of memory) makes Ray rerun the task from scratch, at most
``max_retries`` times; after that its trials are stored as ``failed`` and the sweep goes on.
A task runs torch on ``int(cpus_per_trial)`` threads (at least 1); CPU results depend on the
thread count in the last float digits, which training amplifies, so compare with a local run on
as many threads (``versions.threads`` records it).
Exceptions raised by a plugin are not retried: the trial runner turns them into a ``failed``
outcome inside the worker.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from rt_core.errors import RtError
from rt_core.experiment.runner import TrialRunner
from rt_core.experiment.trials import Outcome, Trial

FORWARDED_ENV = ("RT_CACHE", "RT_LOAD_PLUGINS")


def import_ray() -> Any:
    """``ray``, or one clear error saying how to install it."""
    try:
        import ray
    except ImportError as err:
        raise RtError("--executor ray needs Ray, which is not installed; install it with "
                      "`pip install 'rt-toolkit[ray]'` (or `pip install ray`)") from err
    return ray


def _run_remote(runner: TrialRunner, pack: list[tuple[Trial, str]], threads: int) -> list[Outcome]:
    import torch

    torch.set_num_threads(threads)
    return runner(pack)


class RayExecutor:
    """Trials as Ray tasks; see the module docstring for retries and resources."""

    def __init__(self, address: str | None = None, cpus_per_trial: float = 1.0, gpus_per_trial: float = 0.0,
                 max_retries: int = 2, num_cpus: int | None = None) -> None:
        if cpus_per_trial <= 0 or gpus_per_trial < 0 or max_retries < 0:
            raise RtError("--cpus-per-trial must be > 0, --gpus-per-trial >= 0 and --max-retries >= 0")
        self.ray = import_ray()
        self.address, self.num_cpus = address, num_cpus
        self.cpus, self.gpus, self.max_retries = cpus_per_trial, gpus_per_trial, max_retries
        self.threads = max(1, int(cpus_per_trial))

    def worker_device(self, requested: str) -> str:
        """Workers use the GPU exactly when each trial asks for one."""
        if requested.startswith("cuda") and self.gpus == 0:
            raise RtError("--device cuda with --executor ray needs --gpus-per-trial > 0 (e.g. 1 or 0.25)")
        return "cuda" if self.gpus > 0 else "cpu"

    def _init(self) -> bool:
        """Connect (or start a local instance); True when this call started it."""
        if self.ray.is_initialized():
            return False
        env = {name: os.environ[name] for name in FORWARDED_ENV if name in os.environ}
        if self.address is None:  # a local instance sees this checkout's modules too
            env["PYTHONPATH"] = os.pathsep.join(p for p in (os.getcwd(), os.environ.get("PYTHONPATH")) if p)
        try:
            self.ray.init(address=self.address, num_cpus=None if self.address else self.num_cpus,
                          include_dashboard=False, log_to_driver=False, runtime_env={"env_vars": env})
        except (ConnectionError, RuntimeError, ValueError) as err:
            raise RtError(f"could not connect to the Ray cluster at {self.address} ({err}); check --address "
                          "or leave it out to start a local instance") from err
        return True

    def map(self, runner: TrialRunner, packs: Iterable[list[tuple[Trial, str]]],
            on_start: Callable[[Trial, str], None]) -> Iterator[Outcome]:
        """Submit every pack (each trial recorded as started), then yield outcomes as packs complete."""
        ray = self.ray
        started_here = self._init()
        task = ray.remote(_run_remote).options(num_cpus=self.cpus, num_gpus=self.gpus,
                                               max_retries=self.max_retries, retry_exceptions=False)
        runner_ref = ray.put(runner)
        pending: dict[Any, list[tuple[Trial, str]]] = {}
        try:
            for pack in packs:
                for trial, key in pack:
                    on_start(trial, key)
                pending[task.remote(runner_ref, pack, self.threads)] = pack
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                yield from self._outcomes(done[0], pending.pop(done[0]))
        finally:
            for ref in pending:
                ray.cancel(ref, force=True)
            if started_here:
                ray.shutdown()

    def _outcomes(self, ref: Any, pack: list[tuple[Trial, str]]) -> list[Outcome]:
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayError as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            error = f"Ray task failed after at most {self.max_retries} retries: {type(err).__name__}: {first}"
            return [Outcome(trial, key, "failed", {}, {}, traceback=str(err), error=error) for trial, key in pack]
