"""Packing: packed training (vmap or grouped convolutions) equals training each model alone with the
same generators, and `rt run --pack K` packs only what can pack, storing what an unpacked sweep stores."""

import copy
from dataclasses import replace

import pytest
import tomllib
import torch

import rt_core
from rt_core import RtError, create_augmentation, create_model
from rt_core.cli import main
from rt_core.experiment.config import TrainConfig
from rt_core.experiment.executors import LocalExecutor
from rt_core.experiment.loading import from_dict, load_config
from rt_core.experiment.packing.plan import make_packs, pack_settings, packing_method
from rt_core.experiment.packing.vmap import train_packed
from rt_core.experiment.sweep import run_sweep
from rt_core.experiment.training import Generators, train_source
from rt_core.experiment.trials import Trial, expand, trial_key
from rt_core.results.store import Store
from tests.helpers import faulty_plugins
from tests.helpers.tiny import TINY, write_tiny

ALONE = ('[[sweep]]\nplugin = "jacobian"\nstrengths = [1e-5]\n'
         '[[sweep]]\nplugin = "adversarial"\nstrengths = [0.001]\noptions = { steps = 2 }\n')
MORE = ALONE + '[[sweep]]\nplugin = "translation"\nstrengths = [0.2]\n'



@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RT_CACHE", str(tmp_path / "cache"))


def test_pack_settings_of_the_built_ins(tmp_path):
    cfg = load_config(write_tiny(tmp_path / "t.toml"))
    assert pack_settings(Trial("vanilla", 0.0, 0), cfg) == (None, 0.0)
    assert pack_settings(Trial("weight_decay", 1e-3, 0), cfg) == (None, 1e-3)
    augmentation, wd = pack_settings(Trial("translation", 0.2, 0), cfg)
    assert augmentation is not None and wd == 0.0
    for plugin in ("jacobian", "adversarial", "last_layer"):  # act through the loss or the inputs
        assert pack_settings(Trial(plugin, 0.01, 0), cfg) is None


def test_nesterov_trials_train_alone(tmp_path):
    """The packed SGD has plain momentum only, so no trial under Nesterov momentum joins a pack."""
    cfg = load_config(write_tiny(tmp_path / "t.toml"))
    nesterov = replace(cfg, train=replace(cfg.train, nesterov=True))
    for trial in (Trial("vanilla", 0.0, 0), Trial("weight_decay", 1e-3, 0), Trial("translation", 0.2, 0)):
        assert pack_settings(trial, cfg) is not None and pack_settings(trial, nesterov) is None


def test_trials_under_a_treatment_warm_up_or_a_whitened_conv_train_alone(tmp_path):
    """The packed trainer neither ramps a plugin's dose nor whitens a first conv: with either nothing packs."""
    cfg = load_config(write_tiny(tmp_path / "t.toml"))
    ramped = replace(cfg, train=replace(cfg.train, treatment_warmup_epochs=0.5))
    whitened = replace(cfg, train=replace(cfg.train, whiten_first_conv=True))
    for trial in (Trial("vanilla", 0.0, 0), Trial("weight_decay", 1e-3, 0), Trial("translation", 0.2, 0)):
        assert pack_settings(trial, cfg) is not None
        assert pack_settings(trial, ramped) is None and pack_settings(trial, whitened) is None


def test_packs_hold_packable_trials_only_and_batch_norm_models_never_pack(tmp_path):
    cfg = load_config(write_tiny(tmp_path / "t.toml", MORE))
    jobs = [(t, trial_key(cfg, t)) for t in expand(cfg)]
    packs = make_packs(cfg, jobs, 3, num_classes=10)
    assert sorted(k for p in packs for _, k in p) == sorted(k for _, k in jobs)  # every trial exactly once
    alone = {p[0][0].plugin for p in packs if len(p) == 1}
    assert {"jacobian", "adversarial"} <= alone
    assert [len(p) for p in packs if p[0][0].plugin not in ("jacobian", "adversarial")] == [3, 3, 2]
    assert packing_method(cfg, 10) == "grouped"
    resnet = from_dict({**tomllib.loads(TINY + MORE), "model": {"name": "resnet18", "options": {"width": 0.125}}})
    assert packing_method(resnet, 10) is None
    assert all(len(p) == 1 for p in make_packs(resnet, jobs, 3, num_classes=10))


def test_packed_sweep_matches_the_unpacked_sweep(tmp_path):
    # Packed training equals training alone up to float rounding (test_packed.py). Near-chance
    # models can amplify rounding through a ReLU kink (translation at seed 0 here: 1e-7 -> 5e-3
    # in its weights, as any 1e-7 change of its init does), so the sweep compares trials whose
    # training is stable: vanilla, blur, weight decay packed; jacobian and adversarial alone. Both
    # sweeps run on one torch thread in this process; even so the rounding of grouped convolutions
    # can move one test image of these 2-epoch near-chance models, so accuracies must agree to
    # within one image of their test set (source 60, target 359, robust 20 images).
    cfg = load_config(write_tiny(tmp_path / "t.toml", ALONE))
    run_sweep(cfg, str(tmp_path / "alone"), device="cpu", quiet=True, executor=LocalExecutor(1, 1))
    counts = run_sweep(cfg, str(tmp_path / "packed"), device="cpu", quiet=True, pack=4,
                       executor=LocalExecutor(1, 1))
    assert counts["finished"] == counts["total"] == 10
    alone = {r["key"]: r for r in Store(tmp_path / "alone").rows()}
    packed = {r["key"]: r for r in Store(tmp_path / "packed").rows()}
    assert alone.keys() == packed.keys()
    assert sorted(r["versions"].get("packed", "alone") for r in packed.values()) == \
        ["alone"] * 4 + ["grouped x2"] * 2 + ["grouped x4"] * 4
    for key, row in packed.items():
        ref = alone[key]["metrics"]
        for name, images in (("acc_src", 60), ("acc_tgt", 359), ("rob_src", 20)):
            assert row["metrics"][name] == pytest.approx(ref[name], abs=100 / images + 1e-9), (row["plugin"], name)
        for name in ("loss_src", "loss_tgt"):
            assert row["metrics"][name] == pytest.approx(ref[name], abs=1e-3), (row["plugin"], name)
        assert row["timings"].keys() == alone[key]["timings"].keys()
        assert row["timings"]["source_train_s"] > 0


def test_a_failing_plugin_in_a_pack_fails_only_its_own_trials(tmp_path, fresh_plugins):
    rt_core.register_plugin(faulty_plugins, "faulty")
    try:
        cfg = write_tiny(tmp_path / "t.toml", '[[sweep]]\nplugin = "explode"\nstrengths = [0.5]\n')
        assert main(["run", cfg, "--out", str(tmp_path / "out"), "--device", "cpu", "--quiet", "--pack", "8"]) == 1
    finally:
        rt_core.unregister_plugin("faulty")
    rows = Store(tmp_path / "out").rows()
    assert {r["plugin"] for r in rows if r["status"] == "failed"} == {"explode"}
    assert sum(r["status"] == "finished" for r in rows) == 6


def test_diverged_models_in_a_pack_are_stored_with_their_epoch(tmp_path):
    data = tomllib.loads(TINY)
    cfg = from_dict({**data, "train": {"epochs": 2, "batch_size": 32, "lr": 1e6, "weight_decay": 0.0}})
    counts = run_sweep(cfg, str(tmp_path / "out"), executor=LocalExecutor(), device="cpu", quiet=True, pack=6)
    rows = Store(tmp_path / "out").rows()
    assert counts["diverged"] == 6 and all(r["status"] == "diverged" and r["epoch"] == 1 for r in rows)
    assert all(r["versions"]["packed"] == "grouped x6" for r in rows)


def test_pack_below_one_is_bad_input(tmp_path, capsys):
    cfg = write_tiny(tmp_path / "t.toml")
    assert main(["run", cfg, "--out", str(tmp_path / "out"), "--device", "cpu", "--pack", "0"]) == 2
    assert "--pack must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def _data():
    g = torch.Generator().manual_seed(0)
    return torch.rand(96, 3, 8, 8, generator=g), torch.randint(0, 10, (96,), generator=g)


def _model(seed):
    torch.manual_seed(seed)
    return create_model("cifar_cnn", num_classes=10, width=0.25, hidden=16, image_size=8)


@pytest.mark.parametrize("method", ["vmap", "grouped"])
def test_packed_training_matches_training_each_model_alone(method):
    x, y = _data()
    cfg = TrainConfig(epochs=2, batch_size=32, lr=0.05, weight_decay=0.0, warmup_epochs=0.5, milestones=[2],
                      base_augment="crop_flip")
    setups = [(0, None, 0.0), (1, create_augmentation("translation", 0.2), 0.0), (2, None, 5e-3)]
    alone, exact = [], []
    for seed, aug, wd in setups:
        for models, inputs, cast in ((alone, x, lambda m: m), (exact, x.double(), lambda m: m.double())):
            model = cast(_model(seed))
            train_source(model, inputs, y, replace(cfg, weight_decay=wd), Generators.seeded(seed, x.device), aug)
            models.append(model)
    packed = [_model(seed) for seed, _, _ in setups]
    diverged = train_packed(packed, x, y, cfg, [Generators.seeded(s, x.device) for s, _, _ in setups],
                            [a for _, a, _ in setups], [w for _, _, w in setups], method)
    assert diverged == [None, None, None]
    unit = torch.finfo(torch.float32).eps / 2
    for a, b, ref in zip(alone, packed, exact, strict=True):
        # packed and alone training are float32 runs of the same float64 computation (ref) whose sums
        # are ordered differently; the packed run may not stray from ref by more than a small factor
        # of the alone run's own rounding (measured: 4x at most), plus a few roundings of ref itself
        for (name, pa), pb, pr in zip(a.named_parameters(), b.parameters(), ref.parameters(), strict=True):
            err_alone, err_packed = ((p.detach().double() - pr.detach()).abs().max().item() for p in (pa, pb))
            assert err_packed <= 10 * err_alone + 10 * unit * pr.abs().max().item(), name
    # the three models really differ (different seeds, augmentation, weight decay)
    assert not torch.allclose(packed[0].head.weight, packed[1].head.weight)


def test_a_diverging_model_does_not_stop_the_others():
    x, y = _data()
    cfg = TrainConfig(epochs=2, batch_size=32, lr=0.05, weight_decay=0.0, milestones=[])
    models = [_model(0), _model(1)]
    with torch.no_grad():
        models[1].head.weight.fill_(float("nan"))
    before = models[0].head.weight.clone()
    diverged = train_packed(models, x, y, cfg, [Generators.seeded(s, x.device) for s in (0, 1)], [None, None],
                            [0.0, 0.0])
    assert diverged == [None, 1]
    assert torch.isfinite(models[0].head.weight).all() and not torch.equal(before, models[0].head.weight)


def test_batch_norm_models_are_refused():
    models = [create_model("resnet18", num_classes=10, width=0.125) for _ in range(2)]
    with pytest.raises(RtError, match="needs a model without batch norm"):
        train_packed(models, *_data(), TrainConfig(epochs=1), [Generators.seeded(0, torch.device("cpu"))] * 2,
                     [None, None], [0.0, 0.0])


def test_grouped_forward_equals_each_model_forward():
    from torch.func import stack_module_state

    from rt_core.experiment.packing.grouped import grouped_forward, layers

    models = [_model(seed) for seed in range(3)]
    x = torch.rand(3, 5, 3, 8, 8, generator=torch.Generator().manual_seed(1))
    params, buffers = stack_module_state(models)
    out = grouped_forward(layers(models[0]), params, buffers, x)
    unit = torch.finfo(torch.float32).eps / 2
    for k, model in enumerate(models):
        # Both are float32 evaluations of the same sums in other orders (grouped vs plain convolutions),
        # so each lies within float32 rounding of the float64 value; the grouped one may not be worse
        # than the plain one by more than a small factor (10: two draws of the max over 50 logits).
        with torch.no_grad():
            exact = copy.deepcopy(model).double()(x[k].double())
            plain = model(x[k])
        err_grouped = (out[k].detach().double() - exact).abs().max().item()
        err_plain = (plain.double() - exact).abs().max().item()
        assert err_grouped <= 10 * err_plain + 10 * unit * exact.abs().max().item()


def test_grouped_packing_refuses_models_it_cannot_group():
    models = [create_model("resnet18", num_classes=10, width=0.125) for _ in range(2)]
    from rt_core.experiment.packing.grouped import layers

    with pytest.raises(RtError, match="grouped packing does not support layer features.2"):
        layers(models[0])


@pytest.mark.parametrize("method", ["vmap", "grouped"])
def test_bf16_autocast_packing_runs_and_stays_near_fp32(method):
    # the GPU path trains under bf16 autocast; CPU autocast runs the same code
    x, y = _data()
    cfg = TrainConfig(epochs=1, batch_size=32, lr=0.05, weight_decay=0.0, milestones=[])
    runs = []
    for autocast in (False, True):
        models = [_model(s) for s in (0, 1)]
        assert train_packed(models, x, y, cfg, [Generators.seeded(s, x.device) for s in (0, 1)], [None, None],
                            [0.0, 0.0], method, autocast=autocast) == [None, None]
        runs.append(models)
    for fp32, bf16 in zip(*runs, strict=True):
        assert bf16.head.weight.dtype == torch.float32
        assert torch.allclose(fp32.head.weight, bf16.head.weight, atol=0.05)
