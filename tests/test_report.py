"""Matching on synthetic tables with known trends, the report from a tiny store, the SAL20 import."""

import json
from pathlib import Path

import pytest

from rt_core import RtError
from rt_core.experiment.config import load_config
from rt_core.experiment.sweep import run_sweep
from tests.tiny import write_tiny
from theory.matching import judge, match, trend
from theory.report_job import read_published, report_published, report_store

ROOT = Path(__file__).resolve().parents[1]


def _table(plugin, slope, strengths=(0.05, 0.1, 0.2), seeds=(0, 1, 2)):
    """rel_dt = slope * strength rank + a seed pattern (-1, 0, +1) that is symmetric at every
    strength, so a zero slope has Spearman rho = 0 exactly."""
    pattern = [-1.0, 0.0, 1.0]
    rows = [{"plugin": "vanilla", "strength": 0.0, "seed": s, "acc_src": 90.0, "acc_tgt": 60.0, "rel_dt": 0.0,
             "rob_src": 20.0} for s in seeds]
    for i, st in enumerate(strengths, start=1):
        for s in seeds:
            rows.append({"plugin": plugin, "strength": st, "seed": s, "acc_src": 90.0, "acc_tgt": 60.0,
                         "rel_dt": slope * i + pattern[s], "rob_src": 20.0 + pattern[s]})
    return rows


@pytest.mark.parametrize("plugin,slope,expected", [
    ("weight_decay", 5.0, "agrees"),       # predicted to rise, rises
    ("weight_decay", -5.0, "disagrees"),   # predicted to rise, falls
    ("weight_decay", 0.0, "inconclusive"),  # predicted to rise, flat: noise
    ("translation", 0.0, "agrees"),        # predicted flat, flat
    ("translation", 5.0, "disagrees"),     # predicted flat, rises
])
def test_matching_verdicts_on_known_trends(plugin, slope, expected):
    (v,) = match(_table(plugin, slope))
    assert v.verdict == expected, v.reason
    assert v.prediction == ("rises" if plugin == "weight_decay" else "none")


def test_too_few_points_is_inconclusive_and_says_so():
    rows = _table("jacobian", 5.0, strengths=(0.1,), seeds=(0,))
    (v,) = match(rows)
    assert v.verdict == "inconclusive" and "too few points" in v.reason


def test_collapsed_trials_are_excluded_and_counted():
    rows = _table("jacobian", 5.0)
    rows.append({"plugin": "jacobian", "strength": 4.0, "seed": 0, "acc_src": 10.0, "acc_tgt": 50.0, "rel_dt": 99.0})
    (v,) = match(rows)
    assert v.excluded == 1 and v.rel_dt.n == 12


def test_trend_statistics():
    t = trend([1, 1, 2, 2, 3, 3], [1.0, 1.1, 2.0, 2.1, 3.0, 3.2])
    assert t.spearman_rho > 0.9 and t.p_value < 0.01 and t.slope_ci[0] > 0
    assert judge("rises", t)[0] == "agrees" and judge("unknown", t)[0] == "inconclusive"


def test_report_from_a_tiny_store(tmp_path, monkeypatch):
    monkeypatch.setenv("RT_CACHE", str(tmp_path / "cache"))
    cfg = load_config(write_tiny(tmp_path / "tiny.toml"))
    run_sweep(cfg, str(tmp_path / "exp"), device="cpu", quiet=True)
    md = report_store(tmp_path / "exp")
    text = md.read_text()
    verdicts = json.loads((tmp_path / "exp" / "verdicts.json").read_text())
    assert {v["plugin"] for v in verdicts} == {"blur", "weight_decay"}
    for v in verdicts:
        assert {"plugin", "prediction", "spearman_rho", "p_value", "verdict"} <= set(v)
    for fig in ("rel_dt_vs_strength", "robustness_vs_rel_dt", "source_vs_target"):
        assert (tmp_path / "exp" / "figures" / f"{fig}.png").stat().st_size > 10_000
        assert f"figures/{fig}.png" in text
    html = (tmp_path / "exp" / "report.html").read_text()
    assert html.count("data:image/png;base64,") == 3 and "Provenance" in html
    assert '"seeds": [\n    0,\n    1\n  ]' in text


def test_report_of_a_missing_store_is_one_clear_error(tmp_path):
    with pytest.raises(RtError, match="no results store at .*run `rt run CONFIG --out"):
        report_store(tmp_path / "nothing")
    assert not (tmp_path / "nothing").exists()


def test_salman2020_import_reproduces_rising_relative_dt(tmp_path):
    csv = ROOT / "examples" / "published" / "salman2020_cifar10.csv"
    rows = read_published(csv)
    assert len(rows) == 10 and rows[0]["rel_dt"] == 0.0
    assert abs(rows[-1]["rel_dt"] - ((94.16 - 56.13) - (79.61 - 75.80))) < 1e-9  # +34.22 points at eps = 5
    report_published(csv, tmp_path / "sal")
    (v,) = json.loads((tmp_path / "sal" / "verdicts.json").read_text())
    assert v["plugin"] == "adversarial" and v["prediction"] == "rises" and v["verdict"] == "agrees"
    assert v["spearman_rho"] > 0.95 and v["p_value"] < 1e-4


def test_bad_published_files(tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("plugin,strength,acc_src\nadversarial,0,75\n")
    with pytest.raises(RtError, match="lacks column\\(s\\) seed, acc_tgt"):
        read_published(bad)
    novanilla = tmp_path / "nov.csv"
    novanilla.write_text("plugin,strength,seed,acc_src,acc_tgt\nadversarial,1,0,70,90\n")
    with pytest.raises(RtError, match="no row at its identity strength 0.0; add that vanilla row"):
        read_published(novanilla)
    with pytest.raises(RtError, match="not found"):
        read_published(tmp_path / "missing.csv")
