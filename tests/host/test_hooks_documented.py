"""Every hook is documented in docs/plugin_hooks.md with its exact signature, its example runs,
and some test exercises it (as in datasette's test_plugin_hooks_are_documented)."""

import inspect
import re
from pathlib import Path

import pytest

from rt_core.host import hookspecs

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "plugin_hooks.md").read_text()
HOOKS = sorted(n for n in dir(hookspecs) if n.startswith("rt_"))


def _signature(name: str) -> str:
    params = inspect.signature(getattr(hookspecs, name)).parameters
    return f"{name}({', '.join(params)})"


def _sections() -> dict[str, str]:
    parts = re.split(r"^## ", DOC, flags=re.M)[1:]
    return {p.splitlines()[0].strip(): p for p in parts}


def test_there_are_hooks():
    assert {"rt_register_augmentations", "rt_register_regularizers", "rt_register_datasets",
            "rt_register_models", "rt_trial_finished", "rt_report_sections"} <= set(HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_documented_with_exact_signature(hook):
    assert _signature(hook) in _sections(), f"docs/plugin_hooks.md lacks a '## {_signature(hook)}' section"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_example_runs(hook):
    section = _sections()[_signature(hook)]
    blocks = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    assert blocks, f"{hook} has no python example"
    for block in blocks:
        exec(compile(block, f"<docs example for {hook}>", "exec"), {"__name__": f"doc_{hook}"})


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_has_a_test(hook):
    others = [p for p in (ROOT / "tests").rglob("test_*.py") if p.name != Path(__file__).name]
    assert any(hook in p.read_text() for p in others), f"no test file mentions {hook}"
