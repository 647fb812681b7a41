"""One writer per results store: ``DIR/results.sqlite.lock``.

The lock is an exclusive ``flock`` on that file, taken without waiting, and the file holds the
holder's pid, host and start time so that a second writer can say who holds it. The kernel drops
the lock when its holder dies however it dies (SIGKILL included), so a lock left by a dead process
is free again: the next writer takes it over and rewrites the file. The file is removed on release.
A lock on a folder shared over NFS is as good as the server's locking.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from pathlib import Path

from rt_core.errors import RtError

NAME = "results.sqlite.lock"


def _busy(path: Path) -> RtError:
    try:
        pid, host, since = path.read_text().split()[:3]
        who = f"pid {pid} on {host}, since {time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(float(since)))}"
    except (OSError, ValueError):
        who = "another process"
    return RtError(f"{path.parent} is being written by another rt run ({who}); only one run may write a store: "
                   "wait for it to finish (or stop it), or give another --out")


def check_free(directory: str | Path) -> None:
    """Raise the one-line "being written" RtError when another process holds the lock of ``directory``;
    read-only: creates nothing."""
    path = Path(directory) / NAME
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return  # no lock file (or none we can open): nobody holds it
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise _busy(path) from None
    finally:
        os.close(fd)  # closing drops a lock we took just to look


class WriterLock:
    """The writer lock of the store in ``directory``: :meth:`acquire` or a one-line RtError naming the
    holder; :meth:`release` (also on leaving a ``with`` block) unlocks and removes the file."""

    def __init__(self, directory: str | Path) -> None:
        self.path = Path(directory) / NAME
        self.fd: int | None = None

    def acquire(self) -> WriterLock:
        while self.fd is None:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise _busy(self.path) from None
            if self._same_file(fd):  # not a file a releasing holder unlinked meanwhile
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()} {socket.gethostname()} {time.time():.0f}\n".encode())
                self.fd = fd
            else:
                os.close(fd)
        return self

    def _same_file(self, fd: int) -> bool:
        try:
            return os.fstat(fd).st_ino == os.stat(self.path).st_ino
        except FileNotFoundError:
            return False

    def release(self) -> None:
        if self.fd is not None:
            self.path.unlink(missing_ok=True)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> WriterLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
