"""The registry drives the tests: every registered augmentation and regularizer, built-in or
installed by a third party, passes the same contract checks (as timm parametrizes over models)."""

import pytest

import rt_core
from rt_core.host.testing import check_augmentation, check_regularizer

AUGMENTATIONS = rt_core.list_augmentations().names()
REGULARIZERS = rt_core.list_regularizers().names()


@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_augmentation_contract(name):
    result = check_augmentation(name)
    assert result["changed"], f"{name} at its default strength left the images unchanged"


@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_augmentation_contract_at_the_top_of_a_sweep_grid(name):
    spec = rt_core.get_augmentation(name)
    check_augmentation(name, strength=min(spec.strength.high, 4 * spec.strength.default))


@pytest.mark.parametrize("name", AUGMENTATIONS)
def test_augmentation_contract_on_odd_sizes(name):
    check_augmentation(name, shape=(1, 15, 11))


@pytest.mark.parametrize("name", REGULARIZERS)
def test_regularizer_contract(name):
    check_regularizer(name)


def test_the_checks_catch_a_broken_augmentation(rt_plugin):
    """A contract check that cannot fail would be worthless: break each property once."""
    import torch

    from rt_core import Augmentation, AugmentationSpec, Strength, hookimpl

    class Brighten(Augmentation):  # leaves [0,1]
        def apply(self, x, params):
            return x + self.strength

    class Unseeded(Augmentation):  # ignores the generator
        def apply(self, x, params):
            return (x + 0.1 * torch.rand_like(x)).clamp(0, 1)

    class Broken:
        @hookimpl
        def rt_register_augmentations(self, register):
            register(AugmentationSpec("brighten", Brighten, Strength("s", 0.0, 0.0, default=0.5)))
            register(AugmentationSpec("unseeded", Unseeded, Strength("s", 0.0, 0.0, default=0.5)))

    rt_plugin(Broken(), "broken")
    with pytest.raises(AssertionError, match=r"values leave \[0,1\]"):
        check_augmentation("brighten")
    with pytest.raises(AssertionError, match="not deterministic"):
        check_augmentation("unseeded")


def test_the_checks_catch_a_regularizer_that_acts_at_identity(rt_plugin):
    from rt_core import Regularizer, RegularizerSpec, Strength, hookimpl

    class AlwaysPenalise(Regularizer):
        def penalty(self, model, x, y, features, logits):
            return (self.strength + 1.0) * logits.pow(2).mean()

    class Plugin:
        @hookimpl
        def rt_register_regularizers(self, register):
            register(RegularizerSpec("always", AlwaysPenalise, Strength("l", 0.0, 0.0)))

    rt_plugin(Plugin(), "always")
    with pytest.raises(AssertionError, match="identity strength adds a penalty"):
        check_regularizer("always")
