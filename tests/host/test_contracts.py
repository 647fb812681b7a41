"""The registry drives the tests: every registered augmentation, regularizer and predictor, built-in
or installed by a third party, passes the same contract checks (as timm parametrizes over models)."""

import pytest

import rt_core
from rt_core.host.testing import check_augmentation, check_predictor, check_regularizer

AUGMENTATIONS = rt_core.list_augmentations().names()
REGULARIZERS = rt_core.list_regularizers().names()
PREDICTORS = rt_core.list_predictors().names()


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


def test_the_checks_verify_the_declared_flags(rt_plugin):
    """A record's flags are read: a non-linear op declared linear, a random op declared not random,
    and a regularizer whose acts_on does not match its methods all fail their check."""
    import torch

    from rt_core import Augmentation, AugmentationSpec, Regularizer, RegularizerSpec, Strength, hookimpl

    class Square(Augmentation):
        def apply(self, x, params):
            return x * x

    class Jitter(Augmentation):
        def sample_params(self, batch, image_shape, generator):
            return {"shift": 0.1 * torch.rand(batch, 1, 1, 1, generator=generator)}

        def apply(self, x, params):
            return (x * (1 - params["shift"])).clamp(0, 1)

    class SecretPenalty(Regularizer):
        def penalty(self, model, x, y, features, logits):
            return None if self.is_identity else self.strength * logits.pow(2).mean()

    class Liars:
        @hookimpl
        def rt_register_augmentations(self, register):
            register(AugmentationSpec("square", Square, Strength("s", 0.0, 0.0, default=0.5), random=False))
            register(AugmentationSpec("jitter", Jitter, Strength("s", 0.0, 0.0, default=0.5), random=False))

        @hookimpl
        def rt_register_regularizers(self, register):
            register(RegularizerSpec("secret", SecretPenalty, Strength("l", 0.0, 0.0), acts_on="optimizer"))

    rt_plugin(Liars(), "liars")
    with pytest.raises(AssertionError, match="linear=True, but"):
        check_augmentation("square")
    with pytest.raises(AssertionError, match="random=False, but the output depends on the generator"):
        check_augmentation("jitter")
    with pytest.raises(AssertionError, match="acts_on='optimizer' but it overrides perturb or penalty"):
        check_regularizer("secret")


MODELS = rt_core.list_models().names()
BOUNDS = sorted(spec.name for spec in rt_core.list_regularizers() if spec.bound is not None)


@pytest.mark.parametrize("name", MODELS)
def test_model_contract(name):
    """Every registered model builds as a SplitModel h = g . f with normalisation inside f, and
    g is one linear layer: logits = head(features), features of the head's input width."""
    import torch

    torch.manual_seed(0)
    model = rt_core.create_model(name, num_classes=5).eval()
    assert isinstance(model, rt_core.SplitModel) and isinstance(model.head, torch.nn.Linear)
    assert any(isinstance(m, rt_core.Normalize) for m in model.features.modules())
    x = torch.rand(2, 3, 32, 32)
    features, logits = model.forward_split(x)
    assert features.shape == (2, model.feature_dim) and logits.shape == (2, 5)
    assert torch.allclose(model(x), logits) and torch.isfinite(logits).all()


@pytest.mark.parametrize("name", BOUNDS)
def test_bound_contract(name):
    """Every registered bound names each of its symbols (the strength or a documented constant),
    is positive, and is monotone in its declared direction over the whole strength domain."""
    from theory import check_bound

    bound = rt_core.get_regularizer(name).bound
    expr, symbol, constants = bound.expression()
    assert expr.free_symbols <= {symbol, *constants}, f"{name}: undocumented symbols"
    assert all(isinstance(text, str) and text for text in constants.values())
    assert symbol.is_positive and expr.is_positive
    assert check_bound(name).monotone, f"{name}'s bound is not {bound.direction} in {symbol}"


@pytest.mark.parametrize("name", PREDICTORS)
def test_predictor_contract(name):
    result = check_predictor(name)
    assert result["higher_is_better"] in (True, False)


@pytest.mark.parametrize(("name", "options"), [("hscore", {"covariance": "plain"}),
                                               ("gbc", {"covariance": "spherical"}), ("transrate", {"eps": 0.5})])
def test_predictor_contract_with_options(name, options):
    check_predictor(name, **options)


def test_the_checks_catch_a_broken_predictor(rt_plugin):
    """Each property of check_predictor fails once: a NaN, a random score, a score that reads the
    class numbers, one that fails on more dimensions than images, and one that swallows any option."""
    import numpy as np

    from rt_core import PredictorSpec, hookimpl

    state = {"calls": 0}

    def counter(data):
        state["calls"] += 1
        return float(state["calls"])

    def wide_fails(data):
        return float(np.linalg.cholesky(np.cov(data.features, rowvar=False))[0, 0])

    class Broken:
        @hookimpl
        def rt_register_predictors(self, register):
            register(PredictorSpec("nan_score", lambda data: float("nan"), higher_is_better=True))
            register(PredictorSpec("counter", counter, higher_is_better=True))
            register(PredictorSpec("class_0_mean", lambda data: float(data.features[data.labels == 0].mean()),
                                   higher_is_better=True))
            register(PredictorSpec("wide_fails", wide_fails, higher_is_better=True))
            register(PredictorSpec("anything_goes", lambda data, **options: 1.0, higher_is_better=True))

    rt_plugin(Broken(), "broken-predictors")
    with pytest.raises(AssertionError, match="'nan_score' breaks the contract: returned nan on the seeded input"):
        check_predictor("nan_score")
    with pytest.raises(AssertionError, match="compute_score differs|not deterministic"):
        check_predictor("counter")
    with pytest.raises(AssertionError, match="renaming the target classes changes the score"):
        check_predictor("class_0_mean")
    with pytest.raises(np.linalg.LinAlgError):
        check_predictor("wide_fails")
    with pytest.raises(AssertionError, match="an unknown option raises no RtError"):
        check_predictor("anything_goes")


def test_the_linearity_check_tells_an_affine_op_from_a_linear_one(rt_plugin):
    """x -> 0.5 + c (x - 0.5) keeps convex combinations (a(x/2 + z/2) = a(x)/2 + a(z)/2 for any affine
    map), so only a(0) = 0 and a(x) = 2 a(x/2) show that it is not linear; x -> c x passes all three."""
    from rt_core import Augmentation, AugmentationSpec, Strength, hookimpl

    class Contrast(Augmentation):
        def apply(self, x, params):
            return (0.5 + self.strength * (x - 0.5)).clamp(0, 1)

    class Dim(Augmentation):
        def apply(self, x, params):
            return (self.strength * x).clamp(0, 1)

    class Ops:
        @hookimpl
        def rt_register_augmentations(self, register):
            register(AugmentationSpec("contrast", Contrast, Strength("c", 1.0, 0.0, 1.0, default=0.5), random=False))
            register(AugmentationSpec("dim", Dim, Strength("c", 1.0, 0.0, 1.0, default=0.5), random=False))

    rt_plugin(Ops(), "affine")
    with pytest.raises(AssertionError, match=r"linear=True, but a\(0\) != 0; max difference 2\.50e-01"):
        check_augmentation("contrast")
    assert check_augmentation("dim")["changed"]
