"""Config validation: every bad input is one RtError naming the key."""

import pytest

from rt_core import RtError
from rt_core.experiment.config import parse_number
from rt_core.experiment.loading import from_dict, load_config
from rt_core.experiment.trials import VANILLA, expand, trial_key

GOOD = {"seeds": [0, 1], "sweep": [{"plugin": "blur", "strengths": [0.5, 1.0]},
                                   {"plugin": "adversarial", "strengths": ["8/255"], "options": {"norm": "linf"}}]}


def test_good_config_and_trial_expansion():
    cfg = from_dict(GOOD)
    trials = expand(cfg)
    assert len(trials) == 2 + 2 * 2 + 1 * 2  # seed by seed: a stopped sweep holds whole seeds
    assert [(t.plugin, t.seed) for t in trials[:4]] == [(VANILLA, 0), ("blur", 0), ("blur", 0), ("adversarial", 0)]
    assert trials[-1].strength == 8 / 255 and trials[-1].options == {"norm": "linf"}
    keys = [trial_key(cfg, t) for t in trials]
    assert len(set(keys)) == len(keys) and keys == [trial_key(from_dict(GOOD), t) for t in expand(from_dict(GOOD))]


def test_key_changes_with_anything_that_changes_results():
    base = from_dict(GOOD)
    other = from_dict({**GOOD, "train": {"epochs": 3}})
    t = expand(base)[0]
    assert trial_key(base, t) != trial_key(other, t)


@pytest.mark.parametrize("data,match", [
    ({"trian": {}}, r"config.trian: unknown key"),
    ({"train": {"epochz": 3}}, r"train.epochz: unknown key; known keys of \[train\]: .*epochs"),
    ({"train": {"epochs": "ten"}}, r"train.epochs: expected an integer"),
    ({"train": {"epochs": 2.5}}, r"train.epochs: expected an integer"),
    ({"train": {"lr": "fast"}}, r"train.lr: 'fast' is not a number"),
    ({"train": {"lr": 0}}, r"train.lr: must be > 0"),
    ({"transfer": {"probe_tol": 0}}, r"transfer.probe_tol: must be > 0"),
    ({"transfer": {"mode": "probe"}}, r"transfer.mode: 'probe' is not one of linear_probe, finetune"),
    ({"transfer": {"probe_folds": 1}}, r"transfer.probe_folds: expected 0 .* or a number of folds >= 2, got 1"),
    ({"transfer": {"probe_folds": -3}}, r"transfer.probe_folds: expected 0"),
    ({"transfer": {"probe_folds": 5, "mode": "finetune"}}, r"transfer.probe_folds: cross-validation needs mode"),
    ({"transfer": {"probe_shots": -1}}, r"transfer.probe_shots / probe_draws: expected shots >= 0"),
    ({"transfer": {"probe_shots": 5, "probe_draws": 0}}, r"transfer.probe_shots / probe_draws: .* draws >= 1"),
    ({"transfer": {"probe_shots": 5, "probe_folds": 3}}, r"transfer.probe_shots: .* use one of probe_shots and"),
    ({"transfer": {"probe_shots": 5, "mode": "finetune"}}, r"transfer.probe_shots: a few-shot probe needs mode"),
    ({"train": {"nesterov": True, "momentum": 0}}, r"train.nesterov: Nesterov momentum needs train.momentum > 0"),
    ({"train": {"schedule": "exp"}}, r"train.schedule: 'exp' is not one of step, cosine, linear"),
    ({"train": {"treatment_warmup_epochs": -0.5}}, r"train.treatment_warmup_epochs: must be >= 0"),
    ({"seeds": []}, r"seeds: expected a non-empty list"),
    ({"sweep": [{"plugin": "blur"}]}, r"sweep\[0\]: each \[\[sweep\]\] needs 'plugin' and 'strengths'"),
    ({"sweep": [{"plugin": "blurr", "strengths": [1]}]}, r"unknown plugin 'blurr'; known: .*blur"),
    ({"sweep": [{"plugin": "blur", "strengths": [-1]}]}, r"strength -1.0 of 'sweep\[0\] blur' is outside"),
    ({"source": {"dataset": "mnist"}}, r"unknown dataset 'mnist'; known datasets: .*printed_digits"),
    ({"model": {"name": "vgg"}}, r"unknown model 'vgg'; known models: cifar_cnn"),
])
def test_bad_configs(data, match):
    with pytest.raises(RtError, match=match):
        from_dict(data)


def test_fractions_are_parsed_not_evaluated():
    assert parse_number("8/255", "x") == 8 / 255 and parse_number(" 1 / 4 ", "x") == 0.25
    for bad in ("__import__('os')", "2**8", "1/0"):
        with pytest.raises(RtError, match="is not a number or a fraction"):
            parse_number(bad, "x")


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(RtError, match="config file .* not found"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("seeds = [0,\n")
    with pytest.raises(RtError, match="is not valid TOML"):
        load_config(bad)


def test_shipped_presets_validate():
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "examples"
    for name in ("quickstart.toml", "study.toml", "digits_full_probe.toml", "paper_cifar10_svhn.toml",
                 "gpu_study.toml", "study_whiten.toml", "study_dense1.toml"):
        cfg = load_config(root / name)
        assert cfg.sweep
    quick = load_config(root / "quickstart.toml")
    assert {"weight_decay", "last_layer"} <= {s.plugin for s in quick.sweep}
    # identity + 2 strengths: three ordered levels per plugin for the blocked trend test; >= 5 seeds
    assert all(len(s.strengths) >= 2 for s in quick.sweep) and len(quick.seeds) >= 5


def test_the_reference_study_changes_only_the_warm_up_the_first_conv_and_the_grids():
    """The reference study (study_whiten) is the first study's protocol with a treatment warm-up and a
    whitened first conv: same pair, model, recipe otherwise, probe, radius and seeds; every built-in, the
    identity plus 4 strengths."""
    import dataclasses
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "examples"
    study, warm = load_config(root / "study.toml"), load_config(root / "study_whiten.toml")
    assert study.train.treatment_warmup_epochs == 0 and warm.train.treatment_warmup_epochs > 0
    assert not study.train.whiten_first_conv and warm.train.whiten_first_conv
    assert dataclasses.replace(warm.train, treatment_warmup_epochs=0.0, whiten_first_conv=False) == study.train
    for part in ("source", "target", "model", "transfer", "attack", "seeds"):
        assert getattr(warm, part) == getattr(study, part), part
    assert {s.plugin for s in warm.sweep} == {s.plugin for s in study.sweep}
    assert all(len(set(s.strengths)) >= 4 for s in warm.sweep)
    assert {trial_key(warm, t) for t in expand(warm)}.isdisjoint({trial_key(study, t) for t in expand(study)})


def test_the_reference_study_on_the_pair_with_room_changes_the_model_probe_radius_and_grids():
    """study_dense1 is study_whiten with one hidden dense block, a 4-shot probe over 40 draws, radius 0.2
    and grids re-derived by the same rule: same pair, recipe and seeds; none of its trials is one of
    study_whiten's."""
    import dataclasses
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "examples"
    whiten, dense1 = load_config(root / "study_whiten.toml"), load_config(root / "study_dense1.toml")
    assert dense1.model.options == {**whiten.model.options, "dense_blocks": 1}
    assert (dense1.transfer.probe_shots, dense1.transfer.probe_draws) == (4, 40)
    assert dataclasses.replace(dense1.transfer, probe_shots=5, probe_draws=10) == whiten.transfer
    assert dataclasses.replace(dense1.attack, eps=0.15) == whiten.attack and dense1.attack.eps == 0.2
    for part in ("source", "target", "train", "seeds"):
        assert getattr(dense1, part) == getattr(whiten, part), part
    options = {s.plugin: s.options for s in whiten.sweep}
    assert all(s.options == options[s.plugin] for s in dense1.sweep)
    assert {trial_key(dense1, t) for t in expand(dense1)}.isdisjoint({trial_key(whiten, t) for t in expand(whiten)})


def test_the_studies_sweep_every_built_in_and_the_quickstart_is_a_part_of_the_reference_one():
    """Every study: every built-in, the identity plus >= 3 strengths (>= 4 where the plugin's strengths
    allow: the reference study's rescale grid has every op between its mildest and its strongest);
    the quickstart: the reference study's (study_dense1) protocol, so each of its trials has the key of
    one of its trials (the demo computes study trials), and none of the earlier studies'."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "examples"
    earlier = [load_config(root / name) for name in ("study.toml", "study_whiten.toml")]
    study, quick = load_config(root / "study_dense1.toml"), load_config(root / "quickstart.toml")
    builtin = {"adversarial", "jacobian", "weight_decay", "last_layer", "blur", "rescale", "rotation", "translation"}
    for cfg in (*earlier, study):
        assert {s.plugin for s in cfg.sweep} == builtin
        assert all(len(set(s.strengths)) >= (3 if s.plugin == "rescale" else 4) for s in cfg.sweep)
    rescale = next(s for s in study.sweep if s.plugin == "rescale").strengths
    assert [16 / float(x) for x in rescale] == pytest.approx([15, 14, 13], rel=1e-12)  # every size in between
    quick_keys = {trial_key(quick, t) for t in expand(quick)}
    assert quick_keys <= {trial_key(study, t) for t in expand(study)}
    for cfg in earlier:
        assert quick_keys.isdisjoint({trial_key(cfg, t) for t in expand(cfg)})


# Trial keys leave out every setting at its default (a new option with a behaviour-keeping default must
# not orphan a stored study), so a changed default would silently re-label stored trials: pinned here.
PINNED_DEFAULTS = {
    "DataConfig": {"dataset": "printed_digits", "root": "", "options": {}},
    "ModelConfig": {"name": "cifar_cnn", "options": {}},
    "TrainConfig": {"epochs": 10, "batch_size": 128, "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0005,
                    "milestones": [], "gamma": 0.1, "warmup_epochs": 0.0, "base_augment": "none",
                    "schedule": "step", "nesterov": False, "treatment_warmup_epochs": 0.0,
                    "whiten_first_conv": False},
    "TransferConfig": {"mode": "linear_probe", "epochs": 40, "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0005,
                       "batch_size": 128, "milestones": [], "probe_l2": 0.0001, "probe_iters": 200,
                       "probe_tol": 1e-09, "probe_folds": 0, "probe_shots": 0, "probe_draws": 10},
    "AttackConfig": {"norm": "l2", "eps": 0.25, "steps": 20, "alpha": 0.0, "restarts": 1, "n_eval": 1000},
    "SourceModelsConfig": {"keep": False, "checkpoints": ""},
}


def test_no_default_that_trial_keys_omit_has_changed():
    import dataclasses

    from rt_core.experiment import config

    for name, pinned in PINNED_DEFAULTS.items():
        found = {f.name: f.default if f.default is not dataclasses.MISSING else f.default_factory()
                 for f in dataclasses.fields(getattr(config, name))}
        # a new field may be added (its default keeps keys); an existing default may never change
        assert {k: found[k] for k in pinned} == pinned, f"{name}: a changed default re-labels stored trials"


def test_a_new_option_at_its_default_keeps_every_key_and_any_other_value_changes_it():
    import dataclasses

    base = from_dict(GOOD)
    t = expand(base)[1]
    assert trial_key(base, t) == trial_key(from_dict({**GOOD, "report": {"alpha": 0.01}}), t)
    bumped = dataclasses.replace(base, train=dataclasses.replace(base.train, nesterov=True))
    assert trial_key(bumped, t) != trial_key(base, t)
    spelled = from_dict({**GOOD, "train": {**GOOD.get("train", {}), "nesterov": False}})
    assert trial_key(spelled, t) == trial_key(base, t)  # writing out a default is the same trial


def test_every_number_and_list_of_the_config_declares_its_check():
    """The one declarative place: each numeric or list field states its range beside its default."""
    import dataclasses
    import typing

    from rt_core.experiment import config

    for cls in (*{*config.SECTIONS.values()}, config.ExperimentConfig, config.SweepConfig):
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if hints[f.name] in (int, float, list) and "each" not in f.metadata:
                assert isinstance(f.metadata.get("check"), config.Check), f"{cls.__name__}.{f.name}"


def test_a_new_field_without_a_check_cannot_slip_past_the_validator():
    from dataclasses import dataclass

    from rt_core.experiment.config import check_fields

    @dataclass(frozen=True)
    class NewSection:
        speed: float = 1.0

    with pytest.raises(TypeError, match="NewSection.speed declares no Check"):
        check_fields(NewSection(), "new")


def test_a_config_built_in_python_is_checked_by_the_sweep_too(tmp_path):
    import dataclasses

    from rt_core.experiment.executors import LocalExecutor
    from rt_core.experiment.sweep import run_sweep

    cfg = from_dict(GOOD)
    bad = dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, lr=float("nan")), seeds=[0])
    with pytest.raises(RtError, match="train.lr: must be a finite number > 0, got nan"):
        run_sweep(bad, str(tmp_path / "out"), LocalExecutor(), device="cpu")
    assert not (tmp_path / "out").exists()
