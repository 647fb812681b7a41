"""The results store: one SQLite file ``results.sqlite`` per experiment directory.

One row per trial, keyed by the hash of the trial's full config, holding its config, status
(``running``, ``finished``, ``failed``, ``diverged``), metrics, timings, seed, versions, error,
and start/end times. Every write is one transaction (WAL journal), so a killed sweep leaves every
finished row intact and at most a ``running`` row, which a rerun repeats from scratch.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from rt_core.errors import RtError

SCHEMA_VERSION = 1
COLUMNS = ("key", "plugin", "strength", "seed", "status", "config", "metrics", "timings", "versions",
           "error", "epoch", "started", "finished")
METRICS = ("acc_src", "rob_src", "acc_tgt", "loss_src", "loss_tgt", "tau", "rel_dt")
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    key TEXT PRIMARY KEY, plugin TEXT NOT NULL, strength REAL NOT NULL, seed INTEGER NOT NULL,
    status TEXT NOT NULL, config TEXT NOT NULL, metrics TEXT NOT NULL DEFAULT '{}',
    timings TEXT NOT NULL DEFAULT '{}', versions TEXT NOT NULL DEFAULT '{}', error TEXT,
    epoch INTEGER, started REAL, finished REAL);
"""


class Store:
    """A results store at ``DIR/results.sqlite``."""

    def __init__(self, directory: str | Path, create: bool = True) -> None:
        self.directory = Path(directory)
        self.path = self.directory / "results.sqlite"
        if not self.path.exists() and not create:
            raise RtError(f"no results store at {self.path}; run `rt run CONFIG --out {self.directory}` first")
        if create:
            self.directory.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self._init_schema()

    def _init_schema(self) -> None:
        try:
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.executescript(SCHEMA)
            version = self.get_meta("schema_version")
        except sqlite3.DatabaseError as err:
            raise RtError(f"{self.path} is not an rt results store ({err}); point --out at an empty "
                          "directory or one written by `rt run`") from err
        if version is None:
            self.set_meta("schema_version", str(SCHEMA_VERSION))
        elif version != str(SCHEMA_VERSION):
            raise RtError(f"{self.path} has schema version {version}, this rt writes {SCHEMA_VERSION}; "
                          "use a new --out directory")
        self._check_columns()

    def _check_columns(self) -> None:
        cols = tuple(r[1] for r in self.conn.execute("PRAGMA table_info(trials)"))
        if cols != COLUMNS:
            raise RtError(f"{self.path} is not an rt results store (its trials table has columns "
                          f"{', '.join(cols)}); point --out at another directory")

    def get_meta(self, name: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def set_meta(self, name: str, value: str) -> None:
        self.conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))

    def status(self, key: str) -> str | None:
        row = self.conn.execute("SELECT status FROM trials WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def start(self, key: str, plugin: str, strength: float, seed: int, config: dict) -> None:
        """Record that a trial started (replacing any unfinished row of the same key)."""
        self.conn.execute(
            "INSERT OR REPLACE INTO trials (key, plugin, strength, seed, status, config, started) "
            "VALUES (?, ?, ?, ?, 'running', ?, ?)",
            (key, plugin, strength, seed, json.dumps(config, sort_keys=True), time.time()))

    def finish(self, key: str, status: str, metrics: dict, timings: dict, versions: dict,
               error: str | None = None, epoch: int | None = None) -> None:
        """Write a trial's outcome in one transaction."""
        self.conn.execute(
            "UPDATE trials SET status = ?, metrics = ?, timings = ?, versions = ?, error = ?, epoch = ?, "
            "finished = ? WHERE key = ?",
            (status, json.dumps(metrics), json.dumps(timings), json.dumps(versions), error, epoch,
             time.time(), key))

    def set_metric(self, key: str, name: str, value: float | None) -> None:
        row = self.conn.execute("SELECT metrics FROM trials WHERE key = ?", (key,)).fetchone()
        metrics = json.loads(row[0])
        metrics[name] = value
        self.conn.execute("UPDATE trials SET metrics = ? WHERE key = ?", (json.dumps(metrics), key))

    @staticmethod
    def _decode(values: tuple) -> dict[str, Any]:
        row = dict(zip(COLUMNS, values, strict=True))
        for name in ("config", "metrics", "timings", "versions"):
            row[name] = json.loads(row[name])
        return row

    def rows(self) -> list[dict[str, Any]]:
        """Every trial as a dict, JSON columns decoded, ordered by plugin, strength, seed."""
        cur = self.conn.execute(f"SELECT {', '.join(COLUMNS)} FROM trials ORDER BY plugin, strength, seed")
        return [self._decode(values) for values in cur.fetchall()]

    def row(self, key: str) -> dict[str, Any]:
        """The trial with ``key``, decoded like :meth:`rows`."""
        values = self.conn.execute(f"SELECT {', '.join(COLUMNS)} FROM trials WHERE key = ?", (key,)).fetchone()
        return self._decode(values)

    def write_csv(self) -> Path:
        """Write ``results.csv`` (one line per trial, metrics and timings flattened), atomically."""
        rows = self.rows()
        timing_names = sorted({k for r in rows for k in r["timings"]})
        header = ["key", "plugin", "strength", "seed", "status", *METRICS, *timing_names, "epoch", "error"]
        path = self.directory / "results.csv"
        tmp = path.with_suffix(f".csv.tmp{os.getpid()}")
        with open(tmp, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(header)
            for r in rows:
                writer.writerow([r["key"], r["plugin"], r["strength"], r["seed"], r["status"],
                                 *[r["metrics"].get(m) for m in METRICS],
                                 *[r["timings"].get(t) for t in timing_names], r["epoch"], r["error"]])
        os.replace(tmp, path)
        return path

    def close(self) -> None:
        self.conn.close()
