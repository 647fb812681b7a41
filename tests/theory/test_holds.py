"""Bounds checked to hold (as PEPit checks each bound against its theorem): small models trained on a
synthetic covariate shift where T2's assumptions hold by construction."""

import math

import pytest
import torch

from theory.holds import GRIDS, covariate_shift_pair, holds_table


@pytest.fixture(scope="module")
def table():
    torch.set_num_threads(1)
    return holds_table()


def test_the_pair_is_a_covariate_shift_with_known_w1():
    xs, xt, y, w1 = covariate_shift_pair(64, 8)
    assert torch.equal((xt[..., 0] > xt[..., 1]).long().view(-1), y)  # same labelling function
    assert abs(w1 - 0.3 * math.sqrt(8)) < 1e-12 and 0.3 < y.float().mean() < 0.7


def test_measured_tau_stays_below_the_t2_bound(table):
    for row in table:
        assert row.tau <= row.bound + 1e-6, row


@pytest.mark.parametrize("name", sorted(GRIDS))
def test_the_constrained_quantity_falls_as_the_strength_grows(table, name):
    rows = [r for r in table if r.regularizer == name]
    values = [r.constrained for r in rows]
    assert values[-1] < 0.1 * values[0], values
    assert [r.bound for r in rows][-1] < rows[0].bound
