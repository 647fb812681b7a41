"""Source models kept and brought ([SAL20]'s setting), end to end on checkpoints the test creates."""

import hashlib

import pytest
import torch

import rt_core
from rt_core.cli import main
from tests.helpers.tiny import TINY

ONE = TINY.replace("seeds = [0, 1]", "seeds = [0]").replace("strengths = [1e-3]", "strengths = []") \
    .replace("strengths = [1.0]", "strengths = [0.5]")


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RT_CACHE", str(tmp_path / "cache"))


def _kept_run(tmp_path):
    config = tmp_path / "keep.toml"
    config.write_text(ONE + "[source_models]\nkeep = true\n")
    out = tmp_path / "trained"
    assert main(["run", str(config), "--out", str(out), "--device", "cpu", "--quiet"]) == 0
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
