"""Embedded domains, the disk cache, and the real loaders on data generated here."""

import numpy as np
import pytest
import torch
from PIL import Image

import rt_core
from rt_core import RtError
from rt_core.experiment.data import cache, synthetic


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RT_CACHE", str(tmp_path / "cache"))


def test_printed_digits_are_deterministic_cached_and_balanced(tmp_path):
    load = rt_core.get_dataset("printed_digits").loader
    x, y = load("train", n_train=200, size=16)
    assert x.shape == (200, 3, 16, 16) and x.dtype == torch.float32 and 0 <= x.min() and x.max() <= 1
    assert torch.equal(torch.bincount(y), torch.full((10,), 20))
    assert len(list((tmp_path / "cache").glob("printed_digits-*.pt"))) == 1
    x2, y2 = load("train", n_train=200, size=16)
    assert torch.equal(x, x2) and torch.equal(y, y2)
    fresh, _ = synthetic.generate(200, 16, seed=0)
    assert torch.equal((x * 255).round().to(torch.uint8), fresh)


def test_printed_digit_splits_differ():
    load = rt_core.get_dataset("printed_digits").loader
    a, _ = load("train", n_train=50, size=8)
    b, _ = load("test", n_test=50, size=8)
    assert not torch.equal(a, b)


def test_handwritten_digits_splits_are_disjoint_and_cover_the_1797_images():
    load = rt_core.get_dataset("handwritten_digits").loader
    parts = {s: load(s, size=8) for s in ("train", "val", "test")}
    sizes = {s: len(p[1]) for s, p in parts.items()}
    assert sum(sizes.values()) == 1797 and sizes["train"] > 1000 and min(sizes.values()) > 350
    flat = torch.cat([p[0].flatten(1) for p in parts.values()])
    assert len(torch.unique(flat, dim=0)) >= 1797 - 30  # the scans hold a few exact duplicates
    for p in parts.values():
        assert set(p[1].tolist()) == set(range(10))


def test_handwritten_fractions_move_the_cut_points_and_keep_the_train_split():
    load = rt_core.get_dataset("handwritten_digits").loader
    default = {s: load(s, size=8) for s in ("train", "val", "test")}
    assert [len(default[s][1]) for s in ("train", "val", "test")] == [1078, 360, 359]
    train, test = (load(s, size=8, val_fraction=0.0, test_fraction=0.4) for s in ("train", "test"))
    assert torch.equal(train[0], default["train"][0]) and torch.equal(train[1], default["train"][1])
    assert len(test[1]) == 719 and len(load("val", size=8, val_fraction=0.0, test_fraction=0.4)[1]) == 0

    def rows(images):
        return {tuple(r) for r in (images * 255).round().to(torch.uint8).flatten(1).tolist()}
    assert rows(test[0]) == rows(default["val"][0]) | rows(default["test"][0])  # val and test merged
    for bad in ({"val_fraction": 0.5, "test_fraction": 0.5}, {"test_fraction": 0.0}, {"val_fraction": -0.1}):
        with pytest.raises(RtError, match="handwritten_digits: val_fraction .* must satisfy"):
            load("train", size=8, **bad)


def test_corrupt_cache_file_is_one_clear_error():
    load = rt_core.get_dataset("printed_digits").loader
    load("train", n_train=20, size=8)
    path = next(cache.cache_dir().glob("printed_digits-*.pt"))
    path.write_bytes(b"not a torch file")
    with pytest.raises(RtError, match="is corrupt .*delete it and rerun"):
        load("train", n_train=20, size=8)


@pytest.mark.parametrize("name", ["cifar10", "cifar100", "svhn", "stl10"])
def test_missing_real_dataset_says_what_to_put_where(name, tmp_path):
    with pytest.raises(RtError, match=f"dataset '{name}' not found under root .*put .* there"):
        rt_core.get_dataset(name).loader("train", root=str(tmp_path))
    with pytest.raises(RtError, match="not found"):
        rt_core.get_dataset(name).loader("train", root=None)


def test_image_folder_loader_reads_generated_pngs(tmp_path):
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for cls in ("cats", "dogs"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(10):
                arr = rng.integers(0, 255, (40, 48, 3), dtype=np.uint8)
                Image.fromarray(arr).save(tmp_path / split / cls / f"{i}.png")
    load = rt_core.get_dataset("image_folder").loader
    xtr, ytr = load("train", root=str(tmp_path))
    xva, _ = load("val", root=str(tmp_path))
    xte, yte = load("test", root=str(tmp_path))
    assert xtr.shape == (18, 3, 32, 32) and len(xva) == 2 and xte.shape == (20, 3, 32, 32)
    assert sorted(yte.tolist()) == [0] * 10 + [1] * 10


def test_unknown_split_and_missing_folder():
    with pytest.raises(RtError, match="unknown split 'dev'"):
        rt_core.get_dataset("handwritten_digits").loader("dev")
    with pytest.raises(RtError, match="image folder .* not found: arrange images as ROOT/train"):
        rt_core.get_dataset("image_folder").loader("train", root="/nonexistent")
