"""The one definition of relative transferability and its parts (rt_core.results.metrics)."""

import pytest

from rt_core.results.metrics import deltas, rel_dt


def test_metrics_rel_dt_and_deltas():
    assert rel_dt(80.0, 70.0, 90.0, 60.0) == pytest.approx((70.0 - 80.0) - (60.0 - 90.0))
    d = deltas({"acc_src": 80.0, "acc_tgt": 70.0, "probe_acc_src": 88.0}, {"acc_src": 90.0, "acc_tgt": 60.0,
                                                                          "probe_acc_src": 90.0})
    assert d["rel_dt"] == pytest.approx(20.0) and d["rel_dt_probe"] == pytest.approx(12.0) and d["d_rob_src"] is None
