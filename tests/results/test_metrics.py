"""The one definition of relative transferability and its parts (rt_core.results.metrics)."""

import pytest

from rt_core.results.metrics import deltas, rel_dt


def test_metrics_rel_dt_and_deltas():
    assert rel_dt(80.0, 70.0, 90.0, 60.0) == pytest.approx((70.0 - 80.0) - (60.0 - 90.0))
    d = deltas({"acc_src": 80.0, "acc_tgt": 70.0, "probe_acc_src": 88.0}, {"acc_src": 90.0, "acc_tgt": 60.0,
                                                                          "probe_acc_src": 90.0})
    assert d["rel_dt"] == pytest.approx(20.0) and d["rel_dt_probe"] == pytest.approx(12.0) and d["d_rob_src"] is None


def test_load_results_marks_unusable_rows_and_gives_them_no_rel_dt(tmp_path):
    """A trial at chance, and a trial that learned while its seed's vanilla did not, are not usable
    and have NaN deltas, so a plain groupby mean is the mean over the usable trials only."""
    import json
    import math

    import rt_core
    from rt_core.reporting import Store

    store = Store(tmp_path)
    store.set_meta("config", json.dumps({"source": {"dataset": "printed_digits"}}))  # 10 classes: usable > 20%
    for key, plugin, seed, acc_src, acc_tgt in (("v0", "vanilla", 0, 90.0, 60.0), ("b0", "blur", 0, 15.0, 70.0),
                                                ("v1", "vanilla", 1, 12.0, 50.0), ("b1", "blur", 1, 85.0, 62.0),
                                                ("v2", "vanilla", 2, 88.0, 58.0), ("b2", "blur", 2, 84.0, 61.0)):
        store.start(key, plugin, 0.0 if plugin == "vanilla" else 1.0, seed, {})
        store.finish(key, "finished", {"acc_src": acc_src, "acc_tgt": acc_tgt}, {}, {})
    store.close()
    df = rt_core.load_results(tmp_path).set_index("key")
    assert df["usable"].dtype == bool
    assert df["usable"].to_dict() == {"b0": False, "b1": False, "b2": True, "v0": True, "v1": False, "v2": True}
    assert all(math.isnan(df.loc[k, c]) for k in ("b0", "b1", "v1") for c in ("rel_dt", "delta_acc_src"))
    assert df.groupby("plugin")["rel_dt"].mean()["blur"] == rel_dt(84.0, 61.0, 88.0, 58.0)  # +7, not +36
