"""Rules for the test suite itself: no test asserts wall time (machines differ by 1.5x and more, and
a busy one by 10x; speed is measured in benchmarks/ as ratios)."""

import ast
from pathlib import Path

CLOCKS = {"perf_counter", "perf_counter_ns", "time", "time_ns", "monotonic", "monotonic_ns", "process_time",
          "process_time_ns", "thread_time", "thread_time_ns", "default_timer", "now", "utcnow"}
TIMERS = {"timeit", "repeat"}  # timeit's functions return a duration


def _call_name(node: ast.AST) -> str:
    f = node.func if isinstance(node, ast.Call) else None
    return f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")


def _reads_a_clock(node: ast.AST, stamps: set[str]) -> bool:
    """``node`` reads a clock, or a name holding a timestamp, somewhere inside."""
    return any((isinstance(sub, ast.Call) and _call_name(sub) in CLOCKS)
               or (isinstance(sub, ast.Name) and sub.id in stamps) for sub in ast.walk(node))


def _is_duration(node: ast.AST, stamps: set[str], durations: set[str]) -> bool:
    """A difference with a timestamp on one side, a name holding one, or a timeit call."""
    if isinstance(node, ast.Name):
        return node.id in durations
    if isinstance(node, ast.Call) and _call_name(node) in TIMERS:
        return True
    return any(isinstance(sub, ast.BinOp) and isinstance(sub.op, ast.Sub)
               and (_reads_a_clock(sub.left, stamps) or _reads_a_clock(sub.right, stamps))
               or (isinstance(sub, ast.Name) and sub.id in durations) for sub in ast.walk(node))


def _names(tree: ast.AST) -> tuple[set[str], set[str]]:
    """(timestamps, durations): names assigned a clock reading, and names assigned a duration, to a
    fixed point (a duration made of two timestamp names counts)."""
    assigns = [(t.id, n.value) for n in ast.walk(tree) if isinstance(n, ast.Assign)
               for t in n.targets if isinstance(t, ast.Name)]
    stamps, durations = set(), set()
    while True:
        new_d = {k for k, v in assigns if _is_duration(v, stamps, durations)}
        new_s = {k for k, v in assigns if _reads_a_clock(v, stamps)} - new_d
        if (new_s, new_d) == (stamps, durations):
            return stamps, durations
        stamps, durations = new_s, new_d


def _bounds_a_duration(test: ast.AST, stamps: set[str], durations: set[str]) -> bool:
    """A comparison of a duration with anything that reads no clock: ``time.perf_counter() - start < 3``,
    ``took < LIMIT``. Ordering two timestamps (``started > killed_at``), or a stored timestamp
    against a clock (``row["finished"] <= time.time()``), is not one."""
    for cmp in (n for n in ast.walk(test) if isinstance(n, ast.Compare)):
        sides = [cmp.left, *cmp.comparators]
        if any(_is_duration(side, stamps, durations) for side in sides) and \
                any(not _reads_a_clock(side, stamps) and not _is_duration(side, stamps, durations) for side in sides):
            return True
    return False


def wall_time_asserts(source: str) -> list[int]:
    """Lines of ``assert`` statements that bound a duration read off a clock."""
    tree = ast.parse(source)
    stamps, durations = _names(tree)
    return [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Assert) and _bounds_a_duration(n.test, stamps,
                                                                                                 durations)]


def test_the_checker_finds_a_wall_time_assert():
    assert wall_time_asserts("import time\nt = time.perf_counter()\nassert time.perf_counter() - t < 3\n") == [3]
    assert wall_time_asserts("import time\nt0 = time.time()\nassert 0.5 > time.time() - t0\n") == [3]
    assert wall_time_asserts("import time\nkilled = time.time()\nassert started > killed\n") == []
    assert wall_time_asserts("elapsed = 1.0\nassert elapsed < 3\n") == []


def test_the_checker_follows_durations_through_names_and_other_clocks():
    """A duration kept in a name made from two timestamps, bounded by a name or an expression, or
    read off timeit, is found; a timestamp ordered against a stored one is not a duration."""
    two = "import time\na = time.perf_counter()\nb = time.perf_counter()\ntook = b - a\nassert took < LIMIT\n"
    assert wall_time_asserts(two) == [5]
    assert wall_time_asserts("import time\ns = time.monotonic()\nassert time.monotonic() - s < 2 * base\n") == [3]
    assert wall_time_asserts("import timeit\nassert timeit.timeit(f, number=3) < 1.0\n") == [2]
    assert wall_time_asserts("import time\nassert row['finished'] <= time.time()\n") == []


def test_no_test_asserts_wall_time():
    root = Path(__file__).resolve().parent.parent
    found = {str(p.relative_to(root)): lines for p in sorted(root.glob("tests/**/*.py")) + sorted(
        root.glob("examples/**/tests/*.py")) if (lines := wall_time_asserts(p.read_text()))}
    assert found == {}, f"tests that assert wall time (measure it in benchmarks/ instead): {found}"
