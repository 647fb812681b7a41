"""Faults inside a sweep: a plugin that raises fails its own trial only; the sweep goes on, the
exit status says so, and the report lists the failure."""

import pytest

import rt_core
from rt_core.cli import main
from rt_core.results.store import Store
from tests.helpers import faulty_plugins
from tests.helpers.tiny import write_tiny

EXPLODE = '[[sweep]]\nplugin = "explode"\nstrengths = [0.5]\n'


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RT_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def faulty(fresh_plugins):
    rt_core.register_plugin(faulty_plugins, "faulty")
    yield
    rt_core.unregister_plugin("faulty")


def test_a_raising_plugin_fails_its_trials_and_the_sweep_goes_on(tmp_path, faulty, capsys):
    cfg = write_tiny(tmp_path / "t.toml", EXPLODE)
    out = tmp_path / "out"
    code = main(["run", cfg, "--out", str(out), "--device", "cpu", "--quiet"])
    assert code == 1
    assert "2 trial(s) failed" in capsys.readouterr().err
    rows = Store(out).rows()
    failed = [r for r in rows if r["status"] == "failed"]
    assert len(rows) == 8 and len(failed) == 2 and {r["plugin"] for r in failed} == {"explode"}
    assert sum(r["status"] == "finished" for r in rows) == 6
    for r in failed:
        assert r["error"] == "ValueError: explode: this plugin is broken on purpose"
        assert "faulty_plugins.py" in r["traceback"] and "raise ValueError" in r["traceback"]
        assert r["metrics"] == {} and r["finished"] >= r["started"]
    assert "explode" in (out / "results.csv").read_text()

    assert main(["report", str(out)]) == 0
    report = (out / "report.md").read_text()
    assert "Failed or diverged trials" in report and "ValueError: explode" in report


def test_a_rerun_retries_failed_trials_and_keeps_finished_ones(tmp_path, faulty):
    cfg = write_tiny(tmp_path / "t.toml", EXPLODE)
    out = tmp_path / "out"
    assert main(["run", cfg, "--out", str(out), "--device", "cpu", "--quiet"]) == 1
    finished = {r["key"]: r["finished"] for r in Store(out).rows() if r["status"] == "finished"}
    assert main(["run", cfg, "--out", str(out), "--device", "cpu", "--quiet"]) == 1
    again = {r["key"]: r["finished"] for r in Store(out).rows() if r["status"] == "finished"}
    assert again == finished  # untouched: not re-run, not rewritten
    assert sum(r["status"] == "failed" for r in Store(out).rows()) == 2


def test_diverged_trials_do_not_fail_the_run(tmp_path):
    cfg = write_tiny(tmp_path / "t.toml")
    text = open(cfg).read().replace("lr = 0.01", "lr = 1e6")
    open(cfg, "w").write(text)
    out = tmp_path / "out"
    assert main(["run", cfg, "--out", str(out), "--device", "cpu", "--quiet"]) == 0
    rows = Store(out).rows()
    assert rows and all(r["status"] == "diverged" and r["epoch"] == 1 for r in rows)
