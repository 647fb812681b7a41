"""Bad input to `rt run`: each case prints one line naming the problem and the fix, exits with
status 2, and writes nothing (the output directory is exactly as it was)."""

import re
import sqlite3
import sys

import pytest
import torch

from rt_core.cli import main
from rt_core.results.store import Store
from tests.helpers.tiny import TINY


@pytest.fixture(autouse=True)
def _fresh_domains(monkeypatch):
    """Each case loads its data from its own cache folder, not from the process's loaded domains."""
    from rt_core.experiment import parts

    monkeypatch.setattr(parts, "_DOMAINS", {})


SWEEP_BLUR = '[[sweep]]\nplugin = "blur"\nstrengths = [1.0]\n'


def _snapshot(path):
    if not path.exists():
        return None
    return {p.relative_to(path): p.read_bytes() for p in sorted(path.rglob("*")) if p.is_file()}


def _config(tmp_path, text):
    path = tmp_path / "c.toml"
    path.write_text(text)
    return str(path)


def _foreign_sqlite(out):
    out.mkdir()
    conn = sqlite3.connect(out / "results.sqlite")
    conn.execute("CREATE TABLE trials (id INTEGER)")
    conn.execute("INSERT INTO trials VALUES (7)")
    conn.commit()
    conn.close()


def _other_config_store(out):
    store = Store(out)
    store.set_meta("experiment_key", "0123456789abcdef0123")
    store.start("k", "blur", 1.0, 0, {})
    store.finish("k", "finished", {"acc_src": 50.0}, {}, {})
    store.close()


def _text_file_store(out):
    out.mkdir()
    (out / "results.sqlite").write_text("name,acc\nblur,50\n" * 200)


def _users_results_csv(out):
    out.mkdir()
    (out / "results.csv").write_text("name,accuracy\nmine,99.5\n")


def _users_csv_beside_a_store(out):
    Store(out).close()
    (out / "results.csv").write_text("name,accuracy\nmine,99.5\n")


def _wal_without_its_store(out):
    out.mkdir()
    (out / "results.sqlite-wal").write_bytes(b"not ours" * 10)


def _train(line):
    return TINY.replace("[train]", f"[train]\n{line}")


BLUR_AGAIN = '[[sweep]]\nplugin = "blur"\nstrengths = [1.0]\noptions = { per_sample = true }\n'

# Values that parse but make no sense: each refused by the one declarative check (rt_core.experiment.config.Check
# on every config field, the factory's declared or default type on every option, Check.arg on every flag).
VALUES = {
    "lr nan": (_train("lr = nan").replace("lr = 0.01\n", ""), [], r"train\.lr: must be a finite number > 0, got nan"),
    "lr inf": (_train("lr = inf").replace("lr = 0.01\n", ""), [], r"train\.lr: must be a finite number > 0, got inf"),
    "gamma nan": (_train("gamma = nan"), [], r"train\.gamma: must be a finite number > 0, got nan"),
    "attack.eps nan": (TINY.replace("[attack]", "[attack]\neps = nan"), [],
                       r"attack\.eps: must be a finite number >= 0"),
    "attack.alpha -1": (TINY.replace("[attack]", "[attack]\nalpha = -1.0"), [], r"attack\.alpha: must be >= 0, got -1"),
    "momentum -1": (_train("momentum = -1.0"), [], r"train\.momentum: must be in \[0, 1\), got -1"),
    "probe_iters 0": (TINY.replace("probe_iters = 30", "probe_iters = 0"), [],
                      r"transfer\.probe_iters: must be an integer >= 1, got 0"),
    "hidden 0": (TINY.replace("hidden = 8", "hidden = 0"), [],
                 r"model\.options\.hidden: must be an integer >= 1, got 0"),
    "milestones a": (_train('milestones = ["a"]'), [], r"train\.milestones: expected a list of integers >= 1; item 0"),
    "equivalence_margin nan": (TINY + "[report]\nequivalence_margin = nan\n", [],
                               r"report\.equivalence_margin: must be a finite number > 0, got nan"),
    "seed 2^63-1": (TINY.replace("seeds = [0, 1]", "seeds = [9223372036854775807]"), [],
                    r"seeds: expected a non-empty list of integers in \[0, 4294967295\]"),
    "negative seed": (TINY.replace("seeds = [0, 1]", "seeds = [-1]"), [], r"seeds: expected .* item 0 is -1"),
    "seed beyond range from --seeds": (TINY, ["--seeds", "4294967296"], r"seeds: expected a non-empty list"),
    "per_sample a string": (TINY.replace("strengths = [1.0]\n", 'strengths = [1.0]\noptions = {per_sample = "yes"}\n'),
                            [], r"sweep\[0\]\.options\.per_sample: expected true or false, got 'yes'"),
    "strengths empty": (TINY.replace("strengths = [1.0]", "strengths = []"), [],
                        r"sweep\[0\]\.strengths: expected a non-empty list of numbers"),
    "same plugin and strength twice": (TINY + BLUR_AGAIN, [],
                                       r"sweep\[2\]: plugin 'blur' at strength 1 is also in sweep\[0\] with other"),
    "n_train -5": (TINY.replace("n_train = 120", "n_train = -5"), [],
                   r"source\.options\.n_train: must be an integer >= 1, got -5"),
    "size a word": (TINY.replace("size = 8, distractors", 'size = "big", distractors'), [],
                    r"source\.options\.size: expected an integer, got 'big'"),
    "workers 0": (TINY, ["--workers", "0"], r"--workers must be an integer >= 1, got 0"),
    "max-retries -1": (TINY, ["--max-retries", "-1"], r"--max-retries must be an integer >= 0, got -1"),
    "cpus-per-trial nan": (TINY, ["--cpus-per-trial", "nan"], r"--cpus-per-trial must be a finite number > 0"),
}


CASES = {
    "missing config": (None, None, [], r"config file '.*nope\.toml' not found; pass the path"),
    "not TOML": ("seeds = [0,\n", None, [], r"is not valid TOML"),
    "unknown key": (TINY.replace("[train]", "[train]\nepochz = 3"), None, [], r"train\.epochz: unknown key"),
    "wrong type": (TINY.replace("epochs = 2", 'epochs = "two"'), None, [], r"train\.epochs: expected an integer"),
    "negative strength": (TINY.replace("strengths = [1.0]", "strengths = [-1.0]"), None, [],
                          r"strength -1\.0 of 'sweep\[0\] blur' is outside"),
    "out-of-range strength": (TINY.replace("strengths = [1e-3]", "strengths = [1e9]"), None, [], r"is outside"),
    "unknown plugin": (TINY.replace('plugin = "blur"', 'plugin = "os.system"'), None, [],
                       r"unknown plugin 'os\.system'; known: .*blur"),
    "unknown dataset": (TINY.replace('dataset = "handwritten_digits"', 'dataset = "mnist"'), None, [],
                        r"unknown dataset 'mnist'; known datasets: .*printed_digits"),
    "unknown model": (TINY.replace('name = "cifar_cnn"', 'name = "vgg"'), None, [],
                      r"unknown model 'vgg'; known models"),
    "store of another config": (TINY, _other_config_store, [], r"holds results of a different config.*--force"),
    "foreign SQLite file": (TINY, _foreign_sqlite, [], r"is not an rt results store"),
    "text file as store": (TINY, _text_file_store, [], r"is not an rt results store"),
    "dataset root without the data": (
        TINY.replace('dataset = "handwritten_digits"\noptions = { size = 8 }', 'dataset = "cifar10"\nroot = "ROOT"'),
        None, [], r"dataset 'cifar10' not found under root .*empty-root.*: put "),
    "more folds than a target class has images": (
        TINY.replace("probe_iters = 30", "probe_iters = 30\nprobe_folds = 500"), None, [],
        r"transfer\.probe_folds: 500 folds need at least 500 target images of every class, and class \d+ has \d+"),
    "as many shots as a target class has images": (
        TINY.replace("probe_iters = 30", "probe_iters = 30\nprobe_shots = 500"), None, [],
        r"transfer\.probe_shots: 500 shots need more than 500 target images of every class, and class \d+ has \d+"),
    "cuda without a GPU": (TINY, None, ["--device", "cuda"], r"no CUDA GPU is visible; use --device cpu or auto"),
    "ray option without ray": (TINY, None, ["--address", "10.0.0.1:6379"], r"--address is a Ray option"),
    "a results.csv of the user's": (TINY, _users_results_csv, [],
                                    r"holds a results\.csv that rt did not write there \(there is no results\.sqlite"),
    "a results.csv of the user's beside a store": (TINY, _users_csv_beside_a_store, [],
                                                   r"holds a results\.csv that rt did not write there \(its header"),
    "a -wal file without its store": (TINY, _wal_without_its_store, [], r"holds results\.sqlite-wal but no results"),
    "--out empty": (TINY, None, ["--out", ""], r"--out is empty; give a folder"),
    **{name: (text, None, flags, match) for name, (text, flags, match) in VALUES.items()},
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_one_line_exit_2_and_writes_nothing(case, tmp_path, monkeypatch, capsys):
    text, prepare, flags, match = CASES[case]
    if case == "cuda without a GPU" and torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    monkeypatch.setenv("RT_CACHE", str(tmp_path / "cache"))
    (tmp_path / "empty-root").mkdir()
    config = str(tmp_path / "nope.toml") if text is None else _config(tmp_path, text.replace(
        "ROOT", str(tmp_path / "empty-root")))
    out = tmp_path / "out"
    if prepare:
        prepare(out)
    before = _snapshot(out)
    code = main(["run", config, "--out", str(out), "--device", "cpu", *flags])  # a later --device wins
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("rt: error: "), err
    assert re.search(match, lines[0]), lines[0]
    assert _snapshot(out) == before


def test_a_corrupt_cached_dataset_is_one_line_and_writes_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RT_CACHE", str(tmp_path / "cache"))
    config = _config(tmp_path, TINY)
    from rt_core.host.lookup import get_dataset

    get_dataset("printed_digits").loader("train", n_train=120, n_val=20, n_test=60, size=8, distractors=0.0)
    cached = sorted((tmp_path / "cache").glob("printed_digits-*.pt"))
    assert cached
    for path in cached:
        path.write_bytes(b"\x80\x04not a torch file")
    out = tmp_path / "out"
    assert main(["run", config, "--out", str(out), "--device", "cpu"]) == 2
    line = capsys.readouterr().err.strip()
    assert "\n" not in line and "is corrupt" in line and "delete it and rerun" in line
    assert not out.exists()


def test_executor_ray_without_ray_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)
    out = tmp_path / "out"
    assert main(["run", _config(tmp_path, TINY), "--out", str(out), "--executor", "ray"]) == 2
    assert "pip install 'rt-toolkit[ray]'" in capsys.readouterr().err
    assert not out.exists()
