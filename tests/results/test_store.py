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
