"""Packed (vmapped) training equals training each model alone with the same generators."""

from dataclasses import replace

import pytest
import torch

from rt_core import RtError, create_augmentation, create_model
from rt_core.experiment.config import TrainConfig
from rt_core.experiment.packing.vmap import train_packed
from rt_core.experiment.training import Generators, train_source


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
    alone = []
    for seed, aug, wd in setups:
        model = _model(seed)
        train_source(model, x, y, replace(cfg, weight_decay=wd), Generators.seeded(seed, x.device), aug)
        alone.append(model)
    packed = [_model(seed) for seed, _, _ in setups]
    diverged = train_packed(packed, x, y, cfg, [Generators.seeded(s, x.device) for s, _, _ in setups],
                            [a for _, a, _ in setups], [w for _, _, w in setups], method)
    assert diverged == [None, None, None]
    for a, b in zip(alone, packed, strict=True):
        for (name, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
            assert torch.allclose(pa, pb, rtol=1e-4, atol=1e-5), name
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
    for k, model in enumerate(models):
        assert torch.allclose(out[k], model(x[k]), atol=1e-6)


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
