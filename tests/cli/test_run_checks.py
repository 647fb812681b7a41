"""What `rt run` and `rt theory classify` check beyond the config: a vanilla model that did not learn
is one warning line and exit 1; a classifier option the augmentation does not take, or a value of
the wrong type, is one error line and exit 2."""

import re

import pytest

import rt_core
from rt_core.cli import main
from tests.helpers.theory_plugins import TheoryTestPlugins
from tests.helpers.tiny import TINY


def test_rt_run_warns_in_one_line_and_exits_1_when_a_vanilla_did_not_learn(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RT_CACHE", str(tmp_path / "cache"))
    config = tmp_path / "vanilla.toml"
    config.write_text("sweep = []\n" + TINY.split("[[sweep]]")[0].replace("seeds = [0, 1]", "seeds = [0]"))
    assert main(["run", str(config), "--out", str(tmp_path / "exp"), "--device", "cpu", "--quiet"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("warning: the vanilla model of seed 0 did not learn (acc_src "), err
    assert "usable above 20%" in err[0] and "left out of the report" in err[0]
    df = rt_core.load_results(tmp_path / "exp")
    assert list(df["status"]) == ["finished"] and not df["usable"].any()


@pytest.fixture
def theory_ops():
    rt_core.register_plugin(TheoryTestPlugins(), "theory-test-ops")
    yield
    rt_core.unregister_plugin("theory-test-ops")


@pytest.mark.parametrize("name,option,match", [
    ("blur", "foo=1", r"blur\.options\.foo: unknown option of plugin 'blur'; its options: per_sample"),
    ("sharpen", "foo=1", r"sharpen\.options\.foo: unknown option of plugin 'sharpen'; its options: \(none\)"),
    ("blur", "per_sample=maybe", "per_sample.*'maybe'"),
    ("jpeg_like", "step=fine", "step.*'fine'"),
])
def test_a_bad_classifier_option_is_one_line_and_exit_2(theory_ops, capsys, name, option, match):
    assert main(["theory", "classify", name, "--option", option]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rt: error: ") and re.search(match, err[0]), err
