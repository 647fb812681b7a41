"""Statistics on synthetic result tables with planted effects, predictions from the config, the
report from a tiny store, the SAL20 import and the generic renderer."""

import json
from pathlib import Path

import numpy as np
import pytest

from rt_core import RtError
from rt_core.experiment.config import ReportConfig
from rt_core.experiment.executors import LocalExecutor
from rt_core.experiment.loading import load_config
from rt_core.experiment.sweep import run_sweep
from rt_core.results.metrics import rel_dt
from tests.helpers.tiny import write_tiny
from theory.matching import min_acc_for, predict
from theory.report import analysis as an
from theory.report import statistics as st
from theory.report.job import build_report, read_published, report_published, report_store, store_plan

ROOT = Path(__file__).resolve().parents[2]


def _table(slope, seeds=6, levels=4, noise=0.5, seed=0):
    """rel_dt of ``seeds`` x ``levels`` (identity column 0): slope per level + noise. The noise of
    the second half of the seeds is the first half's reversed in strength, so a zero slope is an
    exact null (Page's L at its mean), not a draw that rejects 5% of the time."""
    rng = np.random.default_rng(seed)
    half = rng.normal(0, noise, (seeds - seeds // 2, levels))
    t = slope * np.arange(levels) + np.vstack([half, half[: seeds // 2, ::-1]])
    return t - t[:, :1]


def _family(tables, expected, margin=2.0):
    """The family of ``tables`` (no excluded trials) at alpha 0.05."""
    return an.Family(tables, expected, dict.fromkeys(tables, 0), 0.05, margin)


def _decide(tables, expected, margin=2.0):
    return an.decide_family(_family(tables, expected, margin))


@pytest.mark.parametrize("slope,expected,verdict", [
    (3.0, "rises", "agrees"), (-3.0, "rises", "disagrees"), (0.0, "rises", "inconclusive"),
    (3.0, "none", "disagrees"), (0.0, "unknown", "inconclusive")])
def test_planted_trends_are_found(slope, expected, verdict):
    d = _decide({"p": _table(slope)}, {"p": expected})["p"]
    assert d.verdict == verdict, d.reason
    assert d.trend.test == "Page's L" and "Page's L" in d.reason and "Holm p" in d.reason


def test_planted_null_agrees_only_inside_the_equivalence_margin():
    null = _table(0.0, seeds=8, noise=0.3)
    effects = st.seed_effects(null)
    p, (lo, hi) = st.tost(effects, 2.0)
    assert -2.0 < lo < hi < 2.0 and p < 0.05
    assert _decide({"t": null}, {"t": "none"}, margin=2.0)["t"].verdict == "agrees"
    tight = _decide({"t": null}, {"t": "none"}, margin=0.05)["t"]
    assert tight.verdict == "inconclusive" and "not shown equivalent" in tight.reason
    # two seeds of pure noise: no trend, yet no agreement either (absence of evidence)
    assert _decide({"t": _table(0.0, seeds=2, noise=3.0)}, {"t": "none"})["t"].verdict == "inconclusive"


def test_holm_on_a_known_family():
    assert st.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    strong, weak = _table(3.0, seeds=3, noise=0.01), _table(3.0, seeds=3, noise=0.01)
    weak[0] = weak[0][::-1] - weak[0][-1]  # one seed reversed: a weaker (still rising) family member
    ds = _decide({"a": strong, "b": weak}, {"a": "rises", "b": "rises"})
    raw = sorted([ds["a"].trend.p_value, ds["b"].trend.p_value])
    assert sorted([ds["a"].p_holm, ds["b"].p_holm]) == pytest.approx([2 * raw[0], max(2 * raw[0], raw[1])])


def test_holm_by_hand_equals_statsmodels_on_random_families():
    from statsmodels.stats.multitest import multipletests

    rng = np.random.default_rng(0)
    for m in (1, 2, 3, 8, 20):
        for _ in range(4):  # statsmodels' gc.collect() per call makes each check slow
            p = rng.uniform(0, 0.2, m) ** rng.uniform(0.5, 3)
            p[rng.integers(0, m)] = p[0]  # ties too
            assert st.holm(list(p)) == pytest.approx(list(multipletests(p, method="holm")[1]), rel=1e-12, abs=0)
    assert st.holm([]) == []


def test_stability_is_one_for_a_clear_effect_and_a_coin_flip_at_the_boundary():
    clear = {"c": _table(3.0, seeds=8)}
    full = {"c": _decide(clear, {"c": "rises"})["c"].verdict}
    share = an.stability(_family(clear, {"c": "rises"}), full, 300, np.random.default_rng(0))
    assert full["c"] == "agrees" and share["c"] >= 0.98
    rng = np.random.default_rng(3)
    t = np.array([rng.permutation(4) for _ in range(24)], float)
    t[:4] = np.arange(4)  # 4 of 24 seeds rise cleanly, the rest random: p sits near alpha
    t -= t[:, :1]
    d = _decide({"x": t}, {"x": "rises"})["x"]
    assert 0.03 < d.trend.p_value < 0.1
    flip = an.stability(_family({"x": t}, {"x": "rises"}), {"x": d.verdict}, 400, np.random.default_rng(0))
    assert 0.35 < flip["x"] < 0.65


def _five_seeds(swapped: bool) -> np.ndarray:
    """5 seeds x 3 levels rising by 2 points a level; with ``swapped``, seed 2 has its two strengths
    in the wrong order (Page's L = 69 of 70)."""
    t = np.tile([0.0, 2.0, 4.0], (5, 1))
    if swapped:
        t[2] = [0.0, 4.0, 2.0]
    return t


def test_one_seed_out_of_order_in_five_is_unstable_by_counting():
    """5 seeds x 3 levels, 7 plugins with the same table: four seeds in order, one with the two
    strengths swapped (L = 69, p = 0.0028, Holm 0.02: agrees). A seed resample keeps the verdict
    when it draws that seed at most once (twice: L = 68, p = 0.013, Holm 0.09), which happens with
    probability (4/5)^5 + 5 (1/5) (4/5)^4 = 0.737: below 0.8, so such a verdict is unstable."""
    tables = {f"p{i}": _five_seeds(swapped=True) for i in range(7)}
    expected = dict.fromkeys(tables, "rises")
    full = {p: d.verdict for p, d in _decide(tables, expected).items()}
    assert set(full.values()) == {"agrees"} and _decide(tables, expected)["p0"].trend.statistic == 69
    share = an.stability(_family(tables, expected), full, 2000, np.random.default_rng(0))
    assert set(share.values()) == {share["p0"]} and abs(share["p0"] - 0.737) < 0.03


def test_seeds_to_decide_resamples_the_reports_own_rule():
    from theory.report.plan import seeds_to_decide

    family = [f"p{i}" for i in range(7)]
    ordered, one_off = _five_seeds(swapped=False), _five_seeds(swapped=True)
    for table, sizes in ((ordered, {5}), (one_off, {6, 8})):  # one_off decides in 74% of draws of 5
        tables = {p: table.copy() for p in family}
        got = seeds_to_decide(_family(tables, dict.fromkeys(family, "rises")))
        assert {n for n, _ in got.values()} <= sizes and {v for _, v in got.values()} == {"agrees"}
    falling = {p: -ordered for p in family}
    got = seeds_to_decide(_family(falling, dict.fromkeys(family, "rises")))
    assert set(got.values()) == {(5, "disagrees")}
    null = {"n": _table(0.0, seeds=6, levels=3)}  # an exact null: no draw size decides it
    assert seeds_to_decide(_family(null, {"n": "rises"})) == {"n": (None, "undecided")}
    # not sized: no prediction, fewer than 3 levels, fewer than 3 seeds
    for table, expected in ((ordered, "unknown"), (ordered[:, :2], "rises"), (ordered[:2], "rises")):
        assert seeds_to_decide(_family({"x": table}, {"x": expected})) == {"x": (None, None)}


def test_replication_matches_the_closed_form_of_one_seed_out_of_order():
    """3 plugins with the 5-seed table whose one seed is out of order. Page's two-sided exact p is
    0.0028 when a draw holds that seed once (L = 69), 0.013 twice (L = 68), 0.036 three times
    (L = 67); Holm over 3 equal p-values multiplies each by 3, so a draw decides (agrees) when it
    holds that seed at most twice: q = (4/5)^5 + 5 (1/5) (4/5)^4 + 10 (1/5)^2 (4/5)^3 = 0.942, and is
    inconclusive otherwise. 3 independent studies reach one verdict with probability
    q^3 + (1 - q)^3, on all 3 plugins at once (equal tables, one draw of seeds) or on none."""
    from theory.report.plan import replication

    tables = {f"p{i}": _five_seeds(swapped=True) for i in range(3)}
    rep = replication(_family(tables, dict.fromkeys(tables, "rises")), seeds=5, runs=3, draws=2000)
    q = 0.8 ** 5 + 5 * 0.2 * 0.8 ** 4 + 10 * 0.2 ** 2 * 0.8 ** 3
    same = q ** 3 + (1 - q) ** 3
    # 2000 draws: the share's SD is sqrt(same (1 - same) / 2000) = 0.008; 0.035 is over 4 SD
    assert abs(rep.same["p0"] - same) < 0.035 and set(rep.same.values()) == {rep.same["p0"]}
    assert rep.coinciding[3] == rep.same["p0"] and rep.coinciding[0] == pytest.approx(1 - rep.same["p0"])
    assert sum(rep.coinciding[1:3]) == 0 and rep.at_least(2) == rep.coinciding[3]
    assert rep.mean_coinciding == pytest.approx(3 * rep.same["p0"])


def test_replication_of_a_clear_effect_an_unpredicted_plugin_and_too_few_seeds():
    from theory.report.plan import replication

    clear = _table(3.0, seeds=8)
    rep = replication(_family({"c": clear, "u": clear}, {"c": "rises", "u": "unknown"}), seeds=8, runs=3, draws=200)
    assert rep.same["c"] >= 0.97 and rep.same["u"] == 1.0  # agrees every time / inconclusive every time
    assert rep.at_least(2) >= 0.95 and rep.seeds_measured == 8 and len(rep.coinciding) == 3
    # two studies of the coin-flip boundary table (agrees with q) reach one verdict with q^2 + (1-q)^2
    rng = np.random.default_rng(3)
    flip = np.array([rng.permutation(4) for _ in range(24)], float)
    flip[:4] = np.arange(4)
    flip -= flip[:, :1]
    q = an.stability(_family({"x": flip}, {"x": "rises"}), {"x": "agrees"}, 1000, np.random.default_rng(1))["x"]
    two = replication(_family({"x": flip}, {"x": "rises"}), seeds=24, runs=2, draws=1000)
    assert abs(two.same["x"] - (q ** 2 + (1 - q) ** 2)) < 0.06 and two.same["x"] < 0.7
    assert replication(_family({"x": clear[:2]}, {"x": "rises"}), seeds=5) is None


def test_plan_refuses_a_demo_that_does_not_run_the_studys_protocol(tmp_path, capsys):
    """The demo's draws are the study's own trials: a demo on the study's grid but under another recipe
    (here another learning rate) would be judged by trials it never runs, so it is refused in one line.
    The unchanged config (the one the store was run with, by an older release whose stored keys differ)
    passes, so the check is not a blanket refusal."""
    _demo_refused_then_passes(ROOT / "docs" / "results" / "demo-seeds-0-4", tmp_path, capsys, "lr = 0.01\n",
                              "lr = 0.02\n",
                              "its protocol (data, model, training, transfer or attack) is not the study's")


def _demo_refused_then_passes(store, tmp_path, capsys, old, new, message):
    """`rt plan STORE --demo` on digits_full_probe.toml with ``old`` replaced by ``new`` exits 2 with the
    one-line ``message``; on the config as it is, it exits 0."""
    from rt_core.cli import main

    text = (ROOT / "examples" / "digits_full_probe.toml").read_text()
    assert text.count(old) == 1
    demo = tmp_path / "demo.toml"
    demo.write_text(text.replace(old, new))
    args = ["plan", str(store), "--calibration-draws", "0", "--draws", "2", "--demo-draws", "2", "--demo"]
    assert main([*args, str(demo)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
    demo.write_text(text)
    assert main([*args, str(demo)]) == 0


def test_plan_refuses_a_demo_whose_plugin_options_are_not_the_studys(tmp_path, capsys):
    """A store that records its sweep's options (as `rt run` writes it now) is compared plugin by
    plugin: the committed demo store given that record, a demo with blur on every image instead of per
    image is refused in one line; with the options as run it passes. The committed store, written
    before options were recorded, is not compared (the protocol test above runs it as it is)."""
    import shutil

    from rt_core.experiment.loading import load_config
    from rt_core.experiment.sweep import sweep_meta
    from rt_core.results.store import Store

    config = ROOT / "examples" / "digits_full_probe.toml"
    shutil.copytree(ROOT / "docs" / "results" / "demo-seeds-0-4", tmp_path / "study")
    store = Store(tmp_path / "study")
    store.set_meta("sweep", sweep_meta(load_config(config)))
    store.close()
    _demo_refused_then_passes(tmp_path / "study", tmp_path, capsys,
                              "strengths = [0.5, 1.0]\noptions = { per_sample = true }",
                              "strengths = [0.5, 1.0]\noptions = { per_sample = false }",
                              "its blur options {'per_sample': False} are not the study's {'per_sample': True}")


def test_plan_command_prints_the_replication_of_a_committed_demo(tmp_path, capsys):
    from rt_core.cli import main

    store = ROOT / "docs" / "results" / "demo-seeds-0-4"
    # the demo config that store was run with: every draw of 5 of its 5 seeds is the study itself,
    # so no decided verdict may contradict it
    demo = ["--demo", str(ROOT / "examples" / "digits_full_probe.toml"), "--demo-draws", "3"]
    figure = tmp_path / "plan.png"
    assert main(["plan", str(store), "--seeds", "5", "--draws", "40", "--calibration-draws", "4", *demo,
                 "--figure", str(figure)]) == 0
    text = capsys.readouterr().out
    assert figure.read_bytes()[:4] == b"\x89PNG"
    assert "calibration: 4 null studies of 5 seeds" in text and "(95% Clopper-Pearson) against alpha 0.05" in text
    assert "decided demo verdicts that contradict the study: 0 of" in text
    assert "same 3x5: share of 40 draws of 3 independent studies of 5 seeds each" in text
    assert "3 studies of 5 seeds reach the same verdicts on all 7 plugins in" in text
    assert main(["plan", str(store), "--seeds", "5", "--draws", "40", "--json", "--calibration-draws", "4",
                 *demo]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = out["plan"]
    assert out["calibration"]["draws"] == 4 and set(out["calibration"]["planted"]) == {"1", "2", "5", "10"}
    assert {r["plugin"] for r in out["demo"]} == {r["plugin"] for r in rows}
    assert all(r["draws"] == 3 and r["contradicts"] == 0 and r["same"] == r["decided"] for r in out["demo"])
    line = next(ln for ln in text.splitlines() if ln.startswith("rescale "))
    rescale = next(r for r in rows if r["plugin"] == "rescale")["replication"]
    assert rescale["runs"] == 3 and line.split()[-1] == f"{rescale['same_verdict']:.2f}"
    for flag in (["--runs", "1"], ["--seeds", "0"], ["--draws", "0"]):
        assert main(["plan", str(store), *flag]) == 2
        assert "must be at least" in capsys.readouterr().err
    for flag, says in ((["--figure", str(tmp_path / "plan.txt")], "ending in .png"),
                       (["--figure", str(tmp_path / "nope" / "p.png")], "does not exist; create it first"),
                       (["--figure", str(figure), "--calibration-draws", "0"], "drop --calibration-draws 0")):
        assert main(["plan", str(store), *flag]) == 2
        assert says in capsys.readouterr().err


def test_plan_of_a_vanilla_only_store_is_one_clear_error(tmp_path, monkeypatch, capsys):
    from rt_core.cli import main
    from tests.helpers.tiny import TINY, TINY_RUN_EXIT

    monkeypatch.setenv("RT_CACHE", str(tmp_path / "cache"))
    config = tmp_path / "vanilla.toml"
    config.write_text("sweep = []\n" + TINY.split("[[sweep]]")[0].replace("seeds = [0, 1]", "seeds = [0]"))
    assert main(["run", str(config), "--out", str(tmp_path / "exp"), "--device", "cpu", "--quiet"]) == TINY_RUN_EXIT
    capsys.readouterr()
    assert main(["plan", str(tmp_path / "exp")]) == 2
    assert "holds no plugin trials (only vanilla ones)" in capsys.readouterr().err


def test_a_split_between_agrees_and_disagrees_is_not_a_decision(monkeypatch):
    from collections import Counter

    from theory.report import plan as pl

    split = Counter(agrees=50, disagrees=45, inconclusive=5)
    monkeypatch.setattr(pl.an, "resampled_verdicts", lambda family, *a: {p: split for p in family.tables})
    table = np.tile([0.0, 1.0, 2.0], (5, 1))
    assert pl.seeds_to_decide(_family({"x": table}, {"x": "none"})) == {"x": (None, "undecided")}
    clear = Counter(agrees=12, disagrees=85, inconclusive=3)
    monkeypatch.setattr(pl.an, "resampled_verdicts", lambda family, *a: {p: clear for p in family.tables})
    assert pl.seeds_to_decide(_family({"x": table}, {"x": "none"})) == {"x": (5, "disagrees")}


def test_seed_effects_and_their_interval_resample_seeds():
    t = np.array([[0.0, 1.0, 2.0, 3.0], [0.0, 2.0, 4.0, 6.0], [0.0, np.nan, 1.0, 1.5]])
    eff = st.seed_effects(t)
    assert eff == pytest.approx([3.0, 6.0, np.polyfit([0, 2, 3], [0, 1, 1.5], 1)[0] * 3])
    lo, hi = st.bootstrap_mean_ci(eff, 0.95, 2000, np.random.default_rng(0))
    assert min(eff) - 1e-9 <= lo < eff.mean() < hi <= max(eff) + 1e-9
    assert st.distinct_resamples(2) == 3 and st.distinct_resamples(5) == 126
    assert st.blocked_trend(t).seeds == 2  # the seed with a missing cell is left out of Page's test


def test_power_matches_the_t_test_closed_form():
    assert st.seeds_needed(1.0, 1.0, 0.05, 0.8) == 10  # d = 1, one-sample two-sided: n = 9.94
    assert st.seeds_needed(2.0, 1.0, 0.05, 0.8) > st.seeds_needed(1.0, 1.0, 0.05, 0.8)
    assert st.seeds_needed(0.0, 1.0, 0.05) is None


def _rows(plugin, d_src, d_tgt, seeds=(0, 1, 2, 3), strengths=(5e-4, 2e-3, 5e-3), van_src=90.0):
    """Store-like rows: vanilla at (van_src, 60); per level i acc_src += d_src*i, acc_tgt += d_tgt*i."""
    rng = np.random.default_rng(1)
    rows = [{"plugin": "vanilla", "strength": 0.0, "seed": s, "status": "finished", "acc_src": van_src,
             "acc_tgt": 60.0, "rob_src": 30.0, "probe_acc_src": van_src} for s in seeds]
    for i, st_ in enumerate(strengths, start=1):
        for s in seeds:
            src = van_src + d_src * i + rng.normal(0, 0.3)
            rows.append({"plugin": plugin, "strength": st_, "seed": s, "status": "finished", "acc_src": src,
                         "acc_tgt": 60.0 + d_tgt * i + rng.normal(0, 0.3), "rob_src": 30.0 + i,
                         "probe_acc_src": van_src + rng.normal(0, 0.3)})
    return rows


def test_decomposition_tells_a_falling_source_from_a_rising_target():
    cfg = ReportConfig(resamples=200)
    falls, _ = build_report(_rows("weight_decay", -4.0, 0.0), "t", cfg, min_acc_for(10), {}, {})
    gains, _ = build_report(_rows("weight_decay", 0.0, 4.0), "t", cfg, min_acc_for(10), {}, {})
    (vf,), (vg,) = falls.plugins, gains.plugins
    assert vf.verdict == vg.verdict == "agrees"
    assert vf.effect.mean == pytest.approx(12.0, abs=1.0) and vg.effect.mean == pytest.approx(12.0, abs=1.0)
    assert vf.decomposition.source.startswith("mostly source loses")
    assert vg.decomposition.source.startswith("mostly target gains")

    # the fresh source probe kept its accuracy: with the source head's drop removed, no transfer gain
    assert abs(vf.decomposition.rel_dt_probe.mean) < 1.5 and vg.decomposition.rel_dt_probe.mean > 10


def test_attribution_names_both_parts_when_neither_dominates():
    from theory.report.analysis import attribute
    from theory.report.verdicts import Estimate

    def est(mean):
        return Estimate(mean, None, 5)

    assert attribute(est(-16.4), est(16.3)).startswith("both: target gains, source loses")
    assert attribute(est(-1.0), est(6.0)).startswith("mostly target gains")
    assert attribute(est(-6.0), est(-1.0)).startswith("mostly source loses")
    assert attribute(est(0.0), est(0.01)).startswith("no change")


def test_collapsed_trials_are_excluded_flagged_and_counted():
    rows = _rows("weight_decay", 0.0, 4.0)
    rows[-1].update(acc_src=12.0)  # seed 3 at the strongest: chance + 2 points
    rows[-2].update(acc_src=50.0)  # seed 2: usable, 40 points below its vanilla
    report, data = build_report(rows, "t", ReportConfig(resamples=100), min_acc_for(10), {}, {})
    (v,) = report.plugins
    assert [(n.seed, n.why) for n in v.excluded] == [(3, "source model at chance")]
    assert [n.seed for n in v.flagged] == [2] and v.trend.seeds == 3
    assert v.strengths[-1].usable == 3 and v.strengths[-1].trials == 4


def test_predictions_come_from_the_config_whatever_the_trials_did():
    p = predict("blur", (0.0, 0.5, 1.0))
    assert p.expected == "rises" and [c.strength for c in p.strengths] == [0.5, 1.0] and p.text
    assert predict("translation", (0.1,)).expected == "none"
    assert predict("nonesuch", (1.0,)).text and predict("nonesuch", (1.0,)).expected == "unknown"
    w = predict("weight_decay", (1e-3,))
    assert w.expected == "rises" and w.bound.latex and "lambda" in w.bound.latex
    # every trial of blur at chance: the prediction is still made, and the verdict says why
    rows = _rows("blur", 0.0, 4.0, strengths=(0.5, 1.0))
    for r in rows:
        if r["plugin"] == "blur":
            r["acc_src"] = 10.0
    report, _ = build_report(rows, "t", ReportConfig(resamples=50), min_acc_for(10), {"blur": [0.5, 1.0]}, {})
    (v,) = report.plugins
    assert v.prediction.expected == "rises" and v.verdict == "inconclusive"
    assert "models failed to learn" in v.reason






def test_report_and_plan_from_a_tiny_store(tmp_path, monkeypatch):
    monkeypatch.setenv("RT_CACHE", str(tmp_path / "cache"))
    cfg = load_config(write_tiny(tmp_path / "tiny.toml",
                                 "[report]\nequivalence_margin = 3.0\nresamples = 100\ncalibration_draws = 5\n"))
    run_sweep(cfg, str(tmp_path / "exp"), executor=LocalExecutor(), device="cpu", quiet=True)
    md = report_store(tmp_path / "exp")
    text = md.read_text()
    verdicts = json.loads((tmp_path / "exp" / "verdicts.json").read_text())
    assert verdicts["title"] == "tiny: theory vs experiment" and verdicts["settings"]["equivalence_margin"] == 3.0
    assert {v["plugin"] for v in verdicts["plugins"]} == {"blur", "weight_decay"}
    for v in verdicts["plugins"]:
        assert v["prediction"]["text"] and v["verdict"] in ("agrees", "disagrees", "inconclusive")
        assert "d_acc_src" in v["decomposition"] and v["strengths"][0]["metrics"]["rel_dt"]["mean"] in (0.0, None)
    for fig in ("rel_dt_vs_strength", "robustness_vs_rel_dt", "blur", "weight_decay"):
        assert (tmp_path / "exp" / "figures" / f"{fig}.png").stat().st_size > 5_000
        assert f"figures/{fig}.png" in text
    html = (tmp_path / "exp" / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 4 and "Provenance" in html and "<table>" in html
    # calibration: 5 null studies through the report's rule, and the blocked robustness correlation
    assert verdicts["calibration"]["draws"] == 5 and verdicts["calibration"]["familywise"]["n"] == 5
    assert "Is the rule calibrated?" in text and "5 null studies of 2 seeds" in text
    assert set(verdicts["robustness_blocked"]["per_plugin"]) == {"blur", "weight_decay"}
    assert "Blocked by seed (Spearman rho within each seed" in text
    plan, alpha = store_plan(tmp_path / "exp", effect=5.0)
    assert alpha == 0.05 and {r.plugin for r in plan} == {"blur", "weight_decay"}


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
    (v,) = json.loads((tmp_path / "sal" / "verdicts.json").read_text())["plugins"]
    assert v["plugin"] == "adversarial" and v["prediction"]["expected"] == "rises" and v["verdict"] == "agrees"
    assert v["trend"]["test"] == "Kendall's tau (1 seed)" and v["trend"]["statistic"] > 0.9
    assert v["trend"]["p_value"] < 1e-4 and v["stability"] is None


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


def _exact_page(table):
    """Page's L of ``table`` by hand (L = sum_j j R_j over within-row ranks, columns in the predicted
    rising order) and its exact two-sided p by enumerating every within-row permutation of ranks."""
    from itertools import permutations, product

    from scipy.stats import rankdata

    k = table.shape[1]
    weights = np.arange(1, k + 1)
    L = float(sum(weights @ rankdata(row) for row in table))
    perms = [np.array(p) for p in permutations(range(1, k + 1))]
    null = np.array([sum(weights @ p for p in combo) for combo in product(perms, repeat=len(table))], float)
    return L, min(1.0, 2 * min((null >= L).mean(), (null <= L).mean()))


@pytest.mark.parametrize("table", [
    [[0.0, 1.0, 3.0], [0.0, 2.0, 1.5], [0.0, -1.0, 4.0]],
    [[0.0, 5.0, 4.0, 6.0], [0.0, 1.0, 2.0, 3.0]],
    [[0.0, -1.0, -2.0], [0.0, -3.0, -1.0]]])
def test_page_l_and_its_p_match_a_hand_computation(table):
    t = np.array(table)
    L, p = _exact_page(t)
    trend = st.blocked_trend(t)
    assert trend.test == "Page's L" and trend.statistic == pytest.approx(L) and trend.p_value == pytest.approx(p)
    assert trend.direction == ("rises" if L >= t.shape[0] * t.shape[1] * (t.shape[1] + 1) ** 2 / 4 else "falls")


def test_ties_in_exact_arithmetic_stay_ties_whatever_the_rounding():
    """rel_dt values equal in exact arithmetic but computed along different paths differ by float
    noise; the trend test ranks them as ties, so the verdict cannot flip with rounding."""
    a = rel_dt(85.3, 60.1, 90.0, 60.0)
    b = rel_dt(85.4, 60.2, 90.0, 60.0)
    assert a != b and a == pytest.approx(b)  # the float noise this guards against
    exact = np.array([[0.0, a, a, 2.0]] * 3)
    noisy = np.array([[0.0, a, b, 2.0], [0.0, b, a, 2.0], [0.0, a, b, 2.0]])
    assert st.blocked_trend(noisy) == st.blocked_trend(exact)
    assert st.tost(np.array([a, b, a]), 2.0) == st.tost(np.array([a, a, a]), 2.0)


def test_tost_matches_the_two_one_sided_t_tests_by_hand():
    from scipy import stats as sps

    effects, margin = np.array([0.4, -0.2, 0.9, 0.1, 0.3]), 1.0
    m, se, df = effects.mean(), effects.std(ddof=1) / np.sqrt(len(effects)), len(effects) - 1
    p_hand = max(sps.t.sf((m + margin) / se, df), sps.t.cdf((m - margin) / se, df))
    p, (lo, hi) = st.tost(effects, margin)
    assert p == pytest.approx(p_hand) and (lo, hi) == pytest.approx(sps.t.interval(0.90, df, m, se))


def test_power_is_the_t_tests_and_the_seed_count_is_the_smallest_that_reaches_it():
    from statsmodels.stats.power import TTestPower

    for d, n, alt in [(1.0, 10, "two-sided"), (0.3, 40, "two-sided"), (0.8, 7, "larger")]:
        assert st.t_power(d, n, 0.05, alt) == pytest.approx(TTestPower().power(d, n, 0.05, alternative=alt))
    for sd, effect, alpha in [(1.0, 1.0, 0.05), (3.0, 2.0, 0.01), (0.4, 1.0, 0.05 / 7)]:
        n = st.seeds_needed(sd, effect, alpha)
        assert st.t_power(effect / sd, n, alpha, "two-sided") >= 0.8
        assert n == 2 or st.t_power(effect / sd, n - 1, alpha, "two-sided") < 0.8
    # very consistent effects (huge effect sizes) used to make statsmodels' root finder return NaN
    assert st.seeds_needed(1e-6, 2.0, 0.05) == 2 and st.seeds_needed(0.1, 2.0, 0.05 / 7) == 3
    assert st.seeds_needed(0.01, 2.0, 0.05, equivalence=True) == 2


def test_levels_run_away_from_the_identity_and_one_usable_rule():
    from rt_core.results.metrics import min_acc_src, usable

    rows = [{"plugin": "keep", "strength": s, "seed": 0, "status": "finished", "acc_src": 90.0, "acc_tgt": 60.0}
            for s in (1.0, 0.5, 0.9, 0.7)]
    assert an.plugin_data(rows, "keep", 1.0, [0], 20.0, 20.0).levels == [1.0, 0.9, 0.7, 0.5]
    assert min_acc_for is min_acc_src and min_acc_src(10) == 20.0 and min_acc_src(None) == min_acc_src(0) == 0.0
    assert usable("finished", 20.5, 10) and not usable("finished", 20.0, 10) and not usable("failed", 90.0, 10)
    assert usable("finished", 1.0, 0)  # class count unknown: no accuracy filter, as for published numbers


def test_the_summary_says_how_many_decided_verdicts_are_unstable():
    from types import SimpleNamespace as V

    from theory.report.sections import unstable_decided

    assert unstable_decided([V(verdict="inconclusive", stable=False)]) == ""
    family = [V(verdict="agrees", stable=False), V(verdict="disagrees", stable=True),
              V(verdict="agrees", stable=False), V(verdict="inconclusive", stable=False)]
    assert unstable_decided(family).startswith(" 2 of the 3 agree/disagree verdicts are unstable")
    assert " 1 of the 2 agree/disagree verdicts is unstable" in unstable_decided(family[:2])
    assert unstable_decided(family[:1]).startswith(" The one agree/disagree verdict is unstable")


def _collapsed_sweep():
    """3 seeds x (vanilla + 3 strengths) of an unregistered plugin, most trials near chance: seed 0's
    vanilla learned, its weakest strength learned 34 points less (flagged), its two stronger ones
    stayed at chance; seeds 1 and 2 have vanillas at chance (one trial of seed 1 learned anyway)."""
    rows = [{"plugin": "vanilla", "strength": 0.0, "seed": s, "status": "finished", "acc_src": a,
             "acc_tgt": 60.0, "rob_src": 30.0, "probe_acc_src": a} for s, a in ((0, 90.0), (1, 11.0), (2, 12.0))]
    accs = {0: (56.0, 10.0, 11.0), 1: (50.0, 10.0, 10.0), 2: (10.0, 12.0, 9.0)}
    for s, levels in accs.items():
        for strength, a in zip((0.1, 0.2, 0.3), levels, strict=True):
            rows.append({"plugin": "dropout", "strength": strength, "seed": s, "status": "finished", "acc_src": a,
                         "acc_tgt": 75.0, "rob_src": 35.0, "probe_acc_src": a + 3.0})
    return rows


def test_effects_are_never_extrapolated_and_counts_are_true_at_every_level():
    from theory.report.sections import est, strength_table, summary, verdict_table

    report, _ = build_report(_collapsed_sweep(), "t", ReportConfig(resamples=50), min_acc_for(10), {}, {})
    (v,) = report.plugins
    # seed 0 has its identity and its weakest strength only: a fitted slope stretched over the whole
    # range would read -102 points of acc_src; no seed spans the range, so there is no effect
    assert v.effect.mean is None and v.decomposition.d_acc_src.mean is None
    assert v.decomposition.rel_dt_probe.mean is None and v.decomposition.source == "-"
    row = next(r for r in verdict_table(report).rows if r[0] == "dropout")
    assert row[3] == "-" and row[6] == "-"
    assert [(r.usable, r.trials) for r in v.strengths] == [(1, 3), (1, 3), (0, 3), (0, 3)]
    cells = strength_table(v).rows
    assert [c[1] for c in cells[2:]] == ["0 / 3", "0 / 3"] and set(cells[3][2:]) == {"-"}
    assert est(v.strengths[1].metrics["d_acc_src"]) == "-34.0 (1 seed)"
    # 12 trials: 3 vanillas (2 at chance), 9 of the plugin (6 at chance, 1 usable but its vanilla is not)
    assert "10 of 12 trials excluded: 9 did not finish or" in summary(report).markdown
    assert summary(report).markdown.startswith("1 plugins over seeds 0-2: ")
    assert len(v.excluded) == 10 and len(v.flagged) == 1


def test_an_effect_needs_the_identity_and_the_strongest_level_of_its_seed():
    t = np.array([[0.0, -34.0, np.nan, np.nan], [0.0, np.nan, 2.0, 3.0], [np.nan, 1.0, 2.0, 3.0]])
    assert st.seed_effects(t) == pytest.approx([np.polyfit([0, 2, 3], [0.0, 2.0, 3.0], 1)[0] * 3])


def _flagged_drive_rho():
    """4 seeds x 3 strengths of 'keep': rob_src and rel_dt rise together, except two trials whose
    source model learned 40 points less than its vanilla (flagged): low rob_src, high rel_dt."""
    rows = [{"plugin": "vanilla", "strength": 0.0, "seed": s, "status": "finished", "acc_src": 90.0,
             "acc_tgt": 60.0, "rob_src": 30.0, "probe_acc_src": 90.0} for s in range(4)]
    for s in range(4):
        for i, strength in enumerate((0.1, 0.2, 0.3), start=1):
            drop = 40.0 if (s, i) in ((0, 3), (1, 3)) else 0.0
            rows.append({"plugin": "keep", "strength": strength, "seed": s, "status": "finished",
                         "acc_src": 90.0 - drop, "acc_tgt": 60.0 + 2 * i + 0.1 * s, "probe_acc_src": 90.0,
                         "rob_src": 5.0 if drop else 30.0 + i + 0.2 * s})
    return rows


def _rings(fig) -> list[list[tuple[float, float]]]:
    """The offsets of every ringed (unfilled, flagged-coloured) scatter in ``fig``."""
    import matplotlib.colors as mc

    from theory.report.figures import RING

    found = []
    for ax in fig.axes:
        for c in ax.collections:
            face, edge = c.get_facecolors(), c.get_edgecolors()
            if len(edge) and len(face) == 0 or (len(face) and face[0][3] == 0):
                if np.allclose(edge[0][:3], mc.to_rgb(RING["edgecolors"])):
                    found.append([tuple(map(float, p)) for p in c.get_offsets()])
    return found


def test_flagged_trials_are_ringed_in_every_figure_and_rho_is_given_without_them(tmp_path, monkeypatch):
    from theory.report import figures
    from theory.report.job import correlation_text

    report, data = build_report(_flagged_drive_rho(), "t", ReportConfig(resamples=50), min_acc_for(10), {}, {})
    c = report.robustness
    assert c.n == 12 and c.flagged == 2 and c.unflagged.n == 10
    assert c.rho < 0.3 and c.unflagged.rho > 0.95  # two trials of twelve hide a rank-perfect relation
    assert "Without the 2 flagged trial(s)" in correlation_text(c) and f"{c.unflagged.rho:+.2f}" in correlation_text(c)
    figs = []
    monkeypatch.setattr(figures, "_save", lambda fig, path: figs.append(fig) or path)
    colours = figures.plugin_colours(["keep"])
    (v,) = report.plugins
    figures.robustness_scatter(report.plugins, data, c, colours, tmp_path / "r.png")
    figures.rel_dt_overview(report.plugins, data, colours, tmp_path / "o.png")
    figures.plugin_panels(v, data["keep"], colours["keep"], 20.0, tmp_path / "p.png")
    rel = 2 * 3 + 40.0  # rel_dt of a flagged trial: Delta acc_tgt - Delta acc_src
    (scatter,), (overview,) = _rings(figs[0]), _rings(figs[1])
    # a few float subtractions of numbers under 100: exact to a few units of 1e-14
    assert np.allclose(sorted(scatter), [(5.0, rel), (5.0, rel + 0.1)], rtol=0, atol=1e-12)
    assert np.allclose(sorted(overview), [(0.3, rel), (0.3, rel + 0.1)], rtol=0, atol=1e-12)
    assert len(_rings(figs[2])) == 4  # one per panel: acc_src, acc_tgt, rob_src, rel_dt
    assert "without the 2 flagged" in figs[0].axes[0].get_title()


def test_predictions_are_t4_on_what_the_stores_model_sees(tmp_path):
    """A contrast change is predicted to regularize (a strict contraction), except for a model that
    standardises each image: the report reads the model from the store's config."""
    import rt_core
    from rt_core.reporting import Store
    from tests.helpers.theory_plugins import TheoryTestPlugins
    from theory.report.job import store_report

    rt_core.register_plugin(TheoryTestPlugins(), "theory-test-ops")
    try:
        rows = [r for r in _rows("contrast", 0.0, 0.0, strengths=(0.5, 0.8)) if r["seed"] < 2]
        plain, _ = build_report(rows, "t", ReportConfig(resamples=20), min_acc_for(10), {}, {})
        assert plain.plugins[0].prediction.expected == "rises"
        config = {"source": {"dataset": "printed_digits"},
                  "model": {"name": "cifar_cnn", "options": {"width": 0.25, "hidden": 8, "input_norm": "per_image"}}}
        store = Store(tmp_path)
        store.set_meta("config", json.dumps(config))
        store.set_meta("sweep", json.dumps([{"plugin": "contrast", "strengths": [0.5, 0.8]}]))
        for i, r in enumerate(rows):
            store.start(f"k{i}", r["plugin"], r["strength"], r["seed"], {})
            store.finish(f"k{i}", "finished", {m: r[m] for m in ("acc_src", "acc_tgt", "rob_src", "probe_acc_src")},
                         {}, {})
        store.close()
        report, _, _ = store_report(tmp_path)
        (v,) = report.plugins
        assert v.prediction.expected == "none" and "invariance of the model" in v.prediction.text, v.prediction
        assert {c.verdict for c in v.prediction.strengths} == {"invariant"}
    finally:
        rt_core.unregister_plugin("theory-test-ops")


def test_a_store_read_mid_sweep_is_reported_on_its_whole_seeds_only(tmp_path):
    import shutil
    import sqlite3
    from types import SimpleNamespace

    from theory.report.job import _store_inputs, store_tables
    from theory.report.sections import left_out_text

    store = tmp_path / "exp"
    shutil.copytree(ROOT / "docs" / "results" / "demo-seeds-0-4", store)
    with sqlite3.connect(store / "results.sqlite") as db:  # seed 4 stopped part-way, seed 3 runs one trial
        db.execute("DELETE FROM trials WHERE seed = 4 AND plugin IN ('rotation', 'translation')")
        db.execute("UPDATE trials SET status = 'running' WHERE seed = 3 AND plugin = 'blur' AND rowid = "
                   "(SELECT min(rowid) FROM trials WHERE seed = 3 AND plugin = 'blur')")
    rows, meta, *_ = _store_inputs(store, None)
    assert {r["seed"] for r in rows} == {0, 1, 2} and meta["provenance"]["seeds_left_out"] == [3, 4]
    assert store_tables(store).family.seeds == 3
    assert "Seed(s) 3-4 left out: not all of their trials have run yet" in left_out_text(
        SimpleNamespace(provenance=meta["provenance"]))
    with sqlite3.connect(store / "results.sqlite") as db:  # a failed trial is settled: its seed stays whole
        db.execute("DELETE FROM trials WHERE seed IN (3, 4)")
        db.execute("UPDATE trials SET status = 'failed' WHERE seed = 2 AND plugin = 'blur' AND rowid = "
                   "(SELECT min(rowid) FROM trials WHERE seed = 2 AND plugin = 'blur')")
    rows, meta, *_ = _store_inputs(store, None)
    assert {r["seed"] for r in rows} == {0, 1, 2} and "seeds_left_out" not in meta["provenance"]
    assert left_out_text(SimpleNamespace(provenance=meta["provenance"])) == ""


def test_rt_headroom_on_a_store_read_mid_sweep_compares_the_same_seeds(tmp_path, capsys):
    # vanilla runs first in each seed: a stopped sweep holds vanilla of seeds whose strongest settings
    # have not run; the costs must set vanilla and the strongest settings on the same seeds
    import shutil
    import sqlite3

    from rt_core.cli import main
    from theory.report.job import store_headroom

    store = tmp_path / "exp"
    shutil.copytree(ROOT / "docs" / "results" / "demo-seeds-0-4", store)
    with sqlite3.connect(store / "results.sqlite") as db:
        db.execute("DELETE FROM trials WHERE seed = 4 AND plugin != 'vanilla'")
        held = db.execute("SELECT metrics FROM trials WHERE plugin = 'vanilla' AND seed < 4 "
                          "AND status = 'finished'").fetchall()
    table, _, left = store_headroom(store)
    vanilla = table[0]
    assert left == [4] and vanilla.plugin == "vanilla" and vanilla.seeds == 4
    assert vanilla.mean["acc_src"] == pytest.approx(np.mean([json.loads(m)["acc_src"] for (m,) in held]), abs=1e-9)
    assert all(s.seeds == 4 for s in table)
    assert main(["headroom", str(store)]) == 0
    assert "Seed(s) 4 left out: not all of their trials have run yet" in capsys.readouterr().out
    assert main(["headroom", str(store), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["seeds_left_out"] == [4]


def test_only_seeds_reads_the_chosen_seeds_as_a_store_holding_only_them(tmp_path, capsys):
    # the independent construction: a copy of the store with the other seeds deleted (one plugin kept:
    # the report's resampling is what costs time, and it is per plugin)
    import shutil
    import sqlite3

    from rt_core.cli import main
    from theory.report.job import _store_inputs, store_headroom, store_report
    from theory.report.sections import summary

    whole, cut = tmp_path / "whole", tmp_path / "cut"
    shutil.copytree(ROOT / "docs" / "results" / "demo-seeds-0-4", whole)
    with sqlite3.connect(whole / "results.sqlite") as db:
        db.execute("DELETE FROM trials WHERE plugin NOT IN ('vanilla', 'rotation')")
    shutil.copytree(whole, cut)
    with sqlite3.connect(cut / "results.sqlite") as db:
        db.execute("DELETE FROM trials WHERE seed IN (1, 4)")
    only = [0, 2, 3]
    assert list(_store_inputs(whole, None, only)[0]) == list(_store_inputs(cut, None)[0])
    assert store_headroom(whole, only)[:2] == store_headroom(cut)[:2]
    assert store_headroom(whole)[0] != store_headroom(cut)[0]  # the filter is what makes them equal
    report, _, _ = store_report(whole, None, only)
    assert list(report.settings.seeds) == only and report.provenance["store_seeds"] == [0, 1, 2, 3, 4]
    (mine,), (theirs,) = report.plugins, store_report(cut)[0].plugins
    assert (mine.verdict, mine.effect) == (theirs.verdict, theirs.effect)
    assert main(["plan", str(whole), "--only-seeds", "0,2-3", "--calibration-draws", "0", "--draws", "5",
                 "--json"]) == 0
    plan = json.loads(capsys.readouterr().out)
    assert plan["only_seeds"] == only and [r["seeds_measured"] for r in plan["plan"]] == [3]
    assert "Read with `--only-seeds 0, 2-3`: the store holds seeds 0-4" in summary(report).markdown
    for command in ("report", "headroom", "plan"):  # each passes the seeds on: the store is checked against them
        assert main([command, str(whole), "--only-seeds", "3-7"]) == 2
        err = capsys.readouterr().err.strip()
        assert err == (f"rt: error: --only-seeds: {whole} holds no trial of seed(s) 5-7 (it holds seeds 0-4); "
                       "pick seeds among those")
    assert main(["headroom", str(whole), "--only-seeds", "x"]) == 2
    assert "--only-seeds 'x': use integers" in capsys.readouterr().err


def test_a_store_whose_trials_ran_in_two_environments_says_so(tmp_path):
    """Trial numbers differ between machines, so a store mixing them names each environment (its
    trial count and plugins, the worker count aside) in the summary and the provenance; a store of one
    environment, written with different worker counts, says nothing."""
    from rt_core.reporting import Store
    from theory.report.job import store_report
    from theory.report.sections import summary

    rows = [r for r in _rows("blur", 0.0, 0.0, strengths=(0.5, 1.0)) if r["seed"] < 3]

    def report_of(folder, versions_of):
        store = Store(folder)
        store.set_meta("config", json.dumps({"source": {"dataset": "printed_digits"}}))
        for i, r in enumerate(rows):
            store.start(f"k{i}", r["plugin"], r["strength"], r["seed"], {})
            store.finish(f"k{i}", "finished", {m: r[m] for m in ("acc_src", "acc_tgt", "rob_src", "probe_acc_src")},
                         {}, versions_of(r))
        store.close()
        report, _, _ = store_report(folder)
        return report, summary(report).markdown

    one = {"torch": "2.13.0+cpu", "platform": "A", "threads": "1"}
    report, text = report_of(tmp_path / "mixed",
                             lambda r: one | ({"platform": "B"} if r["strength"] == 1.0 else {}) | {"workers": "2"})
    envs = report.provenance["environments"]
    assert [(e["versions"]["platform"], e["trials"], e["plugins"]) for e in envs] == \
        [("A", 2 * 3, ["blur", "vanilla"]), ("B", 3, ["blur"])]
    assert "Its trials ran in 2 environments (6 (blur, vanilla) with platform A; 3 (blur) with platform B;" in text
    # environments that differ in the CPU alone are told apart by it
    report, text = report_of(tmp_path / "cpus", lambda r: one | {"cpu": "X" if r["seed"] else "Y"})
    assert "Its trials ran in 2 environments (6 (blur, vanilla) with cpu X; 3 (blur, vanilla) with cpu Y;" in text
    report, text = report_of(tmp_path / "one", lambda r: one | {"workers": str(1 + r["seed"])})
    assert "environments" not in report.provenance and "environments" not in text
    # a field recorded only by newer trials (cpu) does not split trials that agree on all the others
    report, text = report_of(tmp_path / "newer", lambda r: one | ({"cpu": "X"} if r["seed"] else {}))
    assert "environments" not in report.provenance
