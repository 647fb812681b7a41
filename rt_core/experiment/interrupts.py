"""Ctrl-C (or SIGTERM, as ``kill`` and ``timeout`` send) during a sweep: stop at once, except in the
middle of a store write.

``SigintGuard`` (a context manager; active in the main thread only, elsewhere it does nothing)
turns SIGINT and SIGTERM into ``KeyboardInterrupt`` as Python does for SIGINT, except inside ``guard.critical()`` blocks
(a trial's row being written), where the interrupt is held and raised when the block ends.
``guard.ignore()`` ignores further signals while the sweep cleans up after the first.
``SweepInterrupted`` is what the sweep raises after that clean-up: a ``KeyboardInterrupt`` that
knows how many finished trials the store kept.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType


class SweepInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the sweep; ``kept`` finished trials are in the store, no row is left ``running``."""

    def __init__(self, kept: int) -> None:
        super().__init__(f"interrupted: {kept} finished trials kept; run the same command to resume")
        self.kept = kept


SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SigintGuard:
    def __init__(self) -> None:
        self.active = threading.current_thread() is threading.main_thread()
        self.depth = 0
        self.pending = False
        self.previous: dict[int, object] = {}

    def __enter__(self) -> SigintGuard:
        if self.active:
            self.previous = {s: signal.signal(s, self._handle) for s in SIGNALS}
        return self

    def __exit__(self, *exc: object) -> None:
        if self.active:
            for s, handler in self.previous.items():
                signal.signal(s, handler)

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.depth:
            self.pending = True
        else:
            raise KeyboardInterrupt

    @contextlib.contextmanager
    def critical(self) -> Iterator[None]:
        """A block that a signal does not cut: an interrupt during it is raised when it ends."""
        self.depth += 1
        try:
            yield
        finally:
            self.depth -= 1
        if not self.depth and self.pending:
            self.pending = False
            raise KeyboardInterrupt

    def ignore(self) -> None:
        """Ignore SIGINT and SIGTERM until the guard exits (a second one does not cut the clean-up short)."""
        if self.active:
            for s in SIGNALS:
                signal.signal(s, signal.SIG_IGN)
