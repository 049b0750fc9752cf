"""benchmarks/bench_convex_small.py runs end to end on three tiny problems,
so it cannot rot, and certifies them."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import bench_convex_small


def test_tiny_problems_of_every_kind_run_and_are_certified(capsys):
    rows = bench_convex_small.run([0], [60], [5], [8], [1e-2])
    assert [row["kind"] for row in rows] == list(bench_convex_small.KINDS)
    assert all(row["certified"] for row in rows), rows
    summary = bench_convex_small.summary(rows)
    assert summary.startswith("certified: 3 of 3")
    printed = capsys.readouterr().out
    assert printed.count("certified") == 3 and "NOT" not in printed
