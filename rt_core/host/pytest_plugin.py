"""pytest plugin (entry point ``pytest11``) with fixtures for rt plugin authors.

Fixtures: ``rt_check_augmentation``, ``rt_check_regularizer`` and ``rt_check_predictor`` (the
contract checks of rt_core.host.testing), ``rt_images`` (a seeded batch in [0,1]),
``rt_predictor_input`` (a seeded PredictorInput with every optional field), ``rt_generator`` (a
seeded torch.Generator) and ``rt_plugin`` (registers a plugin object for one test, then removes it).
"""

from __future__ import annotations

import pytest
import torch

from rt_core.host import testing
from rt_core.host.manager import register_plugin, unregister_plugin


@pytest.fixture
def rt_check_augmentation():
    return testing.check_augmentation


@pytest.fixture
def rt_check_regularizer():
    return testing.check_regularizer


@pytest.fixture
def rt_check_predictor():
    return testing.check_predictor


@pytest.fixture
def rt_predictor_input():
    return testing.predictor_input()


@pytest.fixture
def rt_images():
    return testing.images(4, (3, 16, 16), seed=0)


@pytest.fixture
def rt_generator():
    return torch.Generator().manual_seed(0)


@pytest.fixture
def rt_plugin():
    """Call ``rt_plugin(obj, name)`` to register a plugin object until the test ends."""
    names: list[str] = []

    def register(obj, name: str, version: str = "0"):
        register_plugin(obj, name, version)
        names.append(name)
        return obj

    yield register
    for name in names:
        unregister_plugin(name)
