"""File writing every part of the toolkit shares: atomic writes and content keys.

``atomic_write`` writes to a temporary name in the same folder, then renames it over the target
(``os.replace`` is atomic on POSIX and Windows), so a reader or a killed writer never sees half a
file. ``content_key`` is the hash of an object's canonical JSON: the key of trials, experiments and
cached datasets.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any


def atomic_write(path: str | Path, data: str | bytes | Callable[[IO], None], newline: str | None = None) -> Path:
    """Write ``data`` (text, bytes, or a function writing into an open file) to ``path`` atomically."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        if callable(data):
            with open(tmp, "w", newline=newline) as fh:
                data(fh)
        elif isinstance(data, bytes):
            tmp.write_bytes(data)
        else:
            tmp.write_text(data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def content_key(obj: Any, digits: int = 20) -> str:
    """The first ``digits`` hex digits of sha256 of ``obj``'s canonical JSON (sorted keys, str fallback)."""
    blob = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:digits]
