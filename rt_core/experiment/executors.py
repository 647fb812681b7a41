"""Where a sweep's packs of trials run on this machine: in this process, or in a pool of worker
processes, each running torch on its own number of threads.

``LocalExecutor(workers, threads)``: with ``workers == 1`` every pack runs here, one after another,
on ``threads`` torch threads. With ``workers > 1`` each of ``workers`` processes (started with
'spawn': torch and fork do not mix) runs one pack at a time on ``threads`` threads
(``OMP_NUM_THREADS``/``MKL_NUM_THREADS`` set before its torch import, then ``torch.set_num_threads``)
and sends its outcomes back; the driver stays the single writer of the store.

Defaults (``None``): on CPU, as many single-threaded workers as cores available to this process
(``os.sched_getaffinity``); a given ``workers`` without ``threads`` gets ``max(1, cores // workers)``
threads, a given ``threads`` without ``workers`` gets ``max(1, cores // threads)`` workers. On CUDA,
one worker (this process) on torch's default threads.

A worker that dies mid-pack (SIGKILL, out of memory) is replaced and its pack re-run from scratch,
at most ``max_retries`` times; after that its trials are ``failed`` and the sweep goes on. A worker
that cannot start at all (exit status > 0 before it is ready, e.g. an import error) is an error
of the run. An exception escaping the trial runner in a worker fails that pack's trials, not retried.
Workers ignore SIGINT: on Ctrl-C the driver stops them (SIGTERM, then SIGKILL) and returns.
CPU results depend on the thread count in the last float digits, which training amplifies: the
same seeds on the same thread count give identical metrics whatever the number of workers.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import pickle
import signal
import threading
import traceback
import types
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import Connection, wait
from typing import Any

import torch

from rt_core.errors import RtError
from rt_core.experiment.environment import resolve_device
from rt_core.experiment.trials import Outcome, Trial

Pack = list[tuple[Trial, str]]
READY = b"ready"
THREAD_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")


def available_cpus() -> int:
    """CPU cores this process may run on (its affinity mask; all cores where that is unknown)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def plan_workers(device_type: str, workers: int | None, threads: int | None,
                 cores: int | None = None) -> tuple[int, int | None]:
    """(workers, threads) after the defaults of the module docstring; threads None: torch's default."""
    if (workers is not None and workers < 1) or (threads is not None and threads < 1):
        raise RtError(f"--workers and --threads must be at least 1 (got {workers}, {threads})")
    cores = cores or available_cpus()
    if device_type == "cuda":
        return workers or 1, threads
    if workers is None:
        threads = threads or 1
        return max(1, cores // threads), threads
    return workers, threads or max(1, cores // workers)


class _Pickler(pickle.Pickler):
    """Pickles a module (a plugin registered in-process) as the name to import it by."""

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, types.ModuleType):
            return importlib.import_module, (obj.__name__,)
        return NotImplemented


def _dumps(obj: Any) -> bytes:
    buf = io.BytesIO()
    _Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump(obj)
    return buf.getvalue()


def _terminated(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)  # unwinds, so the process's finalizers (e.g. its semaphores) run


def _worker_main(conn: Connection, threads: int | None) -> None:
    """A worker: load the runner, then run each pack sent until an empty message (or the driver's end)."""
    signal.signal(signal.SIGTERM, _terminated)
    if threads is not None:
        torch.set_num_threads(threads)
    runner = pickle.loads(conn.recv_bytes())
    conn.send_bytes(READY)
    while True:
        try:
            message = conn.recv_bytes()
        except EOFError:  # the driver is gone
            return
        if not message:
            return
        pack = pickle.loads(message)
        try:
            result: Any = runner(pack)
        except Exception as err:  # noqa: BLE001 - boundary: the driver stores it as the pack's failure
            result = (f"{type(err).__name__}: {err}".splitlines()[0], traceback.format_exc())
        try:
            conn.send(result)
        except OSError:  # the driver was killed: nobody to tell
            return


@contextlib.contextmanager
def _child_setup(threads: int | None) -> Iterator[None]:
    """While a worker starts: its thread env set, and SIGINT ignored (inherited: the driver handles Ctrl-C)."""
    saved = {name: os.environ.get(name) for name in THREAD_ENV}
    if threads is not None:
        os.environ.update({name: str(threads) for name in THREAD_ENV})
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        yield
    finally:
        if main:
            signal.signal(signal.SIGINT, previous)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@dataclass
class _Worker:
    process: Any
    conn: Connection
    ready: bool = False
    job: tuple[int, Pack] | None = None


def _failed(pack: Pack, error: str, trace: str | None = None) -> list[Outcome]:
    return [Outcome(trial, key, "failed", {}, {}, error=error, traceback=trace) for trial, key in pack]


class LocalExecutor:
    """Packs in this process (``workers == 1``) or in a pool of worker processes; see the module docstring."""

    def __init__(self, workers: int | None = None, threads: int | None = None, max_retries: int = 2) -> None:
        if max_retries < 0:
            raise RtError(f"--max-retries must be >= 0 (got {max_retries})")
        self.asked = (workers, threads)
        self.workers, self.threads = plan_workers("cpu", workers, threads)
        self.max_retries = max_retries

    @property
    def in_process(self) -> bool:
        return self.workers == 1

    def worker_device(self, requested: str) -> str:
        """Check the device and settle workers and threads for it."""
        self.workers, self.threads = plan_workers(resolve_device(requested).type, *self.asked)
        return requested

    def _tag(self, outcomes: list[Outcome]) -> list[Outcome]:
        for outcome in outcomes:
            outcome.versions = {**outcome.versions, "workers": str(self.workers)}
        return outcomes

    def map(self, runner: Callable[[Pack], list[Outcome]], packs: Iterable[Pack],
            on_start: Callable[[Trial, str], None]) -> Iterator[Outcome]:
        """Outcomes of every pack, in the order they finish; ``on_start`` as each pack begins."""
        if self.in_process:
            yield from self._here(runner, packs, on_start)
        else:
            yield from _Pool(self, runner, on_start).run(list(packs))

    def _here(self, runner: Callable[[Pack], list[Outcome]], packs: Iterable[Pack],
              on_start: Callable[[Trial, str], None]) -> Iterator[Outcome]:
        before = torch.get_num_threads()
        try:
            for pack in packs:
                if self.threads is not None:
                    torch.set_num_threads(self.threads)
                for trial, key in pack:
                    on_start(trial, key)
                outcomes = runner(pack)
                yield from self._tag(outcomes)
        finally:
            torch.set_num_threads(before)


class _Pool:
    """One map over a pool of spawned workers: dispatch, collect, replace the dead, stop all at the end."""

    def __init__(self, executor: LocalExecutor, runner: Callable, on_start: Callable[[Trial, str], None]) -> None:
        self.ex, self.on_start = executor, on_start
        self.blob = _dumps(runner)
        self.ctx = get_context("spawn")
        self.workers: list[_Worker] = []
        self.queue: deque[tuple[int, Pack]] = deque()
        self.attempts: dict[int, int] = {}

    def run(self, packs: list[Pack]) -> Iterator[Outcome]:
        self.queue.extend(enumerate(packs))
        try:
            for _ in range(min(self.ex.workers, len(packs))):
                self._assign(self._spawn())
            while any(w.job for w in self.workers):
                busy = [w for w in self.workers if w.job]
                ready = set(wait([w.conn for w in busy] + [w.process.sentinel for w in busy]))
                for w in busy:
                    if w.conn in ready or w.process.sentinel in ready:
                        yield from self._collect(w)
        finally:
            self._stop()

    def _spawn(self) -> _Worker:
        parent, child = self.ctx.Pipe()
        process = self.ctx.Process(target=_worker_main, args=(child, self.ex.threads), daemon=True,
                                   name="rt-worker")
        with _child_setup(self.ex.threads):
            process.start()
        child.close()
        parent.send_bytes(self.blob)
        worker = _Worker(process, parent)
        self.workers.append(worker)
        return worker

    def _assign(self, worker: _Worker) -> None:
        if not self.queue:
            worker.job = None
            return
        index, pack = self.queue.popleft()
        for trial, key in pack:
            self.on_start(trial, key)
        worker.job = (index, pack)
        worker.conn.send_bytes(_dumps(pack))

    def _collect(self, worker: _Worker) -> Iterator[Outcome]:
        """Read what ``worker`` sent (ready, or its pack's outcomes) or handle its death."""
        try:
            if worker.conn.poll():
                if not worker.ready:
                    worker.ready = worker.conn.recv_bytes() == READY
                    return
                result = worker.conn.recv()
                _, pack = worker.job
                worker.job = None
                yield from self.ex._tag(_failed(pack, *result) if isinstance(result, tuple) else result)
                self._assign(worker)
                return
        except (EOFError, ConnectionResetError):
            pass
        if not worker.process.is_alive():
            yield from self._died(worker)

    def _died(self, worker: _Worker) -> Iterator[Outcome]:
        worker.process.join()
        code = worker.process.exitcode
        self.workers.remove(worker)
        worker.conn.close()
        if not worker.ready and code is not None and code > 0:
            raise RtError(f"a worker process could not start (exit status {code}; its error is printed above); "
                          "use --workers 1 to run the trials in this process")
        index, pack = worker.job
        self.attempts[index] = self.attempts.get(index, 0) + 1
        if self.attempts[index] > self.ex.max_retries:
            how = f"signal {-code}" if code is not None and code < 0 else f"exit status {code}"
            yield from self.ex._tag(_failed(pack, f"worker process died ({how}) in each of "
                                                  f"{self.attempts[index]} attempts"))
        else:
            self.queue.appendleft((index, pack))
        if self.queue:
            self._assign(self._spawn())

    def _stop(self) -> None:
        """End every worker: an empty message to the idle, SIGTERM to the busy, SIGKILL after 5 s."""
        for w in self.workers:
            with contextlib.suppress(OSError):
                if w.job is None:
                    w.conn.send_bytes(b"")
                else:
                    w.process.terminate()
        for w in self.workers:
            w.process.join(5)
            if w.process.is_alive():
                w.process.kill()
                w.process.join()
            w.conn.close()
        self.workers.clear()
