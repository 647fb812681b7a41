"""One writer per store, with real processes: a second `rt run` on the same --out is refused in one line
while the first writes, which goes on untouched; Ctrl-C of a sweep deletes only the rows it started; a
lock left by a killed run is taken over; a finished row is never rewritten."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from rt_core import RtError
from rt_core.results.lock import NAME, WriterLock, check_free
from rt_core.results.store import Store
from tests.helpers.tiny import write_tiny

ROTATIONS = list(range(2, 42, 2))  # one seed, 23 trials of about a second: long enough for a second run to meet


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RT_CACHE", str(tmp_path / "cache"))


def _command(tmp_path, out, rotations=ROTATIONS):
    cfg = write_tiny(tmp_path / "tiny.toml", f'[[sweep]]\nplugin = "rotation"\nstrengths = {rotations}\n')
    text = open(cfg).read().replace("seeds = [0, 1]", "seeds = [0]").replace("epochs = 2", "epochs = 4")
    open(cfg, "w").write(text)
    return [sys.executable, "-m", "rt_core.cli", "run", cfg, "--out", str(out), "--device", "cpu", "--quiet",
            "--workers", "1"]


def _env():
    return {**os.environ, "PYTHONPATH": os.getcwd()}


def _count(out, status):
    try:
        conn = sqlite3.connect(f"file:{out / 'results.sqlite'}?mode=ro", uri=True, timeout=1)
        n = conn.execute("SELECT COUNT(*) FROM trials WHERE status = ?", (status,)).fetchone()[0]
        conn.close()
        return n
    except sqlite3.Error:
        return 0


def _wait(proc, ready, what, limit=180):
    deadline = time.time() + limit
    while not ready() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, f"the first run ended before {what}: {proc.stderr.read()[-2000:]}"


def test_a_second_run_on_the_same_out_is_refused_and_the_first_goes_on_untouched(tmp_path):
    out = tmp_path / "out"
    cmd = _command(tmp_path, out)
    first = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait(first, lambda: _count(out, "finished") >= 1, "its first trial")
    second = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=300)
    assert second.returncode == 2, second.stderr[-2000:]
    line = second.stderr.strip()
    assert "\n" not in line and f"is being written by another rt run (pid {first.pid} on " in line, line
    assert first.poll() is None, "the first run ended before the second met it"
    finished_then = _count(out, "finished")
    _wait(first, lambda: _count(out, "finished") > finished_then, "a trial after the second run")
    first.send_signal(signal.SIGINT)  # the first went on writing; stop it here to keep the test short
    _, stderr = first.communicate(timeout=120)
    assert first.returncode == 130 and "Traceback" not in stderr, stderr[-2000:]
    rows = Store(out).rows()
    assert rows and all(r["status"] == "finished" for r in rows) and len(rows) == len({r["key"] for r in rows})
    assert not (out / NAME).exists()


def test_ctrl_c_deletes_only_the_rows_its_own_sweep_started(tmp_path):
    out = tmp_path / "out"
    store = Store(out)  # a row some other process left running: not this sweep's to delete
    store.start("someone-elses-trial", "blur", 9.0, 7, {})
    store.close()
    cmd = _command(tmp_path, out)
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait(proc, lambda: _count(out, "finished") >= 2, "two trials")
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr[-2000:]
    running = [r["key"] for r in Store(out).rows() if r["status"] == "running"]
    assert running == ["someone-elses-trial"]
    assert not (out / NAME).exists()


def test_a_lock_left_by_a_killed_run_is_taken_over(tmp_path):
    out, rotations = tmp_path / "out", ROTATIONS[:4]  # killed after its first trial: a few more suffice
    cmd = _command(tmp_path, out, rotations)
    proc = subprocess.Popen(cmd, env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _wait(proc, lambda: _count(out, "finished") >= 1, "its first trial")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (out / NAME).read_text().split()[0] == str(proc.pid)  # the dead holder's lock file is still there
    check_free(out)  # ... and free: the kernel dropped the lock with the process
    rerun = subprocess.run(cmd, env=_env(), capture_output=True, text=True, timeout=600)
    assert rerun.returncode in (0, 1), rerun.stderr[-2000:]
    rows = Store(out).rows()
    assert len(rows) == 3 + len(rotations) and all(r["status"] == "finished" for r in rows)
    assert not (out / NAME).exists()


def test_the_lock_names_its_holder_and_is_released(tmp_path):
    with WriterLock(tmp_path):
        pid, host, _ = (tmp_path / NAME).read_text().split()
        assert pid == str(os.getpid())
        with pytest.raises(RtError, match=rf"is being written by another rt run \(pid {pid} on {host}, since "):
            check_free(tmp_path)
        with pytest.raises(RtError, match="only one run may write a store"):
            WriterLock(tmp_path).acquire()
    assert not (tmp_path / NAME).exists()
    check_free(tmp_path)


def test_a_finished_row_is_never_rewritten(tmp_path):
    store = Store(tmp_path)
    store.start("k", "blur", 1.0, 0, {"x": 1})
    store.finish("k", "finished", {"acc_src": 50.0}, {"total_s": 1.0}, {})
    before = store.row("k")
    with pytest.raises(RtError, match="is already finished in .*run one `rt run` per store"):
        store.start("k", "blur", 1.0, 0, {"x": 2})
    with pytest.raises(RtError, match="is no longer running"):
        store.finish("k", "failed", {}, {}, {}, error="late")
    assert store.row("k") == before
    store.start("f", "blur", 2.0, 0, {})
    store.finish("f", "failed", {}, {}, {}, error="boom")
    store.start("f", "blur", 2.0, 0, {})  # an unfinished row is started afresh
    row = store.row("f")
    assert row["status"] == "running" and row["error"] is None and row["finished"] is None
