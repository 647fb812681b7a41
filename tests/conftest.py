"""Shared test set-up: tests run on CPU with small seeded data."""

import pytest
import torch

import rt_core


@pytest.fixture(autouse=True)
def _seed_and_threads():
    torch.manual_seed(0)
    yield


@pytest.fixture
def fresh_plugins(monkeypatch):
    """Reload plugins after the test changes the environment (e.g. RT_LOAD_PLUGINS)."""
    rt_core.reset_plugins()
    yield monkeypatch
    monkeypatch.undo()
    rt_core.reset_plugins()
