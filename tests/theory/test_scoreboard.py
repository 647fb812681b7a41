"""The scoreboard of predictors of transfer on planted data: a score equal to rel_dt ranks the trials
of every seed exactly (tau 1), its negation tau -1, noise tau near 0; the seed-bootstrap interval holds
the mean; trend signs; built from report rows (identity once per seed, unusable trials left out)."""

import dataclasses
import json

import numpy as np
import pytest
from scipy import stats

from rt_core import PredictorSpec, hookimpl
from theory.report import analysis as an
from theory.report import scoreboard as sb

PLUGINS = ("blur", "jacobian")


def _points(seeds=30, levels=4, slope=1.0, seed=0):
    """Per seed: the vanilla (rel_dt 0, shared by both plugins) and each plugin's ``levels`` strengths
    with rel_dt = slope * rank + noise; score_same = rel_dt, score_negated = -rel_dt, score_noise at random."""
    rng = np.random.default_rng(seed)
    points = []
    for s in range(seeds):
        for p in PLUGINS:
            for j in range(levels + 1):
                rel = 0.0 if j == 0 else slope * j + rng.normal(0, 1.5)
                points.append({"plugin": p, "seed": s, "rank": j, "trial": ("v", s) if j == 0 else (p, j, s),
                               "rel_dt": rel, "acc_tgt": 60 + rel, "acc_src": 90.0, "rob_src": rng.normal(50, 5),
                               "score_same": rel, "score_negated": -rel, "score_noise": rng.normal(),
                               sb.THEORY: float(j) if p == "blur" else 0.0})
    return points


def _by_name(board):
    return {b.name: b for b in board.predictors}


def test_a_score_equal_to_rel_dt_has_tau_1_its_negation_minus_1_and_noise_near_0():
    board = sb.score(_points(), resamples=500)
    got = _by_name(board)
    assert board.trials == 30 * (1 + 2 * 4) and board.seeds == 30 and board.measured == ("acc_tgt", "rel_dt")
    for m in ("rel_dt", "acc_tgt"):  # acc_tgt = 60 + rel_dt here: the same ranking
        assert got["score_same"].overall[m].tau == pytest.approx(1.0)
        assert got["score_negated"].overall[m].tau == pytest.approx(-1.0)
        assert abs(got["score_noise"].overall[m].tau) < 0.1 and got["score_noise"].overall[m].seeds == 30
    noise = got["score_noise"].overall["rel_dt"]
    assert noise.ci[0] < 0 < noise.ci[1]
    for p in PLUGINS:
        assert got["score_same"].per_plugin[p]["rel_dt"].tau == pytest.approx(1.0)
        assert got["score_negated"].per_plugin[p]["acc_tgt"].tau == pytest.approx(-1.0)
    assert board.best == {"acc_tgt": "score_same", "rel_dt": "score_same"}
    assert [b.kind for b in board.predictors] == ["score"] * 3 + ["baseline"] * 2 + ["theory"]


def test_the_seed_bootstrap_interval_contains_the_mean_and_needs_two_seeds():
    taus = np.random.default_rng(3).uniform(-0.5, 0.9, 12)
    a = sb.seed_agreement(taus, resamples=1000)
    assert a.tau == pytest.approx(taus.mean()) and a.ci[0] < a.tau < a.ci[1] and a.seeds == 12
    assert a.ci[0] >= taus.min() and a.ci[1] <= taus.max()
    assert sb.seed_agreement([0.3, 0.3, 0.3], 100).ci == pytest.approx((0.3, 0.3))
    assert sb.seed_agreement([0.4, np.nan], 100) == sb.seed_agreement([0.4], 100)
    assert sb.seed_agreement([0.4], 100).ci is None and sb.seed_agreement([np.nan], 100).tau is None
    board = sb.score(_points(), resamples=300)
    for b in board.predictors:
        for a in [*b.overall.values(), *[x for per in b.per_plugin.values() for x in per.values()]]:
            assert a.tau is None or a.ci is None or a.ci[0] <= a.tau <= a.ci[1]


def test_kendall_tau_is_scipys_tau_b_with_ties_and_skips_missing_pairs():
    rng = np.random.default_rng(1)
    for _ in range(20):
        x, y = rng.integers(0, 4, 12).astype(float), rng.integers(0, 5, 12).astype(float)
        if np.ptp(x) and np.ptp(y):
            assert sb.kendall_tau(x, y) == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-12)
    assert sb.kendall_tau([1, 2, np.nan, 3], [1, 2, 5, 3]) == 1.0
    assert np.isnan(sb.kendall_tau([1, 2, np.nan], [1, 2, 3]))


def test_a_lower_is_better_predictor_is_negated_before_it_is_compared(rt_plugin):
    class Lower:
        @hookimpl
        def rt_register_predictors(self, register):
            register(PredictorSpec("lowscore", lambda data: 0.0, higher_is_better=False))

    rt_plugin(Lower(), "lower")
    points = [{**p, "score_lowscore": -p["rel_dt"]} for p in _points(seeds=5)]
    low = _by_name(sb.score(points, 100))["score_lowscore"]
    assert low.higher_is_better is False and low.overall["rel_dt"].tau == pytest.approx(1.0)


def test_the_trend_sign_per_plugin_and_the_theorys_direction():
    board = _by_name(sb.score(_points(slope=3.0), 100))
    same = board["score_same"].trends["blur"]
    assert same.same_sign is True and same.predictor == pytest.approx(same.measured) and same.measured > 0.5
    assert board["score_negated"].trends["jacobian"].same_sign is False
    theory = board[sb.THEORY]
    assert theory.trends["blur"].predictor == 1.0 and theory.trends["blur"].same_sign is True
    assert theory.trends["jacobian"].predictor is None and theory.trends["jacobian"].same_sign is None
    assert theory.per_plugin["jacobian"]["rel_dt"].tau is None  # "no effect" ranks every trial alike


def _rows(seeds=6):
    """Report rows: per seed a vanilla (acc_src 90, acc_tgt 60) and blur at 1, 2, 3 with rel_dt = 2 * rank
    (+ seed noise); score_logme = rel_dt; blur 3 of seed 0 never learned (acc_src 10)."""
    rng = np.random.default_rng(0)
    rows = []
    for s in range(seeds):
        rows.append({"plugin": "vanilla", "strength": 0.0, "seed": s, "status": "finished", "acc_src": 90.0,
                     "acc_tgt": 60.0, "rob_src": 40.0, "score_logme": 0.0})
        for j, strength in enumerate((1.0, 2.0, 3.0), 1):
            rel = 2 * j + rng.normal(0, 0.5)
            acc_src = 10.0 if (s, j) == (0, 3) else 90.0
            rows.append({"plugin": "blur", "strength": strength, "seed": s, "status": "finished", "acc_src": acc_src,
                         "acc_tgt": 60.0 + rel, "rob_src": 40.0 - j, "score_logme": rel, "score_leep": None})
    return rows


def test_built_from_report_rows_the_identity_counts_once_and_unusable_trials_are_left_out():
    rows = _rows()
    data = {"blur": an.plugin_data(rows, "blur", 0.0, list(range(6)), 20.0, 20.0)}
    points = sb.trial_points(rows, data, {"blur": "rises"})
    assert len(points) == 6 * 4 - 1 and not any(p["seed"] == 0 and p["rank"] == 3 for p in points)
    board = sb.build(rows, data, {"blur": "rises"}, 200)
    got = _by_name(board)
    assert board.trials == 23 and set(got) == {"score_leep", "score_logme", "rob_src", "acc_src", sb.THEORY}
    assert got["score_logme"].overall["rel_dt"].tau == pytest.approx(1.0)
    assert got["score_leep"].overall["rel_dt"].tau is None  # a failed score (None) never ranks
    assert got["rob_src"].overall["rel_dt"].tau == pytest.approx(-1.0)
    assert got[sb.THEORY].overall["rel_dt"].tau > 0.9 and got["acc_src"].overall["rel_dt"].tau is None
    json.dumps(dataclasses.asdict(board), allow_nan=False)  # verdicts.json refuses NaN


def test_the_section_and_the_figure(tmp_path):
    rows = _rows()
    data = {"blur": an.plugin_data(rows, "blur", 0.0, list(range(6)), 20.0, 20.0)}
    points = sb.trial_points(rows, data, {"blur": "rises"})
    board = sb.score(points, 200)
    blocks = sb.blocks(board, sb.FIGURE)
    assert blocks[0].text == "Predictors of transfer" and "best on rel_dt: **logme** (+1.00" in blocks[1].markdown
    assert [b.rows[0][0] for b in blocks[2:5]] == ["leep", "blur", "blur"] and blocks[2].rows[1][0] == "logme"
    assert blocks[4].header[2] == "logme" and blocks[4].rows[0][2] == "+1.00 ✓" and blocks[4].rows[0][1] == "-"
    assert sb.write_figure(tmp_path, board, points) == {"scoreboard": sb.FIGURE}
    assert (tmp_path / sb.FIGURE).read_bytes()[:4] == b"\x89PNG"
    bare = sb.score([{k: v for k, v in p.items() if not k.startswith("score_")} for p in points], 50)
    assert "`rt scores DIR` fills them in" in sb.blocks(bare, None)[1].markdown and sb.blocks(None, None) == []


def test_a_seed_with_many_trials_gets_scipys_tau_b_without_the_pairwise_matrix():
    rng = np.random.default_rng(2)
    x = rng.integers(0, 50, sb.PAIRWISE + 10).astype(float)
    y = x + rng.normal(0, 20, len(x))
    assert sb.kendall_tau(x, y) == pytest.approx(stats.kendalltau(x, y).statistic, abs=1e-12)
    assert sb.kendall_tau(x[:200], y[:200]) == pytest.approx(stats.kendalltau(x[:200], y[:200]).statistic, abs=1e-12)
