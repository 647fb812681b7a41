"""Rules for the test suite itself: no test asserts wall time (machines differ by 1.5x and more, and
a busy one by 10x; speed is measured in benchmarks/ as ratios)."""

import ast
from pathlib import Path

CLOCKS = {"perf_counter", "perf_counter_ns", "time", "time_ns", "monotonic", "monotonic_ns", "process_time"}


def _reads_a_clock(node: ast.AST, timed: set[str]) -> bool:
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            f = sub.func
            name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
            if name in CLOCKS:
                return True
        if isinstance(sub, ast.Name) and sub.id in timed:
            return True
    return False


def _bounds_a_duration(test: ast.AST, timed: set[str]) -> bool:
    """A comparison of a clock reading (directly or through a name assigned from one) with a number:
    ``time.perf_counter() - start < 3``. Ordering two timestamps (``started > killed_at``) is not one."""
    for cmp in (n for n in ast.walk(test) if isinstance(n, ast.Compare)):
        sides = [cmp.left, *cmp.comparators]
        clocks = [_reads_a_clock(side, timed) for side in sides]
        numbers = [isinstance(side, ast.Constant) and isinstance(side.value, int | float) for side in sides]
        if any(clocks) and any(numbers):
            return True
    return False


def wall_time_asserts(source: str) -> list[int]:
    """Lines of ``assert`` statements that bound a duration read off a clock."""
    tree = ast.parse(source)
    timed = {t.id for n in ast.walk(tree) if isinstance(n, ast.Assign) and _reads_a_clock(n.value, set())
             for t in n.targets if isinstance(t, ast.Name)}
    return [n.lineno for n in ast.walk(tree) if isinstance(n, ast.Assert) and _bounds_a_duration(n.test, timed)]


def test_the_checker_finds_a_wall_time_assert():
    assert wall_time_asserts("import time\nt = time.perf_counter()\nassert time.perf_counter() - t < 3\n") == [3]
    assert wall_time_asserts("import time\nt0 = time.time()\nassert 0.5 > time.time() - t0\n") == [3]
    assert wall_time_asserts("import time\nkilled = time.time()\nassert started > killed\n") == []
    assert wall_time_asserts("elapsed = 1.0\nassert elapsed < 3\n") == []


def test_no_test_asserts_wall_time():
    root = Path(__file__).resolve().parent.parent
    found = {str(p.relative_to(root)): lines for p in sorted(root.glob("tests/**/*.py")) + sorted(
        root.glob("examples/**/tests/*.py")) if (lines := wall_time_asserts(p.read_text()))}
    assert found == {}, f"tests that assert wall time (measure it in benchmarks/ instead): {found}"
