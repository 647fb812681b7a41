"""Predictors of transfer on the plugin host: the rt_register_predictors hook, PredictorSpec and its
registry, the frozen PredictorInput, and compute_score / compute_scores."""

import numpy as np
import pytest

import rt_core
from rt_core import PluginError, PredictorInput, PredictorSpec, RtError, hookimpl

BUILTIN_PREDICTORS = {"gbc", "hscore", "leep", "logme", "nce", "transrate"}


def _record(n=12, d=3, k=3, seed=0, logits=True):
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % k
    features = rng.standard_normal((k, d))[labels] + 0.5 * rng.standard_normal((n, d))
    return PredictorInput(features, labels, k, rng.standard_normal((n, 4)) if logits else None)


def _mean_feature(data, shift=0.0):
    """A toy predictor: the mean feature value plus ``shift``."""
    return float(data.features.mean()) + shift


def test_the_six_builtins_come_through_entry_points_each_stating_its_direction():
    specs = {spec.name: spec for spec in rt_core.list_predictors()}
    assert BUILTIN_PREDICTORS <= set(specs)
    for name in BUILTIN_PREDICTORS:
        assert specs[name].plugin == name and specs[name].higher_is_better is True and specs[name].description
    assert {n for n in BUILTIN_PREDICTORS if specs[n].needs} == {"leep", "nce"}
    assert specs["leep"].needs == ("source_logits",) and rt_core.get_predictor("logme").needs == ()


def test_rt_register_predictors_reaches_the_registry_and_the_plugin_table(rt_plugin):
    class Toy:
        @hookimpl
        def rt_register_predictors(self, register):
            register(PredictorSpec("mean_feature", _mean_feature, higher_is_better=False, description="toy",
                                   needs="source_logits"))

    rt_plugin(Toy(), "toy")
    spec = rt_core.get_predictor("mean_feature")
    assert spec.plugin == "toy" and spec.needs == ("source_logits",) and "mean_feature" in rt_core.list_predictors()
    data = _record()
    assert rt_core.compute_score("mean_feature", data) == pytest.approx(data.features.mean(), rel=1e-15)
    assert rt_core.compute_score("mean_feature", data, shift=2.0) == pytest.approx(data.features.mean() + 2.0)
    row = next(r for r in rt_core.plugin_table() if r["name"] == "toy")
    assert row["predictors"] == ["mean_feature"] and row["descriptions"] == {"mean_feature": "toy"}
    assert row["predictor_flags"] == {"mean_feature": {"higher_is_better": False, "needs": ["source_logits"]}}


def test_a_duplicate_predictor_names_both_plugins(rt_plugin):
    class Copycat:
        @hookimpl
        def rt_register_predictors(self, register):
            register(PredictorSpec("logme", _mean_feature, higher_is_better=True))

    rt_plugin(Copycat(), "copycat")
    with pytest.raises(PluginError, match=r"predictor 'logme' is registered twice: by plugin '(logme|copycat)' "
                                          r"and by plugin '(logme|copycat)'") as err:
        rt_core.list_predictors()
    assert "'logme'" in str(err.value) and "'copycat'" in str(err.value)


def test_an_unknown_predictor_lists_the_known_ones():
    with pytest.raises(PluginError, match="unknown predictor 'logmee'; known predictors: gbc, hscore, leep, logme"):
        rt_core.get_predictor("logmee")
    with pytest.raises(PluginError, match="unknown predictor 'hscor'"):
        rt_core.compute_score("hscor", _record())


def test_a_record_states_its_direction_and_known_needs():
    with pytest.raises(PluginError, match="higher_is_better must be True or False, got 1"):
        PredictorSpec("p", _mean_feature, higher_is_better=1)
    with pytest.raises(PluginError, match="needs 'target_logits' is not one of source_logits, source_features"):
        PredictorSpec("p", _mean_feature, higher_is_better=True, needs=("target_logits",))
    with pytest.raises(TypeError):
        PredictorSpec("p", _mean_feature)  # no default: every record says which way is better
    spec = PredictorSpec("p", _mean_feature, higher_is_better=True, needs=["source_features"])
    assert spec.needs == ("source_features",) and hash(spec)
    with pytest.raises(AttributeError):
        spec.name = "q"


def test_compute_score_refuses_missing_needs_unknown_options_and_non_records():
    no_logits = _record(logits=False)
    with pytest.raises(RtError, match=r"predictor 'leep' needs what this input lacks \(source_logits: the source "
                                      r"head's logits on the target images\); pass PredictorInput\(\.\.\., "
                                      r"source_logits=\.\.\.\)") as err:
        rt_core.compute_score("leep", no_logits)
    assert "\n" not in str(err.value)
    with pytest.raises(RtError, match="predictor 'hscore' does not take the options shrinkage; its options: "
                                      "covariance"):
        rt_core.compute_score("hscore", no_logits, shrinkage=0.1)
    with pytest.raises(RtError, match="a predictor takes a rt_core.PredictorInput, got a tuple"):
        rt_core.compute_score("logme", (no_logits.features, no_logits.labels))
    with pytest.raises(RtError, match="hscore: covariance 'diag' is not one of shrinkage, plain"):
        rt_core.compute_score("hscore", no_logits, covariance="diag")


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "0.5", np.array([0.1, 0.2]), True, None])
def test_a_predictor_returning_anything_but_one_finite_number_is_named(rt_plugin, bad):
    class Broken:
        @hookimpl
        def rt_register_predictors(self, register):
            register(PredictorSpec("broken", lambda data: bad, higher_is_better=True))

    rt_plugin(Broken(), "broken-plugin")
    with pytest.raises(PluginError, match="predictor 'broken' of plugin 'broken-plugin' returned .*; a predictor "
                                          "returns one finite float"):
        rt_core.compute_score("broken", _record())


def test_compute_scores_scores_every_predictor_whose_needs_are_met():
    data, no_logits = _record(), _record(logits=False)
    every = rt_core.compute_scores(data)
    assert BUILTIN_PREDICTORS <= set(every) and list(every) == sorted(every)
    assert all(isinstance(v, float) and np.isfinite(v) for v in every.values())
    assert every["logme"] == rt_core.compute_score("logme", data)
    assert {"leep", "nce"}.isdisjoint(rt_core.compute_scores(no_logits))
    assert set(rt_core.compute_scores(no_logits, ["gbc", "logme"])) == {"gbc", "logme"}
    with pytest.raises(RtError, match="predictor 'nce' needs"):
        rt_core.compute_scores(no_logits, ["nce"])


def test_the_input_record_holds_read_only_float64_and_int64_copies():
    features, labels = np.arange(12, dtype=np.float32).reshape(6, 2), np.array([0, 1, 0, 1, 2, 2], dtype=np.int8)
    data = PredictorInput(features, labels, 3, source_features=features[:2], source_labels=[4, 0])
    assert data.features.dtype == np.float64 and data.labels.dtype == np.int64 and data.num_classes == 3
    assert data.source_labels.tolist() == [4, 0] and data.source_logits is None
    features[0, 0], labels[0] = 99.0, 2  # the caller's arrays are not the record's
    assert data.features[0, 0] == 0.0 and data.labels[0] == 0
    with pytest.raises(ValueError):
        data.features[0, 0] = 1.0
    with pytest.raises(AttributeError):
        data.labels = labels
    import torch

    tensors = PredictorInput(torch.ones(3, 2), torch.tensor([0, 1, 1]), 2, torch.zeros(3, 5))
    assert tensors.features.shape == (3, 2) and tensors.source_logits.dtype == np.float64


GOOD = np.zeros((4, 2)), np.array([0, 1, 0, 1])


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"features": np.zeros(4)}, r"features must be a 2-D \(n, d\) array with n, d >= 1, got shape \(4,\)"),
    ({"features": np.zeros((4, 0))}, r"got shape \(4, 0\)"),
    ({"features": np.zeros((1, 2)), "labels": np.array([0])}, "features has 1 row; a predictor needs at least 2"),
    ({"features": np.full((4, 2), np.nan)}, "features has 8 NaN or inf entries"),
    ({"features": np.array([["a", "b"]] * 4)}, "features has dtype <U1, not numbers"),
    ({"features": [[1.0, 2.0], [3.0]]}, "features is not an array"),
    ({"labels": np.array([0, 1, 0])}, r"labels must be a 1-D array of 4 labels .*got shape \(3,\)"),
    ({"labels": np.array([0.0, 1.0, 0.0, 1.0])}, "labels has dtype float64; class labels are integers"),
    ({"labels": np.array([0, 1, 2, 1])}, r"labels run from 0 to 2, outside \[0, 2\)"),
    ({"labels": np.array([0, -1, 0, 1])}, r"labels run from -1 to 1"),
    ({"num_classes": 1}, "num_classes must be an integer >= 2, got 1"),
    ({"num_classes": 2.0}, "num_classes must be an integer >= 2, got 2.0"),
    ({"source_logits": np.zeros((3, 5))}, "source_logits has 3 rows but features has 4; pass one row per target"),
    ({"source_logits": np.zeros(4)}, "source_logits must be a 2-D"),
    ({"source_features": np.zeros((2, 2))}, "source_features and source_labels come together"),
    ({"source_features": np.zeros((2, 2)), "source_labels": np.array([0])}, "source_labels must be a 1-D array of 2"),
])
def test_a_malformed_input_is_one_line_saying_what_is_wrong(kwargs, message):
    args = {"features": GOOD[0], "labels": GOOD[1], "num_classes": 2, **kwargs}
    with pytest.raises(RtError, match=message) as err:
        PredictorInput(**args)
    assert "\n" not in str(err.value) and str(err.value).startswith("predictor input: ")
