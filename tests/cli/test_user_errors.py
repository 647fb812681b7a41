"""What a new user hits first: each mistake is one line on stderr with the right exit status,
and nothing is written or lost. One test per row of docs/reliability.md's tables
(Ctrl-C: tests/experiment/test_sweep.py)."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rt_core.cli import main
from tests.helpers.tiny import TINY, TINY_RUN_EXIT

ROOT = Path(__file__).resolve().parents[2]


def _snapshot(path):
    if not path.exists():
        return None
    return {p.relative_to(path): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def _run_bad(tmp_path, capsys, text, match, out=None, flags=()):
    config = tmp_path / "c.toml"
    config.write_text(text)
    out = out or tmp_path / "out"
    before = _snapshot(out)
    code = main(["run", str(config), "--out", str(out), "--device", "cpu", "--quiet", *flags])
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("rt: error: "), err
    assert re.search(match, err), err
    assert _snapshot(out) == before
    return err


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RT_CACHE", str(tmp_path / "cache"))


ADV = '[[sweep]]\nplugin = "adversarial"\nstrengths = [0.01]\noptions = { stepz = 3 }\n'


def test_plugin_option_typo_names_the_key_and_the_real_options(tmp_path, capsys):
    _run_bad(tmp_path, capsys, TINY + ADV,
             r"sweep\[2\]\.options\.stepz: unknown option of plugin 'adversarial'; its options: alpha, norm, "
             r"random_start, steps")


def test_plugin_option_bad_value_is_caught_before_any_trial(tmp_path, capsys):
    _run_bad(tmp_path, capsys, TINY + ADV.replace("stepz = 3", 'norm = "l3"'),
             r"sweep\[2\]\.options: plugin 'adversarial' refused .*unknown norm 'l3'")


def test_dataset_option_typo(tmp_path, capsys):
    _run_bad(tmp_path, capsys, TINY.replace("distractors = 0.0", "distractorz = 0.0"),
             r"source\.options\.distractorz: unknown option of dataset 'printed_digits'; its options: .*distractors")


def test_model_option_typo(tmp_path, capsys):
    _run_bad(tmp_path, capsys, TINY.replace("hidden = 8", "hiden = 8"),
             r"model\.options\.hiden: unknown option of model 'cifar_cnn'; its options: .*hidden")


@pytest.mark.parametrize("section", ["source", "target", "model"])
def test_a_missing_section_is_refused(tmp_path, capsys, section):
    text = re.sub(rf"\[{section}\]\n[^\[]*", "", TINY)
    _run_bad(tmp_path, capsys, text, rf"no \[{section}\] section; add one")


def test_no_sweep_is_refused_and_an_explicit_empty_sweep_runs_vanilla_only(tmp_path, capsys):
    text = TINY[:TINY.index("[[sweep]]")]
    _run_bad(tmp_path, capsys, text, r"no \[\[sweep\]\] tables, so only vanilla trials would run.*sweep = \[\]")
    from rt_core.experiment.loading import load_config

    explicit = tmp_path / "v.toml"
    explicit.write_text("sweep = []\n" + text)
    assert load_config(explicit).sweep == []


def test_shape_mismatch_is_caught_by_one_forward_pass_before_the_store(tmp_path, capsys):
    _run_bad(tmp_path, capsys, TINY.replace("image_size = 8", "image_size = 16"),
             r"source: model 'cifar_cnn' .* cannot take source images of shape \(3, 8, 8\)")


def test_out_is_a_file(tmp_path, capsys):
    out = tmp_path / "results.txt"
    out.write_text("precious")
    _run_bad(tmp_path, capsys, TINY, r"--out .*results\.txt is a file, not a directory", out=out)
    assert out.read_text() == "precious"


def test_out_not_writable(tmp_path, capsys):
    if os.geteuid() == 0:  # root writes anywhere a permission allows nothing: use a kernel folder
        if not Path("/sys").is_dir():
            pytest.skip("no /sys")
        out = Path("/sys/rt-test-out")
    else:
        (tmp_path / "locked").mkdir(mode=0o555)
        out = tmp_path / "locked" / "out"
    _run_bad(tmp_path, capsys, TINY, r"--out .*: cannot write", out=out)


def test_dataset_root_missing_names_the_key(tmp_path, capsys):
    text = TINY.replace('dataset = "handwritten_digits"\noptions = { size = 8 }', 'dataset = "cifar10"')
    _run_bad(tmp_path, capsys, text, r"target\.root: dataset 'cifar10' is read from a folder you give; set root")


def test_dataset_root_that_does_not_exist_names_the_key(tmp_path, capsys):
    text = TINY.replace('dataset = "handwritten_digits"\noptions = { size = 8 }',
                        f'dataset = "cifar10"\nroot = "{tmp_path / "nope"}"')
    _run_bad(tmp_path, capsys, text, r"target\.root: folder .*nope' does not exist")


def test_image_folder_with_class_folders_but_no_images(tmp_path, capsys):
    for split in ("train", "test"):
        for cls in ("cat", "dog"):
            (tmp_path / "imgs" / split / cls).mkdir(parents=True)
    text = TINY.replace('dataset = "handwritten_digits"\noptions = { size = 8 }',
                        f'dataset = "image_folder"\nroot = "{tmp_path / "imgs"}"\noptions = {{ size = 8 }}')
    _run_bad(tmp_path, capsys, text, r"\[target\] image folder .* holds no images in its class folders .*; put images")


def _tiny_store(tmp_path):
    config = tmp_path / "tiny.toml"
    config.write_text(TINY.replace("seeds = [0, 1]", "seeds = [0]").replace("[1e-3]", "[]")
                      .replace("strengths = [1.0]", "strengths = [0.5]"))
    out = tmp_path / "res"
    assert main(["run", str(config), "--out", str(out), "--device", "cpu", "--quiet"]) == TINY_RUN_EXIT
    return out


def test_corrupt_store_points_at_results_csv(tmp_path, capsys):
    out = _tiny_store(tmp_path)
    capsys.readouterr()
    (out / "results.sqlite").write_bytes(b"garbage" * 100)
    for name in ("results.sqlite-wal", "results.sqlite-shm"):
        (out / name).unlink(missing_ok=True)
    csv_before = (out / "results.csv").read_text()
    assert main(["report", str(out), "--out", str(tmp_path / "rep")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "results.csv beside it still holds every row" in err, err
    assert (out / "results.csv").read_text() == csv_before and csv_before.count("\n") == 3


def test_report_from_read_only_results_writes_nothing_there(tmp_path, capsys):
    out = _tiny_store(tmp_path)
    before = _snapshot(out)
    os.chmod(out, 0o555)
    try:
        assert main(["report", str(out), "--out", str(tmp_path / "rep")]) == 0, capsys.readouterr().err
    finally:
        os.chmod(out, 0o755)
    assert _snapshot(out) == before and (tmp_path / "rep" / "report.md").is_file()


def _fake_dist(site: Path, dist: str, entry: str, module: str, body: str) -> None:
    info = site / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[rt]\n{entry} = {module}\n")
    (site / f"{module}.py").write_text(body)


def _rt(site: Path, *args, cwd=None):
    env = {**os.environ, "PYTHONPATH": f"{site}{os.pathsep}{ROOT}"}
    env.pop("RT_LOAD_PLUGINS", None)
    return subprocess.run([sys.executable, "-m", "rt_core.cli", *args], capture_output=True, text=True,
                          env=env, cwd=cwd or ROOT, timeout=300)


def test_a_plugin_that_fails_to_import_is_named_and_skipped(tmp_path):
    site = tmp_path / "site"
    _fake_dist(site, "rt-broken", "broken", "rt_broken_mod", "import missing_dependency_xyz\n")
    res = _rt(site, "plugins")
    assert res.returncode == 0, res.stderr
    warning = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(warning) == 1 and "plugin 'broken' from rt-broken 1.0 failed to import (ModuleNotFoundError" \
        in warning[0] and "RT_LOAD_PLUGINS" in warning[0] and "pip uninstall rt-broken" in warning[0], res.stderr
    assert "blur" in res.stdout and "not loaded: plugin 'broken'" in res.stdout
    config = tmp_path / "c.toml"
    config.write_text(TINY + '[[sweep]]\nplugin = "broken"\nstrengths = [1.0]\n')
    res = _rt(site, "run", str(config), "--out", str(tmp_path / "out"))
    assert res.returncode == 2 and "sweep[2].plugin: plugin 'broken' from rt-broken" in res.stderr.splitlines()[-1]
    assert not (tmp_path / "out").exists()


def test_two_distributions_with_the_same_plugin_name(tmp_path):
    site = tmp_path / "site"
    body = "from rt_core import hookimpl\n"
    _fake_dist(site, "shiny-a", "shiny", "shiny_a", body)
    _fake_dist(site, "shiny-b", "shiny", "shiny_b", body)
    res = _rt(site, "plugins")
    assert res.returncode == 2
    line = res.stderr.strip()
    assert "\n" not in line and re.search(r"two installed distributions declare the rt plugin 'shiny': shiny-. 1\.0 "
                                          r".* and shiny-. 1\.0 .*; uninstall one", line), line
