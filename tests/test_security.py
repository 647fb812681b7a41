"""Security: tensors load with weights_only=True (a pickle that would run code is refused) and configs
are data only (the store's schema upgrade: tests/results/test_store.py)."""

import ast
from pathlib import Path

import pytest
import torch

from rt_core import RtError
from rt_core.experiment.data.cache import cached

ROOT = Path(__file__).resolve().parents[1]


class _RunsCode:
    """Unpickling this calls Path.touch(target): stands for any code a pickle could run."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return (Path.touch, (self.target,))


def test_every_torch_load_passes_weights_only_true():
    calls = []
    for path in [*ROOT.glob("rt_core/**/*.py"), *ROOT.glob("plugins/*.py"), *ROOT.glob("theory/*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "load" and \
                    getattr(node.func.value, "id", "") == "torch":
                kw = {k.arg: k.value for k in node.keywords}
                calls.append((path.name, isinstance(kw.get("weights_only"), ast.Constant) and
                              kw["weights_only"].value is True))
    assert calls and all(ok for _, ok in calls), calls


def test_a_cached_file_whose_pickle_runs_code_is_refused_without_running_it(tmp_path, monkeypatch):
    monkeypatch.setenv("RT_CACHE", str(tmp_path))
    params = {"n": 1}
    cached("evil", params, lambda: (torch.zeros(1, 1, 2, 2, dtype=torch.uint8), torch.zeros(1, dtype=torch.long)))
    path = next(tmp_path.glob("evil-*.pt"))
    target = tmp_path / "pwned"
    torch.save({"images": _RunsCode(target), "labels": torch.zeros(1)}, path)
    with pytest.raises(RtError, match="is corrupt .*delete it and rerun"):
        cached("evil", params, lambda: pytest.fail("must not regenerate silently"))
    assert not target.exists()


def test_config_values_are_never_evaluated(tmp_path):
    from rt_core.experiment.loading import load_config

    target = tmp_path / "pwned"
    code = f"__import__('pathlib').Path('{target}').touch()"
    for text in (f'name = "x"\n[[sweep]]\nplugin = "blur"\nstrengths = ["{code}"]\n',
                 '[model]\nname = "rt_core.experiment.models:cifar_cnn"\n',
                 '[[sweep]]\nplugin = "plugins.blur"\nstrengths = [1]\n'):
        path = tmp_path / "c.toml"
        path.write_text(text)
        with pytest.raises(RtError):
            load_config(path)
    assert not target.exists()


