"""`rt plugins` and `rt plugins --json` from the installed console script."""

import json
import shutil
import subprocess
import sys

import pytest

from rt_core.cli import main

BUILTINS = {"adversarial", "jacobian", "weight_decay", "blur", "rescale", "rotation", "translation"}


def _rt(*args, env=None):
    exe = shutil.which("rt") or f"{sys.executable} -m rt_core.cli"
    return subprocess.run([*exe.split(), *args], capture_output=True, text=True, timeout=120, env=env)


def test_plugins_json_lists_the_seven_builtins():
    out = _rt("plugins", "--json")
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    assert BUILTINS <= {r["name"] for r in rows}
    for r in rows:
        assert {"name", "version", "augmentations", "regularizers"} <= set(r)
    by_name = {r["name"]: r for r in rows}
    assert by_name["blur"]["augmentations"] == ["blur"]
    assert by_name["adversarial"]["regularizers"] == ["adversarial"]


def test_plugins_json_lists_the_installed_template():
    pytest.importorskip("rt_noise", reason="examples/plugin-template is not installed (make test installs it)")
    rows = json.loads(_rt("plugins", "--json").stdout)
    noise = next(r for r in rows if r["name"] == "noise")
    assert noise["augmentations"] == ["gaussian_noise"] and noise["version"] == "0.1.0"


def test_plugins_table(capsys):
    assert main(["plugins"]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].split()[:2] == ["plugin", "version"]
    assert "augmentations: rotation" in text and "regularizers: jacobian" in text


def test_bad_rt_load_plugins_is_one_line_and_exit_2():
    import os

    out = _rt("plugins", env={**os.environ, "RT_LOAD_PLUGINS": "nosuch"})
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "nosuch" in out.stderr
