"""The results store (rt_core.results.store) upgrades its own older schema in place."""

import sqlite3


def test_a_schema_1_store_is_upgraded_in_place_keeping_its_rows(tmp_path):
    from rt_core.results.store import SCHEMA, Store

    conn = sqlite3.connect(tmp_path / "results.sqlite")
    conn.executescript(SCHEMA.replace(", traceback TEXT", ""))
    conn.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    conn.execute("INSERT INTO trials (key, plugin, strength, seed, status, config) "
                 "VALUES ('k', 'blur', 1.0, 0, 'finished', '{}')")
    conn.commit()
    conn.close()
    store = Store(tmp_path)
    assert store.get_meta("schema_version") == "2"
    assert [(r["key"], r["status"], r["traceback"]) for r in store.rows()] == [("k", "finished", None)]


def test_merge_metrics_adds_scores_to_a_finished_row_and_nothing_else(tmp_path):
    import pytest

    from rt_core import RtError
    from rt_core.results.store import Store

    store = Store(tmp_path)
    store.start("k", "blur", 1.0, 0, {"a": 1})
    store.finish("k", "finished", {"acc_src": 90.0, "acc_tgt": 60.0}, {"total_s": 1.0}, {"torch": "x"})
    before = store.row("k")
    store.merge_metrics("k", {"score_logme": -0.5, "score_leep": None})
    store.merge_metrics("k", {"score_logme": -0.25})
    after = store.row("k")
    assert after["metrics"] == {"acc_src": 90.0, "acc_tgt": 60.0, "score_logme": -0.25, "score_leep": None}
    assert {k: v for k, v in after.items() if k != "metrics"} == {k: v for k, v in before.items() if k != "metrics"}
    with pytest.raises(RtError, match="score_<name> metrics only, not acc_tgt; a finished trial's measured"):
        store.merge_metrics("k", {"acc_tgt": 1.0, "score_x": 2.0})
    store.start("r", "blur", 2.0, 0, {})
    for key, what in (("r", "running in"), ("none", "not in")):
        with pytest.raises(RtError, match=f"trial {key} is {what} .*finished trials only"):
            store.merge_metrics(key, {"score_x": 1.0})
    assert store.row("k")["metrics"]["acc_tgt"] == 60.0 and store.row("r")["metrics"] == {}
    store.write_csv()
    header = (tmp_path / "results.csv").read_text().splitlines()[0].split(",")
    assert header[header.index("plateau_stay_frac") + 1:][:2] == ["score_leep", "score_logme"]
