"""A plugin author's tests: the rt contract checks (fixtures from rt's pytest plugin) plus our own."""

import torch

import rt_core


def test_contract(rt_check_augmentation):
    result = rt_check_augmentation("gaussian_noise")
    assert result["changed"] and result["gradcheck"]


def test_contract_at_large_sigma(rt_check_augmentation):
    rt_check_augmentation("gaussian_noise", strength=0.5)


def test_noise_level_matches_sigma(rt_generator):
    x = torch.full((8, 3, 32, 32), 0.5)
    y = rt_core.create_augmentation("gaussian_noise", 0.05)(x, rt_generator)
    assert abs((y - x).std().item() - 0.05) < 0.002


def test_registered_by_this_plugin():
    spec = rt_core.get_augmentation("gaussian_noise")
    assert spec.plugin == "noise" and not spec.linear
