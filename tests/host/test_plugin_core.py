"""The plugin host: loading, registries, errors, lifecycle hooks."""

import pytest
import torch

import rt_core
from plugins.blur import GaussianBlur
from rt_core import (
    AugmentationSpec,
    Bound,
    DatasetSpec,
    ModelSpec,
    PluginError,
    Regularizer,
    RegularizerSpec,
    RtError,
    Strength,
    hookimpl,
)
from rt_core.experiment.models import cifar_cnn

BUILTIN_AUGMENTATIONS = {"blur", "rescale", "rotation", "translation"}
BUILTIN_REGULARIZERS = {"adversarial", "jacobian", "weight_decay", "last_layer"}


def test_builtins_are_registered_through_entry_points():
    assert BUILTIN_AUGMENTATIONS <= set(rt_core.list_augmentations().names())
    assert BUILTIN_REGULARIZERS <= set(rt_core.list_regularizers().names())
    assert "blur" in rt_core.list_augmentations() and "jacobian" in rt_core.list_regularizers()
    assert rt_core.get_augmentation("blur").plugin == "blur"
    assert rt_core.get_regularizer("adversarial").plugin == "adversarial"


def test_every_record_is_frozen():
    spec = rt_core.get_augmentation("rotation")
    with pytest.raises(AttributeError):
        spec.name = "other"


def test_rt_register_augmentations_and_regularizers_reach_the_registries(rt_plugin):
    class Extra:
        @hookimpl
        def rt_register_augmentations(self, register):
            register(AugmentationSpec("extra_blur", GaussianBlur, Strength("sigma", 0.0, 0.0)))

        @hookimpl
        def rt_register_regularizers(self, register):
            register(RegularizerSpec("extra_reg", rt_core.Regularizer, Strength("l", 0.0, 0.0)))

    rt_plugin(Extra(), "extra")
    assert rt_core.get_augmentation("extra_blur").plugin == "extra"
    assert rt_core.get_regularizer("extra_reg").plugin == "extra"
    row = next(r for r in rt_core.plugin_table() if r["name"] == "extra")
    assert row["augmentations"] == ["extra_blur"] and row["regularizers"] == ["extra_reg"]


def test_rt_register_datasets_models_and_a_bound_in_a_regularizer_record(rt_plugin):
    def loader(split, root=None):
        return torch.zeros(3, 3, 32, 32), torch.zeros(3, dtype=torch.long)

    class Extra:
        @hookimpl
        def rt_register_datasets(self, register):
            register(DatasetSpec("zeros", loader, num_classes=1))

        @hookimpl
        def rt_register_models(self, register):
            register(ModelSpec("cnn_again", cifar_cnn))

        @hookimpl
        def rt_register_regularizers(self, register):
            register(RegularizerSpec("jacobian_test", Regularizer, Strength("lambda", 0.0, 0.0),
                                     bound=Bound(lambda: None, constrains="K")))

    rt_plugin(Extra(), "extra2")
    assert rt_core.get_dataset("zeros").loader("train")[0].shape == (3, 3, 32, 32)
    assert rt_core.count_parameters(rt_core.create_model("cnn_again")) == 1_182_762
    spec = rt_core.get_regularizer("jacobian_test")
    assert spec.plugin == "extra2" and spec.bound.constrains == "K"


def test_duplicate_name_names_both_plugins(rt_plugin):
    class Dup:
        @hookimpl
        def rt_register_augmentations(self, register):
            register(AugmentationSpec("blur", GaussianBlur, Strength("sigma", 0.0, 0.0)))

    rt_plugin(Dup(), "copycat")
    with pytest.raises(PluginError, match=r"'blur' is registered twice: by plugin '(blur|copycat)' and by "
                                          r"plugin '(blur|copycat)'") as err:
        rt_core.list_augmentations()
    assert "blur" in str(err.value) and "copycat" in str(err.value)


def test_unknown_name_lists_known_names():
    with pytest.raises(PluginError, match="unknown augmentation 'blurr'; known augmentations: .*blur.*rotation"):
        rt_core.create_augmentation("blurr", 1.0)
    with pytest.raises(PluginError, match="unknown regularizer 'jacobain'.*jacobian"):
        rt_core.create_regularizer("jacobain", 1.0)


def test_misspelt_hook_is_an_error_and_leaves_nothing_registered():
    class Typo:
        @hookimpl
        def rt_register_augmentation(self, register):  # missing "s"
            pass

    with pytest.raises(PluginError, match="rt_register_augmentation.*known hooks are: .*rt_register_augmentations"):
        rt_core.register_plugin(Typo(), "typo")
    assert "typo" not in [name for name, _ in rt_core.get_plugin_manager().list_name_plugin()]


def test_wrong_hook_argument_is_an_error():
    class BadArgs:
        @hookimpl
        def rt_register_augmentations(self, registr):
            pass

    with pytest.raises(PluginError, match="plugin 'badargs' is invalid"):
        rt_core.register_plugin(BadArgs(), "badargs")


def test_registering_a_wrong_record_type_is_an_error(rt_plugin):
    class Wrong:
        @hookimpl
        def rt_register_augmentations(self, register):
            register({"name": "dict"})

    rt_plugin(Wrong(), "wrong")
    with pytest.raises(PluginError, match="plugin 'wrong' passed a dict .*AugmentationSpec"):
        rt_core.list_augmentations()


def test_strength_out_of_range_is_one_clear_error():
    with pytest.raises(RtError, match=r"strength -1.0 of 'blur' is outside its range: sigma must lie in \[0.0"):
        rt_core.create_augmentation("blur", -1.0)
    with pytest.raises(RtError, match="outside its range"):
        rt_core.create_regularizer("adversarial", float("nan"))


def test_rt_load_plugins_restricts_what_loads(fresh_plugins):
    fresh_plugins.setenv("RT_LOAD_PLUGINS", "blur,jacobian")
    rt_core.reset_plugins()
    assert rt_core.list_augmentations().names() == ["blur"]
    assert rt_core.list_regularizers().names() == ["jacobian"]
    assert "cifar_cnn" in rt_core.list_models()  # the host's own models always load


def test_rt_load_plugins_unknown_name(fresh_plugins):
    fresh_plugins.setenv("RT_LOAD_PLUGINS", "blur,nosuch")
    rt_core.reset_plugins()
    with pytest.raises(PluginError, match="unknown plugin.*nosuch; installed: .*blur"):
        rt_core.list_augmentations()


def test_rt_trial_finished_gets_a_read_only_result(rt_plugin):
    got = []

    class Logger:
        @hookimpl
        def rt_trial_finished(self, trial, result):
            got.append((trial, dict(result)))
            with pytest.raises(TypeError):
                result["status"] = "tampered"

    rt_plugin(Logger(), "logger")
    rt_core.notify_trial_finished("t1", {"status": "finished", "acc_src": 0.9})
    assert got == [("t1", {"status": "finished", "acc_src": 0.9})]


def test_rt_report_sections_collects_pairs_and_rejects_others(rt_plugin):
    class Good:
        @hookimpl
        def rt_report_sections(self, results):
            return [("Count", str(len(results)))]

    class Bad:
        @hookimpl
        def rt_report_sections(self, results):
            return ["just a string"]

    rt_plugin(Good(), "good")
    assert rt_core.report_sections([1, 2, 3]) == [("Count", "3")]
    rt_plugin(Bad(), "bad")
    with pytest.raises(PluginError, match="plugin 'bad' returned 'just a string'"):
        rt_core.report_sections([])


def test_docs_api_lists_exactly_the_public_names():
    """docs/api.md names every entry of rt_core.__all__ in backticks, and every name it puts in a
    table's first column is public."""
    import re
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    quoted = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)[`(]", doc))
    assert set(rt_core.__all__) - quoted == set()
    first_column = {n for cell in re.findall(r"^\| (.+?) \|", doc, flags=re.M)
                    for n in re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)", cell)}
    assert first_column - {"name"} <= set(rt_core.__all__)
    for name in rt_core.__all__:
        assert getattr(rt_core, name) is not None
