"""The Ray executor on a local 2-CPU instance: same metrics as the local executor, worker deaths
retried (bounded) or stored as failed, and a clear error without Ray installed."""

import sys
from pathlib import Path

import pytest
import tomllib

import rt_core
from rt_core import RtError
from rt_core.experiment.executors import LocalExecutor
from rt_core.experiment.loading import from_dict
from rt_core.experiment.sweep import run_sweep
from rt_core.results.store import Store
from tests.helpers import faulty_plugins
from tests.helpers.tiny import crash_sweep, write_tiny

ray = pytest.importorskip("ray", reason="the ray extra is installed by `make test`")
from rt_core.experiment.ray_executor import RayExecutor  # noqa: E402

QUICKSTART = Path(__file__).resolve().parents[2] / "examples" / "digits_full_probe.toml"


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RT_CACHE", str(tmp_path / "cache"))


def _metrics(out):
    return {(r["plugin"], r["strength"], r["seed"]): r["metrics"] for r in Store(out).rows()}


def _smallest_quickstart_sweep() -> dict:
    """The earlier quickstart config (digits_full_probe) with one seed, the first strength of its
    translation block and one epoch: two trials of the real data and model, a few seconds each."""
    with open(QUICKSTART, "rb") as fh:
        data = tomllib.load(fh)
    block = next(s for s in data["sweep"] if s["plugin"] == "translation")
    return {**data, "seeds": data["seeds"][:1], "sweep": [{**block, "strengths": block["strengths"][:1]}],
            "train": {**data["train"], "epochs": 1}}


@pytest.fixture
def one_thread():
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.slow  # Ray's start-up dominates: make test-slow runs it
def test_quickstart_sweep_on_local_ray_matches_the_local_executor(tmp_path, one_thread):
    # both on one torch thread: CPU float sums depend on the thread count, and training amplifies that
    cfg = from_dict(_smallest_quickstart_sweep())
    local = run_sweep(cfg, str(tmp_path / "local"), device="cpu", quiet=True, executor=LocalExecutor(1, 1))
    remote = run_sweep(cfg, str(tmp_path / "ray"), device="cpu", quiet=True,
                       executor=RayExecutor(num_cpus=2, cpus_per_trial=1))
    trials = 1 + len(cfg.sweep[0].strengths)
    assert local == remote == {"total": trials, "skipped": 0, "finished": trials}
    a, b = _metrics(tmp_path / "local"), _metrics(tmp_path / "ray")
    assert a.keys() == b.keys()
    for key in a:
        assert a[key].keys() == b[key].keys()
        for name in a[key]:
            assert b[key][name] == pytest.approx(a[key][name], rel=1e-4, abs=1e-4), (key, name)
    assert {r["versions"]["threads"] for r in Store(tmp_path / "ray").rows()} == {"1"}


def test_a_dead_worker_is_retried_then_a_hopeless_trial_is_marked_failed(tmp_path, fresh_plugins):
    rt_core.register_plugin(faulty_plugins, "faulty")
    cfg, marker = crash_sweep(tmp_path)
    counts = run_sweep(cfg, str(tmp_path / "out"), device="cpu", quiet=True,
                       executor=RayExecutor(num_cpus=2, max_retries=1))
    rows = {r["plugin"]: r for r in Store(tmp_path / "out").rows()}
    assert marker.exists()  # the first attempt of crash_once really died
    assert rows["crash_once"]["status"] == "finished"
    assert rows["crash_always"]["status"] == "failed"
    assert rows["crash_always"]["error"].startswith("Ray task failed after at most 1 retries")
    assert counts == {"total": 5, "skipped": 0, "finished": 4, "failed": 1}
    assert all(rows[p]["status"] == "finished" for p in ("vanilla", "blur", "weight_decay"))


def test_without_ray_installed_the_error_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(RtError, match=r"needs Ray, which is not installed; install it with .*rt-toolkit\[ray\]"):
        RayExecutor()


@pytest.mark.slow  # Ray's start-up dominates: make test-slow runs it
def test_a_pack_runs_as_one_ray_task_with_the_local_packed_metrics(tmp_path, one_thread):
    cfg = from_dict(tomllib.loads(Path(write_tiny(tmp_path / "t.toml")).read_text()))
    local = run_sweep(cfg, str(tmp_path / "local"), executor=LocalExecutor(), device="cpu", quiet=True, pack=6)
    remote = run_sweep(cfg, str(tmp_path / "ray"), device="cpu", quiet=True, pack=6,
                       executor=RayExecutor(num_cpus=2, cpus_per_trial=1))
    assert local == remote == {"total": 6, "skipped": 0, "finished": 6}
    a, b = _metrics(tmp_path / "local"), _metrics(tmp_path / "ray")
    assert a.keys() == b.keys() and all(b[k] == pytest.approx(a[k], rel=1e-4, abs=1e-4) for k in a)
    assert {r["versions"]["packed"] for r in Store(tmp_path / "ray").rows()} == {"grouped x6"}
