"""What a new user hits first: each mistake is one line on stderr with the right exit status,
and nothing is written or lost. One test per row of docs/reliability.md's tables
(Ctrl-C: tests/experiment/test_sweep.py)."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from rt_core.cli import main
from tests.helpers.readonly import read_only
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


def test_whitening_a_model_without_a_top_level_conv_is_refused_before_the_store(tmp_path, capsys, rt_plugin):
    import torch

    from rt_core import ModelSpec, SplitModel, hookimpl

    def dense(num_classes=10, image_size=8):
        return SplitModel(torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(3 * image_size ** 2, 8),
                                              torch.nn.ReLU()), torch.nn.Linear(8, num_classes))

    class Dense:
        @hookimpl
        def rt_register_models(self, register):
            register(ModelSpec("dense_only", dense))

    rt_plugin(Dense(), "dense-only")
    text = TINY.replace('name = "cifar_cnn"\noptions = { width = 0.25, hidden = 8, image_size = 8 }',
                        'name = "dense_only"\noptions = { image_size = 8 }')
    text = text.replace("weight_decay = 0.0\n", "weight_decay = 0.0\nwhiten_first_conv = true\n", 1)
    assert 'name = "dense_only"' in text and "whiten_first_conv" in text
    _run_bad(tmp_path, capsys, text,
             r"train\.whiten_first_conv: the model's features have no Conv2d among their top-level layers; "
             r"set whiten_first_conv = false")


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
    config.write_text(TINY.replace("seeds = [0, 1]", "seeds = [0]").split('[[sweep]]\nplugin = "weight_decay"')[0]
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


# Values on the command line, imported tables, names and files (the bad inputs docs/reliability.md lists):
# each one line, exit 2, nothing written.

def _one_line(capsys, code, match):
    err = capsys.readouterr().err.strip()
    assert code == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("rt: error: "), err
    assert re.search(match, err), err


HEADER = "plugin,strength,seed,acc_src,acc_tgt\n"
GOOD_ROWS = "vanilla,0,0,90,60\nblur,1,0,80,61\nblur,2,0,70,62\nvanilla,0,1,90,60\nblur,1,1,80,62\nblur,2,1,70,63\n"

FLAGS = {
    "classify --grid 0": (["theory", "classify", "blur", "--grid", "0"], r"--grid must be an integer >= 4, got 0"),
    "classify --samples 0": (["theory", "classify", "blur", "--samples", "0"], r"--samples must be an integer >= 1"),
    "classify --strength nan": (["theory", "classify", "blur", "--strength", "nan"],
                                r"--strength must be a finite number, got nan"),
    "report --margin nan": (["report", "--import", "{csv}", "--out", "{out}", "--margin", "nan"],
                            r"--margin must be a finite number > 0, got nan"),
    "report --margin -1": (["report", "--import", "{csv}", "--out", "{out}", "--margin", "-1"],
                           r"--margin must be > 0, got -1"),
    "report --classes -3": (["report", "--import", "{csv}", "--out", "{out}", "--classes", "-3"],
                            r"--classes must be an integer >= 2, got -3"),
    "report --out empty": (["report", "--import", "{csv}", "--out", ""], r"--out is empty"),
    "plan --effect nan": (["plan", "{out}", "--effect", "nan"], r"--effect must be a finite number > 0"),
    "plan --power 1": (["plan", "{out}", "--power", "1"], r"--power must be in \(0, 1\), got 1"),
    "plan --only-seeds x": (["plan", "{out}", "--only-seeds", "x"],
                            r"--only-seeds 'x': use integers like 5,6,7 or a range like 5-9"),
    "report --only-seeds with --import": (["report", "--import", "{csv}", "--out", "{out}", "--only-seeds", "0"],
                                          r"--only-seeds reads a store's seeds; filter the CSV itself for --import"),
    "export --out empty": (["export", "{out}", "--out", ""], r"--out is empty"),
    "demo --out empty": (["demo", "--out", ""], r"--out is empty"),
}


@pytest.mark.parametrize("case", list(FLAGS))
def test_a_bad_command_line_value_is_one_line_and_writes_nothing(case, tmp_path, capsys):
    csv = tmp_path / "t.csv"
    csv.write_text(HEADER + GOOD_ROWS)
    args, match = FLAGS[case]
    before = _snapshot(tmp_path)
    _one_line(capsys, main([a.format(csv=csv, out=tmp_path / "out") for a in args]), match)
    assert _snapshot(tmp_path) == before


IMPORTS = {
    "accuracy 1e300": (HEADER + "vanilla,0,0,1e300,60\n", r"t\.csv:2 acc_src: must be in \[0, 100\], got 1e\+300"),
    "accuracy above 100": (HEADER + "vanilla,0,0,101,60\n", r"t\.csv:2 acc_src: must be in \[0, 100\], got 101"),
    "accuracy below 0": (HEADER + "vanilla,0,0,90,-1\n", r"t\.csv:2 acc_tgt: must be in \[0, 100\], got -1"),
    "accuracy nan": (HEADER + "vanilla,0,0,nan,60\n", r"t\.csv:2 acc_src: 'nan' is not a number"),
    "an empty accuracy": (HEADER + "vanilla,0,0,,60\n", r"t\.csv:2: acc_src is empty in a finished row"),
    "an empty seed": (HEADER + "vanilla,0,,90,60\n", r"t\.csv:2: column seed is empty"),
    "a short row": (HEADER + "vanilla,0,0,90\n", r"t\.csv:2: a row of fewer cells than the header's"),
    "a long row": (HEADER + "vanilla,0,0,90,60,7\n", r"t\.csv:2: a row of more cells than the header's"),
    "invalid UTF-8": (HEADER.encode() + b"vanilla,0,0,9\xff,60\n", r"t\.csv is not UTF-8 text"),
    "header only": (HEADER, r"t\.csv has a header but no rows"),
    "seed 1.7": (HEADER + "vanilla,0,1.7,90,60\n", r"t\.csv:2 seed: '1\.7' is not a whole number"),
    "a negative seed": (HEADER + "vanilla,0,-2,90,60\n", r"t\.csv:2 seed: must be an integer in \[0, "),
    "a duplicate row": (HEADER + GOOD_ROWS + "blur,1,0,80,61\n",
                        r"t\.csv: plugin 'blur' strength 1 seed 0 is in data rows 2 and 7; give each trial once"),
    "a missing column": ("plugin,strength,seed,acc_src\nvanilla,0,0,90\n", r"t\.csv lacks column\(s\) acc_tgt"),
}


@pytest.mark.parametrize("case", list(IMPORTS))
def test_a_bad_imported_table_is_one_line_and_writes_nothing(case, tmp_path, capsys):
    data, match = IMPORTS[case]
    csv = tmp_path / "t.csv"
    csv.write_bytes(data if isinstance(data, bytes) else data.encode())
    _one_line(capsys, main(["report", "--import", str(csv), "--out", str(tmp_path / "rep")]), match)
    assert not (tmp_path / "rep").exists()


def test_an_imported_table_with_a_byte_order_mark_is_read(tmp_path):
    csv = tmp_path / "excel.csv"
    csv.write_bytes(b"\xef\xbb\xbf" + (HEADER + GOOD_ROWS).encode())
    assert main(["report", "--import", str(csv), "--out", str(tmp_path / "rep")]) == 0
    verdicts = json.loads((tmp_path / "rep" / "verdicts.json").read_text())
    assert [v["plugin"] for v in verdicts["plugins"]] == ["blur"]


HOSTILE = ("../../escaped", "<img src=x onerror=alert(1)>")


def test_imported_names_are_data_never_paths_or_markup(tmp_path):
    folder = tmp_path / "a" / "b"
    folder.mkdir(parents=True)
    lines = [f'"{name}",{s},{seed},{90 - 10 * s},{60 + s + seed}' for name in HOSTILE for seed in range(3)
             for s in range(3)]
    csv = folder / "h.csv"
    csv.write_text(HEADER + "\n".join(lines) + "\n")
    out = folder / "out"
    before = set(tmp_path.rglob("*"))
    assert main(["report", "--import", str(csv), "--out", str(out)]) == 0
    written = set(tmp_path.rglob("*")) - before
    assert written and all(p == out or out in p.parents for p in written), sorted(map(str, written))
    assert all(p.parent == out / "figures" for p in (out / "figures").rglob("*"))
    html = (out / "report.html").read_text()
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert {v["plugin"] for v in json.loads((out / "verdicts.json").read_text())["plugins"]} == set(HOSTILE)


MARKDOWN_HOSTILE = ("<img src=x onerror=alert(1)>", "a|b", "../../x", "*em*_u_`tick`", "[link](http://e.x)",
                    "a\\|b&lt;")


def test_report_md_escapes_every_name_from_data(tmp_path):
    """report.md read by a Markdown renderer that passes raw HTML through (as many viewers do) shows
    hostile names as text: no tag, no link, no emphasis, and every table keeps its column count."""
    import csv as csv_module

    from markdown_it import MarkdownIt

    csv = tmp_path / "h.csv"
    with open(csv, "w", newline="") as fh:
        csv_module.writer(fh).writerows([HEADER.strip().split(","), *[
            (name, s, seed, 90 - 10 * s, 60 + s + seed) for name in MARKDOWN_HOSTILE for seed in range(3)
            for s in range(3)]])
    assert main(["report", "--import", str(csv), "--out", str(tmp_path / "out")]) == 0
    md = (tmp_path / "out" / "report.md").read_text()
    assert not re.search(r"(?<!\\)<img|(?<!\\)\]\(http", md)  # each one escaped: \<img, \](http
    html = MarkdownIt("commonmark", {"html": True}).enable("table").render(md)
    assert "<img src=x" not in html and "<a href" not in html and "<code>tick" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html and "a|b" in html and "[link](http://e.x)" in html
    assert "a\\|b&amp;lt;" in html
    for table in html.split("<table>")[1:]:
        rows = table.split("</table>")[0].split("</tr>")[:-1]
        header = len(re.findall(r"<th[ >]", rows[0]))
        assert all(len(re.findall(r"<td[ >]", row)) == header for row in rows[1:]), table


def _table_store(folder):
    from rt_core.reporting import Store

    store = Store(folder)
    store.start("v", "vanilla", 0.0, 0, {})
    store.finish("v", "finished", {"acc_src": 90.0, "acc_tgt": 60.0}, {}, {})
    store.close()
    return folder


USERS_FILES = {"report.md": b"# my notes\n", "report.html": b"<html>mine</html>", "verdicts.json": b'{"mine": 1}',
               "figures/blur.png": None, "figures/rel_dt_vs_strength.png": None}


@pytest.mark.parametrize("name", list(USERS_FILES))
def test_a_report_never_overwrites_a_file_rt_did_not_write(name, tmp_path, capsys):
    import matplotlib.pyplot as plt

    out = tmp_path / "out"
    (out / "figures").mkdir(parents=True)
    if USERS_FILES[name] is None:  # the user's own Matplotlib figure, by a name the report draws
        plt.figure().savefig(out / name)
        plt.close("all")
    else:
        (out / name).write_bytes(USERS_FILES[name])
    csv = tmp_path / "t.csv"
    csv.write_text(HEADER + GOOD_ROWS)
    before = _snapshot(out)
    code = main(["report", "--import", str(csv), "--out", str(out)])
    _one_line(capsys, code, rf"{re.escape(str(out / name))} is a file rt did not write; rt replaces only files it "
                            r"wrote, never yours: move it away or give another --out")
    assert _snapshot(out) == before


def test_rt_demo_refuses_a_users_report_file_before_it_runs_a_trial(tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.md").write_text("# my notes\n")
    code = main(["demo", "--out", str(out)])
    _one_line(capsys, code, rf"{re.escape(str(out / 'report.md'))} is a file rt did not write")
    assert sorted(p.name for p in out.iterdir()) == ["report.md"]  # no store, no trial


def test_a_report_rt_wrote_is_rewritten_and_so_are_the_committed_ones(tmp_path, capsys):
    from rt_core.reporting import is_ours

    csv = tmp_path / "t.csv"
    csv.write_text(HEADER + GOOD_ROWS)
    for _ in range(2):
        assert main(["report", "--import", str(csv), "--out", str(tmp_path / "out")]) == 0, capsys.readouterr().err
    mine = [tmp_path / "out" / n for n in ("report.md", "report.html", "verdicts.json", "figures/blur.png")]
    committed = [p for folder in (ROOT / "docs" / "results").iterdir() if (folder / "report.md").is_file()
                 for p in (folder / "report.md", folder / "report.html", folder / "verdicts.json",
                           *(folder / "figures").glob("*.png"))]
    assert len(committed) > 20 and [p for p in mine + committed if not is_ours(p)] == []


@pytest.mark.parametrize("target", ["results_table.csv", "mine.csv", "mine.parquet"])
def test_export_never_overwrites_a_file_rt_did_not_write(target, tmp_path, capsys):
    folder = _table_store(tmp_path / "store")
    path = (folder if target == "results_table.csv" else tmp_path) / target
    path.write_text("name,score\nmine,1\n")
    flags = [] if target == "results_table.csv" else ["--out", str(path)]
    code = main(["export", str(folder), *flags, "--format", path.suffix[1:]])
    _one_line(capsys, code, rf"{re.escape(str(path))} is a file rt did not write; rt replaces only files it wrote")
    assert path.read_text() == "name,score\nmine,1\n"
    path.unlink()
    for _ in range(2):  # rt's own export is replaced
        assert main(["export", str(folder), *flags, "--format", path.suffix[1:]]) == 0, capsys.readouterr().err


def _fresh_domains(monkeypatch):
    from rt_core.experiment import parts

    monkeypatch.setattr(parts, "_DOMAINS", {})


def test_rt_cache_that_is_a_file_is_one_line(tmp_path, monkeypatch, capsys):
    _fresh_domains(monkeypatch)
    (tmp_path / "cachefile").write_text("not a folder")
    monkeypatch.setenv("RT_CACHE", str(tmp_path / "cachefile"))
    _run_bad(tmp_path, capsys, TINY, r"RT_CACHE=.*cachefile: cannot write the dataset cache there .*set RT_CACHE")


def test_rt_cache_that_is_read_only_is_one_line(tmp_path, monkeypatch, capsys):
    _fresh_domains(monkeypatch)
    cache = tmp_path / "cache-ro"
    cache.mkdir()
    monkeypatch.setenv("RT_CACHE", str(cache))
    with read_only(cache):
        _run_bad(tmp_path, capsys, TINY, r"RT_CACHE=.*cache-ro: cannot write the dataset cache there")


BROUGHT = '[source_models]\ncheckpoints = "family.csv"\n'
ONE_SEED = TINY.replace("seeds = [0, 1]", "seeds = [0]").split('[[sweep]]\nplugin = "weight_decay"')[0]


def test_a_truncated_safetensors_checkpoint_is_one_line(tmp_path, capsys):
    from safetensors.torch import save_file

    import rt_core

    model = rt_core.create_model("cifar_cnn", num_classes=10, width=0.25, hidden=8, image_size=8)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(tmp_path / "m.safetensors"))
    blob = (tmp_path / "m.safetensors").read_bytes()
    (tmp_path / "m.safetensors").write_bytes(blob[:len(blob) // 2])
    (tmp_path / "family.csv").write_text("plugin,strength,seed,path\nvanilla,0,0,m.safetensors\n"
                                         "blur,1,0,m.safetensors\n")
    _run_bad(tmp_path, capsys, ONE_SEED + BROUGHT, r"checkpoint .*m\.safetensors cannot be read as a state dict")


def test_a_short_checkpoint_table_row_is_one_line(tmp_path, capsys):
    torch = pytest.importorskip("torch")
    torch.save({}, tmp_path / "x.pt")
    (tmp_path / "family.csv").write_text("plugin,strength,seed,path\nvanilla,0,0,x.pt\nblur,1,0\n")
    _run_bad(tmp_path, capsys, ONE_SEED + BROUGHT, r"family\.csv\) line 3: a row of fewer cells than the header's")


def _finished_rows(out):
    from rt_core.results.store import Store

    store = Store(out, create=False, read_only=True)
    try:
        return [r for r in store.rows() if r["status"] == "finished"]
    finally:
        store.close()


def test_a_full_disk_while_writing_results_is_one_line_and_the_rerun_resumes(tmp_path, monkeypatch, capsys):
    import errno

    from rt_core.results import store as store_module

    real = store_module.atomic_write
    calls = []

    def full_after_one(path, data, newline=None):
        calls.append(path)
        if len(calls) > 1:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(path, data, newline=newline)

    config = tmp_path / "c.toml"
    config.write_text(ONE_SEED)
    out = tmp_path / "out"
    monkeypatch.setattr(store_module, "atomic_write", full_after_one)
    code = main(["run", str(config), "--out", str(out), "--device", "cpu", "--quiet", "--workers", "1"])
    _one_line(capsys, code, r"cannot write .*results\.sqlite \(No space left on device\); every trial finished so "
                            r"far is kept: free disk space .* rerun the same command to resume")
    kept = {r["key"]: r["finished"] for r in _finished_rows(out)}
    assert len(kept) == 2 and not (out / "results.sqlite.lock").exists()
    monkeypatch.setattr(store_module, "atomic_write", real)
    assert main(["run", str(config), "--out", str(out), "--device", "cpu", "--quiet", "--workers", "1"]) in (0, 1)
    rows = _finished_rows(out)
    assert len(rows) == 2 and {r["key"]: r["finished"] for r in rows} == kept


def test_a_full_sqlite_file_is_one_line(tmp_path, monkeypatch, capsys):
    from rt_core.results.store import Store

    opened = Store._open

    def tiny_limit(self):
        opened(self)
        pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
        self.conn.execute(f"PRAGMA max_page_count = {pages}")

    config = tmp_path / "c.toml"  # rows enough to need new pages of the file
    config.write_text(ONE_SEED + '[[sweep]]\nplugin = "rotation"\nstrengths = [2, 4, 6, 8, 10, 12, 14, 16]\n')
    monkeypatch.setattr(Store, "_open", tiny_limit)
    code = main(["run", str(config), "--out", str(tmp_path / "out"), "--device", "cpu", "--quiet", "--workers", "1"])
    _one_line(capsys, code, r"cannot write .*results\.sqlite \(database or disk is full\); every trial finished")


def test_a_store_on_read_only_media_with_a_wal_file_and_no_shm_is_read(tmp_path, capsys):
    import shutil

    from rt_core.results.store import Store

    writer = Store(tmp_path / "live")
    writer.conn.execute("PRAGMA wal_autocheckpoint = 0")  # every trial stays in the -wal file
    for seed in range(3):
        writer.start(f"k{seed}", "vanilla", 0.0, seed, {})
        writer.finish(f"k{seed}", "finished", {"acc_src": 90.0, "acc_tgt": 60.0}, {}, {})
    media = tmp_path / "media"
    media.mkdir()
    for name in ("results.sqlite", "results.sqlite-wal"):  # copied while the writer still holds them
        shutil.copyfile(tmp_path / "live" / name, media / name)
    writer.close()
    before = _snapshot(media)
    with read_only(media):
        assert main(["export", str(media), "--out", str(tmp_path / "table.csv")]) == 0, capsys.readouterr().err
    assert _snapshot(media) == before
    assert (tmp_path / "table.csv").read_text().count("\n") == 4  # the header and the three trials of the -wal
