"""Robustness vs relative transfer, blocked by seed: within-seed Spearman rho, averaged, seeds resampled."""

import numpy as np
import pytest
from scipy import stats

from theory.report import analysis as an
from theory.report.robustness import blocked_rho, blocked_text, robustness_blocked, seed_rho


def test_one_seeds_rho_is_scipys_spearman_and_undefined_when_it_cannot_be():
    pts = [(1.0, 3.0), (2.0, 1.0), (3.0, 4.0), (4.0, 2.0), (5.0, 5.0)]
    assert seed_rho(pts) == pytest.approx(stats.spearmanr(*np.array(pts).T)[0], abs=1e-12)
    assert seed_rho(pts[:3]) is None  # fewer than 4 trials
    assert seed_rho([(1.0, 2.0), (1.0, 3.0), (1.0, 1.0), (1.0, 0.0)]) is None  # rob_src constant


def test_seed_offsets_that_fake_a_pooled_rise_do_not_move_the_blocked_rho():
    # within every seed rel_dt falls as rob_src rises; seeds with more robustness sit higher overall
    per_seed = {s: [(10.0 * s + k, 10.0 * s - k) for k in range(5)] for s in range(4)}
    pooled = np.array([p for pts in per_seed.values() for p in pts])
    assert stats.spearmanr(pooled[:, 0], pooled[:, 1])[0] > 0.5
    b = blocked_rho(per_seed)
    assert b.rho == pytest.approx(-1.0) and b.ci == pytest.approx((-1.0, -1.0)) and (b.seeds, b.trials) == (4, 20)


def test_the_interval_resamples_seeds_and_contains_the_mean():
    rng = np.random.default_rng(0)
    per_seed = {s: [(float(x), float(x * (s % 3 - 1) + rng.normal())) for x in range(6)] for s in range(9)}
    b = blocked_rho(per_seed)
    rhos = [seed_rho(pts) for pts in per_seed.values()]
    assert b.rho == pytest.approx(np.mean(rhos), abs=1e-12)
    assert b.ci[0] <= b.rho <= b.ci[1] and min(rhos) <= b.ci[0] and b.ci[1] <= max(rhos)
    assert blocked_rho({0: per_seed[0]}).ci is None and blocked_rho({}).rho is None


def _rows(seeds=5):
    """Per seed a vanilla and blur at 1..4: rob_src falls with strength, rel_dt rises, one trial flagged."""
    rows = []
    for s in range(seeds):
        rows.append({"plugin": "vanilla", "strength": 0.0, "seed": s, "status": "finished", "acc_src": 90.0,
                     "acc_tgt": 60.0, "rob_src": 50.0})
        for j in range(1, 5):
            acc_src = 60.0 if (s, j) == (0, 4) else 90.0 - 0.1 * j  # seed 0's strongest: 30 below, flagged
            rows.append({"plugin": "blur", "strength": float(j), "seed": s, "status": "finished",
                         "acc_src": acc_src, "acc_tgt": 60.0 + 2 * j + 0.1 * s, "rob_src": 50.0 - 3 * j})
    return rows


def test_from_report_tables_overall_without_flagged_and_per_plugin():
    rows = _rows()
    data = {"blur": an.plugin_data(rows, "blur", 0.0, list(range(5)), 20.0, 20.0)}
    r = robustness_blocked(data)
    assert r.overall.rho == pytest.approx(-1.0) and (r.overall.seeds, r.overall.trials) == (5, 20)
    assert (r.unflagged.seeds, r.unflagged.trials) == (4, 16)  # seed 0 keeps 3 trials: no rho
    assert r.per_plugin["blur"].rho == pytest.approx(-1.0) and r.per_plugin["blur"].trials == 25
    text = blocked_text(r)
    assert "all usable trials -1.00 [-1.00, -1.00] over 5 seed(s), 20 trials" in text and "blur -1.00" in text
