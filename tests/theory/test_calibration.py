"""Calibration of the report's decision rule on null and planted studies, and the demo-against-study
contradiction count."""

import numpy as np
import pytest

from theory.report import calibration as cal
from theory.report.analysis import Decision, Family, decide_family
from theory.report.statistics import TrendResult


def _null_family(seeds=10, levels=4, plugins=8, sd=2.0, seed=1, expected=None) -> Family:
    rng = np.random.default_rng(seed)
    names = [f"p{i}" for i in range(plugins)]
    tables = {}
    for p in names:
        t = rng.normal(0.0, sd, (seeds, levels))
        t[:, 0] = 0.0  # rel_dt of the identity is 0 by construction
        tables[p] = t
    expected = expected or {p: "rises" if i % 2 else "none" for i, p in enumerate(names)}
    return Family(tables, expected, dict.fromkeys(names, 0), alpha=0.05, margin=2.0)


def _uncorrected(family: Family) -> dict[str, Decision]:
    """The report's rule with Holm left out: each plugin tested at alpha on its own."""
    out = decide_family(family)
    for d in out.values():
        if d.trend is not None and d.p_holm is not None:
            d.p_holm = d.trend.p_value
    return out


def test_permuting_keeps_each_seeds_values_and_planting_adds_a_ramp_from_the_identity():
    family = _null_family(seeds=3, levels=4, plugins=2)
    shuffled = cal.permuted(family, np.random.default_rng(0))
    for p, table in family.tables.items():
        assert np.array_equal(np.sort(shuffled.tables[p], axis=1), np.sort(table, axis=1))
    planted = cal.planted(family, "p0", 6.0)
    assert np.allclose(planted.tables["p0"] - family.tables["p0"], [0.0, 2.0, 4.0, 6.0])
    assert np.array_equal(planted.tables["p1"], family.tables["p1"])


def test_the_reports_rule_on_null_studies_stays_near_alpha():
    result = cal.calibrate(_null_family(), draws=300, effects=())
    # Holm over 8 exact-level tests: at most alpha in expectation; 300 draws put a share above 0.1
    # at a binomial tail probability far below 1e-3
    assert result.calibrated and result.familywise.value <= 0.1
    lo, hi = result.familywise.interval
    assert lo <= result.familywise.value <= hi and lo <= 0.05


def test_a_rule_without_holm_is_caught():
    result = cal.calibrate(_null_family(), draws=300, effects=(), decide=_uncorrected)
    # 8 plugins each at alpha 0.05: about 1 - 0.95^8 = 0.34 of null studies make a false decision
    assert not result.calibrated
    assert result.familywise.interval[0] > 0.05 and 0.2 < result.familywise.value < 0.5


def test_planted_effects_are_found_more_often_as_they_grow():
    family = _null_family(seeds=10, levels=4, plugins=4, sd=1.0)
    result = cal.calibrate(family, draws=60, effects=(0.0, 1.0, 10.0))
    for p in family.tables:
        shares = [result.found[e][p].value for e in (0.0, 1.0, 10.0)]
        assert shares[0] <= 0.2 and shares[2] >= 0.95 and shares[0] <= shares[1] <= shares[2]


def _decision(verdict: str, direction: str | None, p_holm: float | None) -> Decision:
    trend = None if direction is None else TrendResult("Page's L", 1.0, p_holm, direction, 5, 3)
    return Decision(verdict, "", trend, p_holm)


@pytest.mark.parametrize(("demo", "study", "expected"), [
    (_decision("inconclusive", "falls", 0.9), _decision("agrees", "rises", 0.001), False),
    (_decision("agrees", "rises", 0.01), _decision("agrees", "rises", 0.001), False),
    (_decision("agrees", "rises", 0.01), _decision("disagrees", "falls", 0.001), True),
    (_decision("disagrees", "falls", 0.01), _decision("inconclusive", "rises", 0.02), True),
    (_decision("disagrees", "falls", 0.01), _decision("inconclusive", "rises", 0.3), False),
])
def test_what_counts_as_a_contradiction(demo, study, expected):
    assert cal.contradicts(demo, study, alpha=0.05) is expected


def test_a_demo_grid_that_sees_the_opposite_slope_contradicts_the_study():
    rng = np.random.default_rng(3)
    # five levels: rel_dt dips at the two mild strengths, then climbs well above zero
    shape = np.array([0.0, -3.0, -6.0, 8.0, 12.0])
    table = shape + rng.normal(0.0, 0.5, (20, 5))
    table[:, 0] = 0.0
    study = Family({"dip": table, "flat": np.zeros((20, 5))}, {"dip": "rises", "flat": "none"},
                   {"dip": 0, "flat": 0}, alpha=0.05, margin=2.0)
    assert decide_family(study)["dip"].verdict == "agrees"
    mild = cal.contradictions(study, {"dip": [0, 1, 2], "flat": [0, 1, 2]}, size=5, draws=40)
    dip = next(r for r in mild if r.plugin == "dip")
    assert dip.decided == dip.contradicts > 0 and dip.same == 0
    full = cal.contradictions(study, {"dip": [0, 3, 4], "flat": [0, 3, 4]}, size=5, draws=40)
    assert all(r.contradicts == 0 for r in full)
    assert cal.contradiction_total(mild).hits == dip.contradicts


def test_demo_columns_must_sit_on_the_study_grid():
    assert cal.demo_columns([0.0, 0.5, 1.0, 2.0], [2.0, 0.5]) == [0, 1, 3]
    with pytest.raises(ValueError, match="not among the study's levels"):
        cal.demo_columns([0.0, 0.5, 1.0], [0.75])


def test_the_plan_figure_stacks_each_plugins_outcomes_to_one_and_is_written(tmp_path):
    from theory.report.plan_figures import _outcomes, plan_figure

    decided_study = cal.Contradiction("x", "agrees", 10, decided=6, same=5, contradicts=1)
    open_study = cal.Contradiction("y", "inconclusive", 10, decided=4, same=0, contradicts=1)
    assert _outcomes(decided_study) == pytest.approx(
        {"same as the study": 0.5, "decided, study not": 0.0, "inconclusive": 0.4, "contradicts": 0.1})
    assert _outcomes(open_study) == pytest.approx(
        {"same as the study": 0.0, "decided, study not": 0.3, "inconclusive": 0.6, "contradicts": 0.1})
    result = cal.calibrate(_null_family(seeds=6, plugins=2), draws=5, effects=(1.0, 10.0))
    path = plan_figure(tmp_path / "plan.png", result, [decided_study, open_study], "demo.toml")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert plan_figure(tmp_path / "cal.png", result, None).exists()
    with pytest.raises(ValueError, match="nothing to draw"):
        plan_figure(tmp_path / "none.png", None, None)
