"""Source models kept and brought ([SAL20]'s setting), end to end on checkpoints the test creates."""

import hashlib

import pytest
import torch

import rt_core
from rt_core.cli import main
from tests.helpers.tiny import TINY, TINY_RUN_EXIT

ONE = TINY.replace("seeds = [0, 1]", "seeds = [0]").split("[[sweep]]\nplugin = \"weight_decay\"")[0] \
    .replace("strengths = [1.0]", "strengths = [0.5]")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RT_CACHE", str(tmp_path / "cache"))


def _kept_run(tmp_path):
    config = tmp_path / "keep.toml"
    config.write_text(ONE + "[source_models]\nkeep = true\n")
    out = tmp_path / "trained"
    assert main(["run", str(config), "--out", str(out), "--device", "cpu", "--quiet"]) == TINY_RUN_EXIT
    return rt_core.load_results(out), out


def test_kept_models_brought_back_give_the_same_metrics(tmp_path):
    trained, out = _kept_run(tmp_path)
    assert sorted(p.stem for p in (out / "models").glob("*.safetensors")) == sorted(trained["key"])
    rows = trained.set_index("plugin")
    # the blur model as a robustness-library checkpoint (.pt), vanilla as the kept safetensors file
    state = {k: v for k, v in __import__("safetensors.torch", fromlist=["load_file"]).load_file(
        str(out / "models" / f"{rows.loc['blur', 'key']}.safetensors")).items()}
    wrapped = {"model": {**{f"module.model.{k}": v for k, v in state.items()},
                         **{f"module.attacker.model.{k}": v for k, v in state.items()},
                         "module.normalizer.mean": torch.zeros(3)}, "epoch": 2}
    torch.save(wrapped, tmp_path / "blur_robust.pt")
    (tmp_path / "family.csv").write_text(
        "plugin,strength,seed,path\n"
        f"vanilla,0,0,trained/models/{rows.loc['vanilla', 'key']}.safetensors\nblur,0.5,0,blur_robust.pt\n")
    config = tmp_path / "bring.toml"
    config.write_text(ONE + '[source_models]\ncheckpoints = "family.csv"\n')
    brought = rt_core.run(config, tmp_path / "brought", device="cpu").set_index("plugin")
    for plugin in ("vanilla", "blur"):
        assert not brought.loc[plugin, "trained"] and brought.loc[plugin, "status"] == "finished"
        for metric in ("acc_src", "acc_tgt", "loss_src", "rob_src"):
            assert brought.loc[plugin, metric] == pytest.approx(rows.loc[plugin, metric], abs=1e-9), metric
    path = brought.loc["blur", "checkpoint"]
    from rt_core.results.store import Store

    row = next(r for r in Store(tmp_path / "brought", read_only=True).rows() if r["plugin"] == "blur")
    assert row["versions"]["checkpoint_sha256"] == hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_a_checkpoint_of_another_architecture_is_one_line(tmp_path, capsys):
    other = rt_core.create_model("cifar_cnn", num_classes=10, width=0.5, hidden=8, image_size=8)
    torch.save(other.state_dict(), tmp_path / "wide.pt")
    (tmp_path / "family.csv").write_text("plugin,strength,seed,path\nvanilla,0,0,wide.pt\nblur,0.5,0,wide.pt\n")
    config = tmp_path / "bring.toml"
    config.write_text(ONE + '[source_models]\ncheckpoints = "family.csv"\n')
    assert main(["run", str(config), "--out", str(tmp_path / "out"), "--device", "cpu", "--quiet"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "wide.pt does not fit model 'cifar_cnn': 'features.1.weight' has shape (16, 3, 3, 3), " \
        "the model (8, 3, 3, 3)" in err, err
    assert not (tmp_path / "out").exists()


def test_a_trial_without_a_checkpoint_is_named(tmp_path, capsys):
    torch.save({}, tmp_path / "x.pt")
    (tmp_path / "family.csv").write_text("plugin,strength,seed,path\nvanilla,0,0,x.pt\n")
    config = tmp_path / "bring.toml"
    config.write_text(ONE + '[source_models]\ncheckpoints = "family.csv"\n')
    assert main(["run", str(config), "--out", str(tmp_path / "out"), "--device", "cpu"]) == 2
    assert "no checkpoint for trial blur=0.5 seed 0; add a line blur,0.5,0,PATH" in capsys.readouterr().err


def _torchvision(depth: int):
    """torchvision's ResNet-``depth`` (no weights: offline) with 10 classes and batch-norm statistics
    that are not the defaults, in evaluation mode."""
    tv = rt_core.import_torchvision()
    torch.manual_seed(depth)
    model = getattr(tv.models, f"resnet{depth}")(weights=None, num_classes=10).eval()
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    return model


def _same_function(ours, theirs, mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225)):
    """Our model (normalisation inside) and theirs (normalised inputs) give the same logits: the same
    float32 operations on the same numbers, so equal up to a few roundings of the largest logit."""
    x = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    m, s = torch.tensor(mean).view(1, 3, 1, 1), torch.tensor(std).view(1, 3, 1, 1)
    with torch.no_grad():
        a, b = ours.eval()(x), theirs.eval()((x - m) / s)
    assert torch.allclose(a, b, rtol=0, atol=64 * torch.finfo(torch.float32).eps * float(b.abs().max()))


@pytest.mark.parametrize("depth", [18, 50])
def test_torchvision_and_timm_resnets_load_through_the_key_map(tmp_path, depth):
    from safetensors.torch import save_file

    from rt_core.experiment.checkpoints import load_into

    theirs = _torchvision(depth)
    state = theirs.state_dict()
    torch.save(state, tmp_path / "tv.pt")
    # timm names these ResNets' parameters as torchvision does; its training script saves them under
    # state_dict (and an EMA copy), from a DataParallel model; the hub's files are plain safetensors
    timm_train = {"epoch": 3, "arch": f"resnet{depth}", "state_dict": {f"module.{k}": v for k, v in state.items()},
                  "state_dict_ema": {k: v + 1 for k, v in state.items()}}
    torch.save(timm_train, tmp_path / "timm.pth.tar")
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "model.safetensors"))
    for name in ("tv.pt", "timm.pth.tar", "model.safetensors"):
        ours = rt_core.create_model(f"tv_resnet{depth}", num_classes=10)
        load_into(ours, tmp_path / name, f"tv_resnet{depth}")
        _same_function(ours, theirs)


def test_the_robustness_library_layout_loads_with_its_normalizer(tmp_path):
    from rt_core.experiment.checkpoints import load_into

    theirs = _torchvision(18)
    mean, std = torch.tensor([0.4914, 0.4822, 0.4465]), torch.tensor([0.2023, 0.1994, 0.2010])
    inner = {**{f"module.model.{k}": v for k, v in theirs.state_dict().items()},
             **{f"module.attacker.model.{k}": torch.zeros_like(v) for k, v in theirs.state_dict().items()},
             "module.normalizer.new_mean": mean.view(3, 1, 1), "module.normalizer.new_std": std.view(3, 1, 1),
             "module.attacker.normalize.new_mean": mean.view(3, 1, 1)}
    torch.save({"model": inner, "optimizer": {}, "epoch": 90}, tmp_path / "sal20.pt")
    ours = rt_core.create_model("tv_resnet18", num_classes=10)
    load_into(ours, tmp_path / "sal20.pt", "tv_resnet18")
    _same_function(ours, theirs, mean.tolist(), std.tolist())


def test_a_checkpoint_nothing_of_which_matches_names_the_users_own_keys(tmp_path):
    from rt_core.experiment.checkpoints import load_into

    torch.save({"encoder.0.weight": torch.zeros(2, 2), "encoder.0.bias": torch.zeros(2)}, tmp_path / "mine.pt")
    model = rt_core.create_model("tv_resnet18", num_classes=10)
    with pytest.raises(rt_core.RtError, match=r"matches no key of model 'tv_resnet18'.*'encoder\.0\.weight'") as err:
        load_into(model, tmp_path / "mine.pt", "tv_resnet18")
    assert "\n" not in str(err.value) and "features.0.mean" not in str(err.value)
    state = _torchvision(18).state_dict()
    del state["layer4.1.bn2.weight"]
    torch.save(state, tmp_path / "short.pt")
    with pytest.raises(rt_core.RtError, match=r"'layer4\.1\.bn2\.weight' is missing from the file") as err:
        load_into(model, tmp_path / "short.pt", "tv_resnet18")
    assert "features.0.mean" not in str(err.value)
