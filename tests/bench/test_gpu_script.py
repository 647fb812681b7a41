"""benchmarks/gpu_run.sh, the one-call GPU run: its CPU dry run end to end (slow: minutes on a loaded
2-core machine), and the pieces of its Python half (benchmarks/gpu_run.py) on their own."""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import rt_core
from benchmarks import gpu_run
from rt_core.results.store import Store

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_run.sh"


def _script(*args, env=None, timeout=60):
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **(env or {})})


@pytest.mark.slow
def test_the_dry_run_writes_every_file_the_gpu_run_brings_back(tmp_path):
    out = tmp_path / "out"
    run = _script("--dry-run", env={"OUT": str(out), "RT_GPU_PYTHON": sys.executable}, timeout=900)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert gpu_run.check_out(out) == []  # at most 8 files of at most 16 MiB, plain names, 2 folders down
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == [
        "gpu-study/results.sqlite", "gpu.json", "gpu_run.json", "gpu_run.log", "packed.json"]
    summary = json.loads((out / "gpu_run.json").read_text())
    assert summary["mode"] == "dry-run" and summary["device"] == "cpu" and "no number" in summary["note"]
    assert {"cpu", "cpu_cores", "cuda_visible", "torch_gpu", "nvidia_smi"} <= set(summary["hardware"])
    assert {"python", "torch", "cuda", "rt-toolkit", "rt-benchmarks", "rt-noise"} <= set(summary["versions"])
    steps = {s["step"]: s for s in summary["steps"]}
    assert list(steps) == ["install", "env", "cuda-tests", "bench-gpu", "bench-packed", "study-seed-0",
                           "study-more-seeds", "copy-store"]
    for name, s in steps.items():  # the tiny study's vanilla may not learn: rt run's exit 1, said so
        assert s["exit"] == 0 or (name.startswith("study") and s["status"].startswith("exit 1: every trial ran")), s
        assert 0 <= s["wall_s"] <= s["time_box_s"] + 20
    for name in ("gpu", "packed"):  # checks, not figures: named so, no goal, and the details say it
        blob = json.loads((out / f"{name}.json").read_text())
        assert {"hardware", "versions", "measures", "details"} <= set(blob) and "tiny" in blob["details"]
        assert blob["measures"] and all(m["name"].startswith("tiny check: ") and m["goal"] == "" and m["met"] is None
                                        for m in blob["measures"])
    frame = rt_core.load_results(out / "gpu-study")
    assert set(frame["status"]) == {"finished"} and sorted(frame["seed"].unique()) == [0, 1]
    assert summary["study"]["seeds"] == [0, 1] and summary["study"]["more_seeds"] == "1"
    log = (out / "gpu_run.log").read_text()
    assert "DRY RUN on the CPU" in log and "9 skipped" in log  # the CUDA tests collect, and skip here


def test_the_real_run_without_a_gpu_stops_after_the_environment_and_says_nothing_was_measured(tmp_path):
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible: the real run would run")
    python = tmp_path / "python"  # pip is not run for real: it would reinstall this checkout into the venv
    python.write_text(f'#!/bin/bash\nif [[ "$1 $2" == "-m pip" ]]; then echo "pip $*"; exit 0; fi\n'
                      f'exec {sys.executable} "$@"\n')
    python.chmod(0o755)
    out = tmp_path / "out"
    run = _script(env={"OUT": str(out), "RT_GPU_PYTHON": str(python)}, timeout=300)
    assert run.returncode == 3, run.stdout[-3000:] + run.stderr[-3000:]
    assert "pip -m pip install --no-deps --no-build-isolation --no-index" in run.stdout
    assert sorted(p.name for p in out.iterdir()) == ["gpu_run.json", "gpu_run.log"]
    summary = json.loads((out / "gpu_run.json").read_text())
    assert summary["mode"] == "real" and summary["note"] == "no CUDA GPU was visible: nothing was measured"
    assert [(s["step"], s["status"]) for s in summary["steps"]] == [
        ("install", "ok"), ("env", "ok"), ("cuda-tests", "skipped: no CUDA GPU visible"),
        ("bench", "skipped: no CUDA GPU visible"), ("study", "skipped: no CUDA GPU visible")]


@pytest.mark.parametrize("args, env, message", [
    ([], {"OUT": ""}, "set OUT to a folder"), (["--fast"], {"OUT": "x"}, "usage:"),
    (["--dry-run", "more"], {"OUT": "x"}, "usage:")])
def test_bad_usage_is_exit_2_before_anything_runs(args, env, message, tmp_path):
    run = _script(*args, env={k: str(tmp_path / v) if v else "" for k, v in env.items()})
    assert run.returncode == 2 and message in run.stderr
    assert not (tmp_path / "x").exists()


@pytest.mark.skipif(not shutil.which("shellcheck"), reason="shellcheck not installed")
def test_shellcheck_finds_nothing():
    run = subprocess.run(["shellcheck", str(SCRIPT)], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout


@pytest.mark.parametrize("left, per_seed, most, expected", [
    (300, 40, 100, "1-7"), (45, 40, 100, "1"), (39, 40, 100, ""), (300, 40, 4, "1-3"), (300, 40, 1, ""),
    (-5, 40, 100, ""), (300, 0, 100, "")])
def test_the_seeds_that_fit_in_the_time_left(left, per_seed, most, expected):
    assert gpu_run.seeds(left, per_seed, first=1, most=most) == expected


def test_a_store_with_its_wal_comes_back_as_one_file_that_load_results_reads(tmp_path):
    store = Store(tmp_path / "src")
    for seed in (0, 1):
        store.start(f"v{seed}", "vanilla", 0, seed, {})
        store.finish(f"v{seed}", "finished", {"acc_src": 90.0, "acc_tgt": 60.0}, {}, {})
    store.start("b0", "blur", 1.0, 0, {})  # still running: a sweep stopped by its time box
    assert (tmp_path / "src" / "results.sqlite-wal").exists()  # the writer is still open
    study = gpu_run.copy_store(tmp_path / "src", tmp_path / "dst")
    store.close()
    assert sorted(p.name for p in (tmp_path / "dst").iterdir()) == ["results.sqlite"]
    assert study["trials"] == 3 and study["statuses"] == {"finished": 2, "running": 1} and study["seeds"] == [0, 1]
    mode = sqlite3.connect(tmp_path / "dst" / "results.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "delete"


def test_out_is_checked_against_what_the_device_tool_brings_back(tmp_path):
    for i in range(8):
        (tmp_path / f"f{i}.json").write_text("{}")
    assert gpu_run.check_out(tmp_path) == []
    (tmp_path / "a" / "b" / "c").mkdir(parents=True)
    (tmp_path / "a" / "b" / "c" / "deep.txt").write_text("")
    (tmp_path / "bad name.txt").write_text("")
    problems = gpu_run.check_out(tmp_path)
    assert len(problems) == 3 and problems[0].startswith("10 files, more than 8")
    assert any("more than 2 folders down" in p for p in problems) and any("a name with" in p for p in problems)


def test_the_requirements_are_read_from_the_three_pyproject_files():
    names = gpu_run._requirements()
    assert {"torch", "cvxpy", "tqdm", "torchattacks", "pluggy"} <= set(names)
    assert not {"rt-toolkit", "tomli"} & set(names)
    assert "cvxpy" in gpu_run.USED_BY and "torchattacks" in gpu_run.USED_BY  # neither stops a step
