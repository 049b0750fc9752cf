"""benchmarks/compare.py runs end to end on tiny problems, so it cannot rot."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")
sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import compare
import matrix
from common import ISSUE_PROBLEM

SIGNS = compare.Problem(
    "tiny-signs",
    matrix.Case("gated", "squared", "breast_cancer", ISSUE_PROBLEM["alpha"], 8),
    params=tuple((k, v) for k, v in ISSUE_PROBLEM.items() if k != "n_patterns"),
    signs=True,
    adam_steps=100,
)
TINY = [
    SIGNS,
    compare.Problem(
        "tiny-logistic",
        matrix.Case("convex", "logistic", "synthetic", 1e-2, 6, n=60, d=4),
        adam_steps=100,
    ),
    compare.Problem(
        "tiny-lasso", matrix.Case("lasso", "squared", "synthetic", 1e-2, 0, 60, 20)
    ),
]


@pytest.mark.slow
def test_tiny_problems_run_through_the_comparison(tmp_path, monkeypatch):
    monkeypatch.setattr(compare, "default_problems", lambda: TINY)
    # a peer that is never installed, to check that it is skipped with a note
    monkeypatch.setitem(compare.PEERS, "scnn", "convexnn_no_such_peer")
    compare.main(["--timeout", "120", "--out", str(tmp_path)])

    results = json.loads((tmp_path / "compare.json").read_text())
    rows = results["rows"]
    assert all(row["status"] == "ok" for row in rows), rows
    assert any("scnn skipped on tiny-signs" in note for note in results["skipped"])
    for problem in TINY:
        fits = {row["method"]: row for row in rows if row["problem"] == problem.name}
        expected = [m for m in problem.methods if compare.available(m)]
        assert list(fits) == expected
        convexnn = fits["convexnn"]
        assert convexnn["certificate"] <= matrix.TOL
        bound = convexnn["lower_bound"]
        assert bound <= convexnn["objective"] <= bound * (1 + 10 * matrix.TOL)
        # a theorem where the objective is the same: nothing goes below the bound
        # (Adam's ReLU network is not limited to the sampled patterns: excluded)
        for method, row in fits.items():
            if row["objective"] is not None and problem.case.formulation != "convex":
                assert row["objective"] >= bound * (1 - 1e-9), method
            # a curve of objective against time exactly for the same objective
            assert bool(row["curve"]) == (row["objective"] is not None), method
        assert (tmp_path / f"{problem.name}.png").stat().st_size > 0

    table = (tmp_path / "compare.md").read_text()
    assert "## tiny-lasso" in table and "| sklearn |" in table
    assert "scnn skipped" in table


def test_scnn_solves_the_same_problem_as_convexnn():
    """scnn's objective, computed here, is the problem's: on the same gates it
    comes within its tolerance of convexnn's certified optimum, never below."""
    pytest.importorskip("scnn.optimize")
    X_train, _, y_train, _ = compare.load(SIGNS)
    convexnn = compare.convexnn_estimator(SIGNS).set_params(tol=1e-10)
    convexnn.fit(X_train, y_train)
    scnn = compare.ScnnGatedReLU(SIGNS, tol=1e-8).fit(X_train, y_train)
    bound = convexnn.objective_ * (1 - convexnn.dual_gap_)
    assert bound * (1 - 1e-12) <= scnn.objective_ <= bound * (1 + 1e-4)
    assert np.mean(np.sign(scnn.predict(X_train)) == y_train) > 0.9
