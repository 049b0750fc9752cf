"""benchmarks/matrix.py runs end to end on one tiny problem, so it cannot rot."""

import json
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")
sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import matrix

TINY = matrix.Case("gated", "logistic", "synthetic", 1e-2, 8, n=60, d=5)


@pytest.mark.slow
def test_one_tiny_problem_runs_through_the_matrix(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(matrix, "default_cases", lambda: [TINY])
    matrix.main(["--timeout", "120", "--out", str(tmp_path)])
    rows = json.loads((tmp_path / "matrix.json").read_text())
    assert [row["method"] for row in rows] == ["convexnn", "mlp", "linear"]
    assert all(row["status"] == "ok" for row in rows), rows
    convexnn, mlp, _ = rows
    assert convexnn["certified"] and 0 <= convexnn["certificate"] <= matrix.TOL
    assert mlp["mlp_ratio"] == 1.0 and mlp["certificate"] is None
    assert (tmp_path / "matrix_profile.png").stat().st_size > 0
    printed = capsys.readouterr().out
    assert TINY.name in printed and "gated ReLU: 1/1 certified" in printed


def test_the_default_subset_covers_every_loss_size_and_alpha():
    cases = matrix.default_cases()
    synthetic = [case for case in cases if case.data == "synthetic"]
    for field, values in [
        ("formulation", matrix.FORMULATIONS),
        ("loss", matrix.LOSSES),
        ("n", matrix.SIZES),
        ("alpha", matrix.ALPHAS),
        ("d", matrix.WIDTHS),
        ("n_patterns", matrix.PATTERNS),
    ]:
        assert {getattr(case, field) for case in synthetic} == set(values), field
    assert {case.data for case in cases} >= {"breast_cancer", "digits", "wine"}


def test_a_fit_past_its_time_is_recorded_as_a_timeout():
    worker = matrix.Worker()
    try:
        big = matrix.Case("convex", "multinomial", "synthetic", 1e-4, 200, 5_000, 50)
        assert worker.fit(big, "convexnn", timeout=0.5)["status"].startswith("timeout")
    finally:
        worker.close()
