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


PREDICTORS = {"logme", "leep", "nce", "hscore", "transrate", "gbc"}


def test_plugins_json_and_table_list_the_six_predictors_with_their_direction_and_needs(capsys):
    rows = {r["name"]: r for r in json.loads(_rt("plugins", "--json").stdout)}
    for name in PREDICTORS:
        assert rows[name]["predictors"] == [name] and rows[name]["descriptions"][name]
        assert rows[name]["predictor_flags"][name]["higher_is_better"] is True
    assert rows["leep"]["predictor_flags"]["leep"]["needs"] == ["source_logits"]
    assert rows["logme"]["predictor_flags"]["logme"]["needs"] == []
    assert main(["plugins"]) == 0
    text = capsys.readouterr().out
    assert "predictors: logme" in text and "predictors: gbc" in text
    leep_line = next(line for line in text.splitlines() if line.strip().startswith("leep: "))
    assert leep_line.endswith("(higher is better; needs source_logits)")
    logme_line = next(line for line in text.splitlines() if line.strip().startswith("logme: "))
    assert logme_line.endswith("(higher is better)")


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


def test_every_command_comes_from_a_plugin_through_rt_register_commands():
    from rt_core.host.commands import commands
    from rt_core.host.manager import get_plugin_manager

    origin = {name: cmd.plugin for name, cmd in commands(get_plugin_manager()).items()}
    assert origin["run"] == origin["plugins"] == origin["demo"] == "rt_core.cli"
    assert origin["theory"] == origin["report"] == origin["plan"] == origin["headroom"] == "theory"
    assert origin["bench"] == "bench"
    rows = json.loads(_rt("plugins", "--json").stdout)
    assert next(r for r in rows if r["name"] == "theory")["commands"] == ["headroom", "plan", "report", "theory"]


def test_the_host_imports_no_guest_by_name():
    from pathlib import Path

    for path in Path(__file__).resolve().parents[2].joinpath("rt_core").rglob("*.py"):
        text = path.read_text()
        for guest in ("theory", "benchmarks", "plugins."):
            assert f"import {guest}" not in text and f"from {guest}" not in text, f"{path} names {guest}"


def test_a_plugin_command_runs_and_a_duplicate_name_names_both_plugins(rt_plugin, capsys):
    from rt_core import hookimpl

    def configure(p):
        p.add_argument("--times", type=int, default=1)

    def shout(args):
        """Print HEY."""
        print("HEY" * args.times)
        return 3

    class Shout:
        @hookimpl
        def rt_register_commands(self, cli):
            cli.command("shout", configure)(shout)

    class Clash:
        @hookimpl
        def rt_register_commands(self, cli):
            cli.command("run", configure)(shout)

    rt_plugin(Shout(), "shout-plugin")
    assert main(["shout", "--times", "2"]) == 3 and capsys.readouterr().out == "HEYHEY\n"
    rt_plugin(Clash(), "clash-plugin")
    assert main(["plugins"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "'run' is registered twice" in err
    assert "'clash-plugin'" in err and "'rt_core.cli'" in err


def test_rt_write_report_is_how_the_host_gets_a_report(rt_plugin, tmp_path):
    import rt_core
    from rt_core import hookimpl

    calls = []

    class Reporter:
        @hookimpl(tryfirst=True)
        def rt_write_report(self, directory, out):
            calls.append((directory, out))
            return tmp_path / "report.md"

    rt_plugin(Reporter(), "reporter")
    assert rt_core.write_report("somewhere", "elsewhere") == tmp_path / "report.md"
    assert calls == [("somewhere", "elsewhere")]


def test_without_a_report_plugin_write_report_is_one_clear_error(fresh_plugins):
    import rt_core
    from rt_core import PluginError

    fresh_plugins.setenv("RT_LOAD_PLUGINS", "blur")
    with pytest.raises(PluginError, match="no loaded plugin writes reports"):
        rt_core.write_report("anywhere")


def test_seeds_option_replaces_the_config_seeds():
    from rt_core import RtError
    from rt_core.cli import load_run_config, parse_seeds

    assert parse_seeds("5-9") == [5, 6, 7, 8, 9] and parse_seeds("3, 1,2-3") == [1, 2, 3]
    assert load_run_config("quickstart", "10-14").seeds == [10, 11, 12, 13, 14]
    assert load_run_config("quickstart", None).seeds == load_run_config("quickstart", None).seeds
    with pytest.raises(RtError, match="--seeds 'a-b'"):
        parse_seeds("a-b")
