"""Room to move: the strongest-strength table and its criteria, on planted rows."""

import pytest

from theory.report.headroom import checks, markdown, settings, strongest


def _row(plugin, strength, seed, acc_src, acc_tgt, rob=45.0, plateau=20, steps=300, status="finished"):
    return {"plugin": plugin, "strength": strength, "seed": seed, "status": status, "acc_src": acc_src,
            "probe_acc_src": acc_src, "acc_tgt": acc_tgt, "rob_src": rob, "plateau_step": plateau,
            "plateau_frac": None if plateau is None else plateau / steps}


def _rows():
    rows = []
    for seed, tgt in enumerate((78.0, 80.0, 82.0)):
        rows.append(_row("vanilla", 0.0, seed, 99.0, tgt))
        rows.append(_row("blur", 0.5, seed, 97.0, tgt))
        rows.append(_row("blur", 1.0, seed, 80.0, tgt, plateau=60))
        rows.append(_row("rotation", 90.0, seed, 30.0, tgt, plateau=None))  # never left the plateau
    return rows


def test_strongest_is_the_strength_furthest_from_the_identity():
    assert strongest(_rows(), {"blur": 0.0, "rotation": 0.0}) == {"blur": 1.0, "rotation": 90.0}
    assert strongest([_row("rescale", 1.5, 0, 90, 80), _row("rescale", 3.0, 0, 80, 80)], {"rescale": 1.0}) == \
        {"rescale": 3.0}


def test_settings_summarise_over_seeds_and_count_a_plateau_never_left_as_all_of_training():
    table = settings(_rows(), {"blur": 0.0, "rotation": 0.0})
    assert [(s.plugin, s.strength, s.seeds) for s in table] == [("vanilla", 0.0, 3), ("blur", 1.0, 3),
                                                                 ("rotation", 90.0, 3)]
    assert table[0].mean["acc_tgt"] == pytest.approx(80.0) and table[0].sd["acc_tgt"] == pytest.approx(2.0)
    assert table[1].mean["plateau_frac"] == pytest.approx(0.2)
    assert table[2].mean["plateau_frac"] == 1.0 and table[2].mean["plateau_step"] is None


def test_checks_read_each_criterion_off_the_means():
    table = settings(_rows(), {"blur": 0.0, "rotation": 0.0})
    found = {c.name: (c.value, c.passed) for c in checks(table, num_classes=10)}
    assert found["vanilla acc_tgt in [30, 85]"] == (pytest.approx(80.0), True)
    assert found["vanilla acc_src - acc_tgt >= 10"] == (pytest.approx(19.0), True)
    assert found["vanilla acc_tgt SD <= 1.5"] == (pytest.approx(2.0), False)
    assert found["vanilla plateau_frac <= 0.1"] == (pytest.approx(20 / 300), True)
    assert found["blur 1: costs >= 5 points of acc_src"] == (pytest.approx(19.0), True)
    assert found["blur 1: plateau_frac <= 0.1"] == (pytest.approx(0.2), False)
    assert found["rotation 90: acc_src >= 40"] == (pytest.approx(30.0), False)
    assert "| rotation | 90 | 3 |" in markdown(table, checks(table, 10))


def test_the_plateau_criterion_reads_the_stay_step_where_every_trial_records_it():
    """A setting that fell back onto the plateau (a held penalty's, say: vanilla's plateau step by
    construction) passes on plateau_frac and fails on plateau_stay_frac; settings whose trials do not
    all record the stay step keep the plateau_frac criterion, named as such."""
    rows = []
    for seed in range(3):
        rows.append(_row("vanilla", 0.0, seed, 99.0, 80.0) | {"plateau_stay_step": 20, "plateau_stay_frac": 20 / 300})
        rows.append(_row("jacobian", 0.01, seed, 90.0, 80.0) | {"plateau_stay_step": 45, "plateau_stay_frac": 0.15})
        rows.append(_row("blur", 1.0, seed, 90.0, 80.0) | ({"plateau_stay_step": 20, "plateau_stay_frac": 20 / 300}
                                                           if seed else {}))
    rows.append(_row("rotation", 90.0, 0, 90.0, 80.0) | {"plateau_stay_step": None, "plateau_stay_frac": None})
    table = settings(rows, {"jacobian": 0.0, "blur": 0.0, "rotation": 0.0})
    found = {c.name: (c.value, c.passed) for c in checks(table, num_classes=10)}
    assert found["vanilla plateau_stay_frac <= 0.1"] == (pytest.approx(20 / 300), True)
    assert table[2].mean["plateau_frac"] == pytest.approx(20 / 300)  # jacobian: vanilla's plateau step
    assert found["jacobian 0.01: plateau_stay_frac <= 0.1"] == (pytest.approx(0.15), False)
    assert found["blur 1: plateau_frac <= 0.1"] == (pytest.approx(20 / 300), True)  # seed 0 records no stay step
    assert found["rotation 90: plateau_stay_frac <= 0.1"] == (1.0, False)  # back on the plateau at the end
    assert "| vanilla | 0 | 3 |" in markdown(table, checks(table, 10))


def test_rows_without_plateau_metrics_give_no_plateau_rather_than_a_full_one():
    rows = [{k: v for k, v in _row("vanilla", 0.0, s, 99.0, 80.0).items() if not k.startswith("plateau")}
            for s in range(2)]
    table = settings(rows, {})
    assert table[0].mean["plateau_frac"] is None
    assert {c.name: c.passed for c in checks(table, 10)}["vanilla plateau_frac <= 0.1"] is None
