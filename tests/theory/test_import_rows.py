"""``rt report --import`` holds its rows in columns (theory.report.rows): the same rows, lookups and
rel_dt as dicts would give, in a fraction of the memory."""

import math
import random
import tracemalloc

from benchmarks.import_rows import write_table
from theory.report.job import KINDS, read_published
from theory.report.rows import Builder, Rows


def _trials(seed: int = 0) -> list[dict]:
    """Rows with repeated vanillas, a plugin without its identity row, failed trials and missing values."""
    rng = random.Random(seed)
    rows = []
    for s in range(6):
        for plugin, strength in [("vanilla", 0.0), ("vanilla", 0.0), ("blur", 0.0), ("blur", 1.0), ("blur", 2.0),
                                 ("rescale", 1.0), ("rescale", 2.0), ("weight_decay", 1e-3), ("<x>|y", 3.0)]:
            if rng.random() < 0.2:
                continue
            finished = rng.random() < 0.85
            rows.append({"plugin": plugin, "strength": strength, "seed": rng.choice([s, s, 7]),
                         "status": "finished" if finished else "failed", "error": None if finished else "boom",
                         "acc_src": 80 + rng.random() if finished else None,
                         "acc_tgt": 60 + rng.random() if finished else None,
                         "rob_src": 30.0 if finished and rng.random() < 0.5 else None, "probe_acc_src": None})
    rng.shuffle(rows)
    return rows


def _columnar(rows: list[dict]) -> Rows:
    table = Builder(KINDS)
    for r in rows:
        table.add(r)
    return table.rows()


def test_columnar_rows_read_and_look_up_as_the_dicts_they_hold():
    dicts = _trials()
    plain, columns = Rows(dicts), _columnar(dicts)
    assert list(columns) == dicts and [columns[i] for i in range(len(dicts))] == dicts and columns[-1] == dicts[-1]
    identity = {"vanilla": 0.0, "blur": 0.0, "rescale": 1.0, "weight_decay": 0.0, "<x>|y": 0.0}
    for rows in (plain, columns):
        refs = rows.references(identity)
        for i, r in enumerate(dicts):
            assert rows.of(r["plugin"], r["seed"]) == [d for d in dicts if (d["plugin"], d["seed"]) == (r["plugin"],
                                                                                                      r["seed"])]
            expected = rows.reference(r["plugin"], identity[r["plugin"]], r["seed"])
            assert (refs[i] < 0 and expected is None) or dicts[refs[i]] == expected
    assert plain.reference("blur", 0.0, 99) is None and columns.of("nobody", 0) == []


def test_imported_rel_dt_is_against_each_rows_reference_and_none_unless_both_finished(tmp_path):
    once = {(r["plugin"], r["strength"], r["seed"]): r for r in _trials(1)
            if r["plugin"] in ("vanilla", "blur", "rescale")}
    dicts = list(once.values())
    lines = ["plugin,strength,seed,acc_src,acc_tgt,status"] + [
        f"{r['plugin']},{r['strength']},{r['seed']},{r['acc_src'] or ''},{r['acc_tgt'] or ''},{r['status']}"
        for r in dicts if r["plugin"] != "vanilla" or r["status"] == "finished"]
    (tmp_path / "t.csv").write_text("\n".join(lines) + "\n")
    rows = read_published(tmp_path / "t.csv")
    identity = {"vanilla": 0.0, "blur": 0.0, "rescale": 1.0}
    for r in rows:
        base = rows.reference(r["plugin"], identity[r["plugin"]], r["seed"])
        if r["status"] != "finished" or base["status"] != "finished":
            assert r["rel_dt"] is None
        else:
            assert math.isclose(r["rel_dt"], (r["acc_tgt"] - r["acc_src"]) - (base["acc_tgt"] - base["acc_src"]))


def test_an_imported_table_takes_a_few_dozen_bytes_a_row(tmp_path):
    """Columns, not a dict per row: under 100 bytes a row held, under 250 at the peak while reading
    (rows held as dicts took several times that)."""
    n = write_table(tmp_path / "rows.csv", 20_000)
    read_published(tmp_path / "rows.csv")  # imports and caches out of the measurement
    tracemalloc.start()
    try:
        rows = read_published(tmp_path / "rows.csv")
        held, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(rows) == n and held / n < 100 and peak / n < 250, (held / n, peak / n)
