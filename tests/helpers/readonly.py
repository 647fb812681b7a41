"""A folder made read-only for a test: ``chmod 555`` for an ordinary user; for root, whom permissions do
not stop, a read-only bind mount of the folder onto itself (skipped where mounting is not allowed)."""

import contextlib
import os
import subprocess

import pytest


@contextlib.contextmanager
def read_only(folder):
    """Within the block, nothing can be created, changed or removed in ``folder``."""
    if os.geteuid() != 0:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(mode)
        return
    mount = ["mount", "--bind", str(folder), str(folder)]
    if subprocess.run(mount, capture_output=True).returncode != 0:
        pytest.skip("root cannot make a read-only folder here (no bind mount)")
    try:
        if subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True).returncode != 0:
            pytest.skip("root cannot make a read-only folder here (no read-only remount)")
        yield folder
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True)
