"""The notebook API: docs/notebook.md's example is executed as written, and `rt demo` runs from outside
the checkout with the package's own data."""

import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_notebook_page_runs_as_written(tmp_path, monkeypatch):
    monkeypatch.setenv("RT_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    code = "\n".join(re.findall(r"```python\n(.*?)```", (ROOT / "docs" / "notebook.md").read_text(), re.S))
    namespace: dict = {}
    exec(compile(code, "docs/notebook.md", "exec"), namespace)  # the documented example, verbatim
    df = namespace["df"]
    assert list(df.plugin) == ["blur", "blur", "vanilla"] and (df.status == "finished").all()
    vanilla = df[df.plugin == "vanilla"].iloc[0]
    for _, r in df[df.plugin == "blur"].iterrows():  # usable: the trial and its vanilla beat chance + 10
        assert r.usable == (r.acc_src > 10 + 10 and vanilla.acc_src > 10 + 10)
        if not r.usable:  # the tiny models stay at chance: no deltas (tests/results/test_metrics.py has both)
            assert pd.isna(r.delta_acc_src) and pd.isna(r.rel_dt)
            continue
        assert r.delta_acc_src == pytest.approx(r.acc_src - vanilla.acc_src)
        assert r.rel_dt == pytest.approx((r.acc_tgt - r.acc_src) - (vanilla.acc_tgt - vanilla.acc_src))
    assert namespace["report"].is_file() and (tmp_path / "runs/notebook-report/report.html").is_file()
    back = pd.read_parquet(namespace["table"])
    pd.testing.assert_frame_equal(back, namespace["same"], check_dtype=False)


def test_rt_export_csv(tmp_path, monkeypatch, capsys):
    from rt_core.cli import main
    from tests.helpers.tiny import TINY_RUN_EXIT, write_tiny

    monkeypatch.setenv("RT_CACHE", str(tmp_path / "cache"))
    config = write_tiny(tmp_path / "t.toml")
    assert main(["run", config, "--out", str(tmp_path / "r"), "--device", "cpu", "--quiet"]) == TINY_RUN_EXIT
    assert main(["export", str(tmp_path / "r"), "--out", str(tmp_path / "t.csv")]) == 0
    table = pd.read_csv(tmp_path / "t.csv")
    assert len(table) == 6 and {"usable", "delta_acc_src", "delta_acc_tgt", "rel_dt"} <= set(table.columns)


def test_rt_demo_from_outside_the_checkout(tmp_path):
    tiny = tmp_path / "tiny.toml"
    from tests.helpers.tiny import TINY

    one_sweep = TINY.replace('[[sweep]]\nplugin = "weight_decay"\nstrengths = [1e-3]\n', "")
    assert one_sweep != TINY
    tiny.write_text(one_sweep.replace("seeds = [0, 1]", "seeds = [0]"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RT_CACHE": str(tmp_path / "cache")}
    res = subprocess.run([sys.executable, "-m", "rt_core.cli", "demo", "--config", str(tiny), "--out", "demo",
                          "--device", "cpu"], cwd=elsewhere, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert (elsewhere / "demo" / "report.md").is_file()
    from rt_core import examples

    assert examples.resolve(None) == examples.HERE / "quickstart.toml" and examples.resolve(None).is_file()


def test_the_wheel_ships_the_example_configs(tmp_path):
    import shutil

    src = tmp_path / "src"  # a copy: building writes egg-info into the source tree
    for name in ("rt_core", "plugins", "theory"):
        shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                          "-w", str(tmp_path), str(src)], capture_output=True, text=True, timeout=300)
    if res.returncode != 0:
        pytest.skip(f"cannot build a wheel here: {res.stderr.strip().splitlines()[-1:]}")
    wheel = next(tmp_path.glob("rt_toolkit-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    assert {"rt_core/examples/quickstart.toml", "rt_core/examples/study.toml", "rt_core/examples/gpu_study.toml",
            "rt_core/examples/study_whiten.toml", "rt_core/examples/study_dense1.toml",
            "rt_core/examples/published/salman2020_cifar10.csv"} <= names
