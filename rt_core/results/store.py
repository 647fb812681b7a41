"""The results store: one SQLite file ``results.sqlite`` per experiment directory.

One row per trial, keyed by the hash of the trial's full config, holding its config, status
(``running``, ``finished``, ``failed``, ``diverged``), metrics, timings, seed, versions, error,
traceback, and start/end times. An existing file is checked read-only first, so a file that is not
an rt store (or a store of another schema) is refused without being touched, and so is a folder
holding a ``results.csv`` the store did not write (:func:`check_own_files`). Every write is one
transaction (WAL journal), so a killed sweep leaves every finished row intact and at most a
``running`` row, which a rerun repeats from scratch; a finished row is never rewritten (only its
rel_dt filled in). A write that fails (a full disk, a locked or read-only file) is one RtError line.
A store on read-only media whose last writer left a ``-wal`` file is read from a temporary copy of
both files, so no committed trial is missed. One process writes a store at a time: the sweep holds
``rt_core.results.lock``.
"""

from __future__ import annotations

import csv
import functools
import json
import shutil
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from rt_core.errors import RtError
from rt_core.results.io import atomic_write
from rt_core.results.owned import csv_is_ours

SCHEMA_VERSION = 2
COLUMNS = ("key", "plugin", "strength", "seed", "status", "config", "metrics", "timings", "versions",
           "error", "epoch", "started", "finished", "traceback")
METRICS = ("acc_src", "rob_src", "acc_tgt", "probe_acc_src", "loss_src", "loss_tgt", "tau", "rel_dt", "plateau_step",
           "plateau_frac", "plateau_stay_step", "plateau_stay_frac")
SCORE_PREFIX = "score_"  # transferability scores: metrics a finished row may still gain (merge_metrics)
SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    key TEXT PRIMARY KEY, plugin TEXT NOT NULL, strength REAL NOT NULL, seed INTEGER NOT NULL,
    status TEXT NOT NULL, config TEXT NOT NULL, metrics TEXT NOT NULL DEFAULT '{}',
    timings TEXT NOT NULL DEFAULT '{}', versions TEXT NOT NULL DEFAULT '{}', error TEXT,
    epoch INTEGER, started REAL, finished REAL, traceback TEXT);
"""


def _not_a_store(path: Path, why: str) -> RtError:
    csv_copy = path.with_name("results.csv")
    if csv_copy.is_file():
        return RtError(f"{path} is not a readable rt results store ({why}); {csv_copy} beside it still holds every "
                       "row written so far: keep it, move the broken file and the CSV to a safe place and give "
                       "another --out to rerun, or report from the CSV (rt report --import)")
    return RtError(f"{path} is not an rt results store ({why}); point --out at an empty directory or one "
                   "written by `rt run`")


def check_own_files(directory: str | Path) -> None:
    """Refuse, in one RtError line, a folder where the store would overwrite a file it did not write:
    a ``results.csv`` without a store beside it or whose header is not the store's, or a ``-wal`` /
    ``-shm`` file without its ``results.sqlite`` (SQLite would replay it into a new store)."""
    folder = Path(directory)
    store, table = folder / "results.sqlite", folder / "results.csv"
    if table.exists() and not (store.is_file() and csv_is_ours(table)):
        why = "its header is not the store's" if store.is_file() else "there is no results.sqlite beside it"
        raise RtError(f"--out {folder} holds a results.csv that rt did not write there ({why}) and would overwrite; "
                      "move it away or give another --out")
    for extra in ("results.sqlite-wal", "results.sqlite-shm"):
        if (folder / extra).exists() and not store.exists():
            raise RtError(f"--out {folder} holds {extra} but no results.sqlite; move it away (with the store it "
                          "belongs to) or give another --out")


class _CopyConnection(sqlite3.Connection):
    """A connection to a temporary copy of a store (``folder``), removed when the connection closes."""

    folder = ""

    def close(self) -> None:
        super().close()
        shutil.rmtree(self.folder, ignore_errors=True)


def _from_copy(path: Path) -> sqlite3.Connection:
    """A connection to a copy of ``path`` and its -wal file in a temporary folder: a store on read-only
    media whose -shm file is missing cannot be opened in place, and ``immutable`` would skip the WAL."""
    folder = tempfile.mkdtemp(prefix="rt-store-")
    try:
        for name in (path.name, path.name + "-wal"):
            shutil.copyfile(path.with_name(name), Path(folder) / name)
    except OSError as err:
        shutil.rmtree(folder, ignore_errors=True)
        raise RtError(f"{path} sits on read-only media with a -wal file but no -shm, and copying both to "
                      f"{tempfile.gettempdir()} failed ({err.strerror or err}); copy results.sqlite and "
                      "results.sqlite-wal together to a writable folder and read that copy (never delete the -wal "
                      "file: it holds the latest trials)") from err
    conn = sqlite3.connect(f"{(Path(folder) / path.name).as_uri()}?mode=ro", uri=True, factory=_CopyConnection)
    conn.folder = folder
    return conn


def _read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection that creates no file: ``immutable`` unless a WAL file (possibly
    holding transactions of a killed writer) exists, which a plain read-only open then reads, or,
    where that cannot open (read-only media without the -shm file), a temporary copy of both."""
    if not path.with_name(path.name + "-wal").exists():
        return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)
    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()
        return conn
    except sqlite3.OperationalError:
        conn.close()
        return _from_copy(path)


def _writes(method):
    """A Store method that writes: a failing write (a full disk, a locked or read-only file, an I/O error)
    becomes one RtError line saying that the finished trials are kept and how to go on."""
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.Error, OSError) as err:
            if isinstance(err, sqlite3.IntegrityError | sqlite3.ProgrammingError | sqlite3.InterfaceError):
                raise  # a bug, not the disk: keep its traceback
            why = getattr(err, "strerror", None) or str(err).splitlines()[0]
            raise RtError(f"cannot write {self.path} ({why}); every trial finished so far is kept: free disk space "
                          "or fix what the error names, then rerun the same command to resume") from err
    return wrapper


def check_store_file(path: Path) -> set[str]:
    """Check, read-only, that ``path`` is an rt store this version can write (schema 1 is upgraded);
    return its table names (none for an empty SQLite file)."""
    try:
        conn = _read_only(path)
        try:
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            cols = tuple(r[1] for r in conn.execute("PRAGMA table_info(trials)"))
            version = conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone() \
                if "meta" in tables else None
        finally:
            conn.close()
    except sqlite3.DatabaseError as err:
        raise _not_a_store(path, str(err)) from err
    if not tables:
        return tables  # an empty SQLite file: nothing to lose
    if "trials" not in tables or "meta" not in tables:
        raise _not_a_store(path, f"it holds tables {', '.join(sorted(tables))}")
    version = version[0] if version else None
    if version not in ("1", str(SCHEMA_VERSION)):
        raise RtError(f"{path} has schema version {version}, this rt writes {SCHEMA_VERSION}; "
                      "use a new --out directory")
    expected = COLUMNS if version == str(SCHEMA_VERSION) else COLUMNS[:-1]
    if cols != expected:
        raise _not_a_store(path, f"its trials table has columns {', '.join(cols)}")
    return tables


def read_statuses(directory: str | Path) -> tuple[dict[str, str], dict[str, str]]:
    """(meta, status by trial key) of the store in ``directory``, read-only; both empty when none."""
    path = Path(directory) / "results.sqlite"
    if not path.exists():
        return {}, {}
    if not check_store_file(path):
        return {}, {}
    conn = _read_only(path)
    try:
        meta = dict(conn.execute("SELECT name, value FROM meta").fetchall())
        return meta, dict(conn.execute("SELECT key, status FROM trials").fetchall())
    finally:
        conn.close()


class Store:
    """A results store at ``DIR/results.sqlite``."""

    def __init__(self, directory: str | Path, create: bool = True, read_only: bool = False) -> None:
        """Open (or, with ``create``, make) the store; ``read_only`` opens an existing one for reading only,
        writing nothing at all (no journal file either), so a read-only results folder can be reported."""
        self.directory = Path(directory)
        self.path = self.directory / "results.sqlite"
        self.read_only = read_only
        if self.path.exists():
            tables = check_store_file(self.path)
        elif not create or read_only:
            raise RtError(f"no results store at {self.path}; run `rt run CONFIG --out {self.directory}` first")
        else:
            self.directory.mkdir(parents=True, exist_ok=True)
        if read_only:
            if not tables:
                raise RtError(f"{self.path} holds no trials yet; run `rt run CONFIG --out {self.directory}` first")
            self.conn = _read_only(self.path)
            return
        self._open()

    @_writes
    def _open(self) -> None:
        self.conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.executescript(SCHEMA)
        version = self.get_meta("schema_version")
        if version == "1":
            self.conn.execute("ALTER TABLE trials ADD COLUMN traceback TEXT")
        if version != str(SCHEMA_VERSION):
            self.set_meta("schema_version", str(SCHEMA_VERSION))

    def _writable(self) -> None:
        if self.read_only:
            raise RtError(f"{self.path} was opened read-only; open it with Store(directory) to write")

    def get_meta(self, name: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    @_writes
    def set_meta(self, name: str, value: str) -> None:
        self._writable()
        self.conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", (name, value))

    def status(self, key: str) -> str | None:
        row = self.conn.execute("SELECT status FROM trials WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    @_writes
    def start(self, key: str, plugin: str, strength: float, seed: int, config: dict) -> None:
        """Record that a trial started, replacing an unfinished row of the same key (a failed, diverged or
        interrupted one) as a fresh row; a finished row is never touched: an RtError says so."""
        self._writable()
        done = self.conn.execute(
            "INSERT INTO trials (key, plugin, strength, seed, status, config, started) "
            "VALUES (?, ?, ?, ?, 'running', ?, ?) ON CONFLICT(key) DO UPDATE SET plugin = excluded.plugin, "
            "strength = excluded.strength, seed = excluded.seed, status = 'running', config = excluded.config, "
            "metrics = '{}', timings = '{}', versions = '{}', error = NULL, epoch = NULL, "
            "started = excluded.started, finished = NULL, traceback = NULL WHERE trials.status != 'finished'",
            (key, plugin, strength, seed, json.dumps(config, sort_keys=True), time.time())).rowcount
        if not done:
            raise RtError(f"trial {key} ({plugin} {strength:g} seed {seed}) is already finished in {self.path}; "
                          "another process wrote this store meanwhile: run one `rt run` per store")

    @_writes
    def finish(self, key: str, status: str, metrics: dict, timings: dict, versions: dict,
               error: str | None = None, epoch: int | None = None, traceback: str | None = None) -> None:
        """Write the outcome of a ``running`` trial in one transaction; a row that is not running (finished,
        or gone) is left alone and an RtError says so."""
        self._writable()
        done = self.conn.execute(
            "UPDATE trials SET status = ?, metrics = ?, timings = ?, versions = ?, error = ?, epoch = ?, "
            "finished = ?, traceback = ? WHERE key = ? AND status = 'running'",
            (status, json.dumps(metrics), json.dumps(timings), json.dumps(versions), error, epoch,
             time.time(), traceback, key)).rowcount
        if not done:
            raise RtError(f"trial {key} is no longer running in {self.path}; another process changed this store "
                          "meanwhile: run one `rt run` per store, then rerun to redo the trial")

    @_writes
    def set_metric(self, key: str, name: str, value: float | None) -> None:
        self._writable()
        row = self.conn.execute("SELECT metrics FROM trials WHERE key = ?", (key,)).fetchone()
        metrics = json.loads(row[0])
        metrics[name] = value
        self.conn.execute("UPDATE trials SET metrics = ? WHERE key = ?", (json.dumps(metrics), key))

    @_writes
    def forget_running(self, keys: list[str] | None = None) -> int:
        """Delete the rows still ``running`` among ``keys`` (default: every one), trials stopped before
        their outcome, so that a rerun repeats them; return how many. The sweep passes the keys it
        started itself, so it never deletes another writer's row."""
        if keys is None:
            return self.conn.execute("DELETE FROM trials WHERE status = 'running'").rowcount
        return sum(self.conn.execute("DELETE FROM trials WHERE status = 'running' AND key = ?", (k,)).rowcount
                   for k in keys)

    def count(self, status: str) -> int:
        return self.conn.execute("SELECT COUNT(*) FROM trials WHERE status = ?", (status,)).fetchone()[0]

    @_writes
    def merge_metrics(self, key: str, values: dict[str, float | None]) -> None:
        """Merge ``values`` into the metrics of the finished trial ``key`` in one transaction (read,
        merge, write under one write lock): ``score_`` metrics only, so a finished row's measured
        metrics are never rewritten; every other column stays as it is. RtError when the row is
        missing or not finished, or a name is not a score."""
        self._writable()
        other = sorted(name for name in values if not name.startswith(SCORE_PREFIX))
        if other:
            raise RtError(f"merge_metrics writes {SCORE_PREFIX}<name> metrics only, not {', '.join(other)}; a "
                          "finished trial's measured metrics are never rewritten")
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            row = self.conn.execute("SELECT status, metrics FROM trials WHERE key = ?", (key,)).fetchone()
            if row is None or row[0] != "finished":
                raise RtError(f"trial {key} is {'not in' if row is None else row[0] + ' in'} {self.path}; scores "
                              "are merged into finished trials only")
            metrics = {**json.loads(row[1]), **values}
            self.conn.execute("UPDATE trials SET metrics = ? WHERE key = ?", (json.dumps(metrics), key))
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

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

    @_writes
    def write_csv(self) -> Path:
        """Write ``results.csv`` (one line per trial, metrics, then any score_ metrics, then timings
        flattened), atomically."""
        self._writable()
        rows = self.rows()
        timing_names = sorted({k for r in rows for k in r["timings"]})
        scores = sorted({k for r in rows for k in r["metrics"] if k.startswith(SCORE_PREFIX)})
        header = ["key", "plugin", "strength", "seed", "status", *METRICS, *scores, *timing_names, "epoch", "error"]
        path = self.directory / "results.csv"

        def write(fh) -> None:
            writer = csv.writer(fh)
            writer.writerow(header)
            for r in rows:
                writer.writerow([r["key"], r["plugin"], r["strength"], r["seed"], r["status"],
                                 *[r["metrics"].get(m) for m in (*METRICS, *scores)],
                                 *[r["timings"].get(t) for t in timing_names], r["epoch"], r["error"]])
        return atomic_write(path, write, newline="")

    def close(self) -> None:
        self.conn.close()
