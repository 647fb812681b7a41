"""The local executor: worker processes give the sequential run's metrics on the same thread count,
a killed worker's pack is re-run (bounded), Ctrl-C stops every worker and leaves no `running` row,
and the workers/threads defaults."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import tomllib

import rt_core
from rt_core import RtError
from rt_core.cli import main
from rt_core.experiment.executors import LocalExecutor, plan_workers
from rt_core.experiment.loading import from_dict
from rt_core.experiment.sweep import run_sweep
from rt_core.results.store import Store
from tests.helpers import faulty_plugins
from tests.helpers.tiny import TINY, crash_sweep, write_tiny

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RT_CACHE", str(tmp_path / "cache"))


def _rows(out) -> dict:
    return {r["key"]: r for r in Store(out).rows()}


def test_two_workers_give_the_sequential_metrics_exactly(tmp_path):
    cfg = from_dict(tomllib.loads(TINY))
    seq = run_sweep(cfg, str(tmp_path / "seq"), device="cpu", quiet=True, executor=LocalExecutor(1, 1))
    par = run_sweep(cfg, str(tmp_path / "par"), device="cpu", quiet=True, executor=LocalExecutor(2, 1))
    assert seq == par == {"total": 6, "skipped": 0, "finished": 6}
    a, b = _rows(tmp_path / "seq"), _rows(tmp_path / "par")
    assert a.keys() == b.keys()
    assert all(a[k]["metrics"] == b[k]["metrics"] for k in a)  # bit for bit: same seeds, same thread count
    assert {(r["versions"]["workers"], r["versions"]["threads"]) for r in b.values()} == {("2", "1")}
    assert {(r["versions"]["workers"], r["versions"]["threads"]) for r in a.values()} == {("1", "1")}
    assert len({r["versions"]["host"] for r in b.values()}) == 1


def test_a_killed_worker_is_replaced_and_its_trial_rerun_a_hopeless_one_fails(tmp_path, fresh_plugins):
    rt_core.register_plugin(faulty_plugins, "faulty")  # shipped to the workers as a module name
    cfg, marker = crash_sweep(tmp_path)
    counts = run_sweep(cfg, str(tmp_path / "out"), device="cpu", quiet=True,
                       executor=LocalExecutor(2, 1, max_retries=1))
    rows = {r["plugin"]: r for r in Store(tmp_path / "out").rows()}
    assert marker.exists() and int(marker.read_text()) != os.getpid()  # a worker, not the driver, died
    assert rows["crash_once"]["status"] == "finished"
    assert rows["crash_always"]["status"] == "failed"
    assert rows["crash_always"]["error"] == "worker process died (signal 9) in each of 2 attempts"
    assert counts == {"total": 5, "skipped": 0, "finished": 4, "failed": 1}


def _session_processes(sid: int) -> list[int]:
    """Pids of live (non-zombie) processes in session ``sid``."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(stat.parent.name))
    return pids


@pytest.mark.skipif(not Path("/proc").exists(), reason="reads the process table from /proc")
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_ctrl_c_stops_every_worker_keeps_the_finished_and_a_rerun_resumes(tmp_path, sig):
    cfg = str(tmp_path / "t.toml")
    Path(cfg).write_text(TINY.replace("seeds = [0, 1]", "seeds = [0, 1, 2]"))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "rt_core.cli", "run", cfg, "--out", str(out), "--device", "cpu", "--quiet",
           "--workers", "2", "--threads", "1"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (
            (out / "results.sqlite").exists() and Store(out).count("finished") >= 1):
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    if sig == "SIGINT":
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal sends to the whole foreground group
    else:
        proc.send_signal(signal.SIGTERM)  # what kill and timeout send: to the driver alone
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    kept = Store(out).count("finished")
    assert stderr.strip().splitlines() == [f"interrupted: {kept} finished trials kept; run the same command to resume"]
    assert 1 <= kept < 9 and Store(out).count("running") == 0
    deadline = time.monotonic() + 10  # the resource tracker ends once every pipe to it is closed
    while _session_processes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _session_processes(proc.pid) == []  # no worker outlived the driver
    counts = run_sweep(from_dict(tomllib.loads(Path(cfg).read_text())), str(out), device="cpu", quiet=True,
                       executor=LocalExecutor(2, 1))
    assert counts["skipped"] == kept and counts["finished"] == 9 - kept


@pytest.mark.parametrize(("device", "workers", "threads", "expected"), [
    ("cpu", None, None, (2, 1)), ("cpu", 1, None, (1, 2)), ("cpu", None, 2, (1, 2)), ("cpu", 4, None, (4, 1)),
    ("cpu", 3, 2, (3, 2)), ("cuda", None, None, (1, None)), ("cuda", 2, 1, (2, 1))])
def test_workers_and_threads_defaults(device, workers, threads, expected):
    assert plan_workers(device, workers, threads, cores=2) == expected


def test_bad_workers_and_ray_with_workers_are_one_line_errors(tmp_path, capsys):
    with pytest.raises(RtError, match="at least 1"):
        LocalExecutor(0)
    config = write_tiny(tmp_path / "t.toml")
    assert main(["run", config, "--out", str(tmp_path / "o"), "--executor", "ray", "--workers", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["rt: error: --workers and --threads are options of the local executor; with --executor ray use "
                   "--cpus-per-trial (a Ray task runs torch on that many threads)"]
    assert not (tmp_path / "o").exists()
