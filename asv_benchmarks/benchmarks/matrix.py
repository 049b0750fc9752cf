"""The problems of ``benchmarks/matrix.py`` (its ``--quick`` subset) under asv.

The cases, data and estimators are the script's own, loaded by path, so the
two cannot drift apart: fit time, peak memory and the certificate reached.
"""

from __future__ import annotations

from .common import load_script

MATRIX = load_script("matrix")
CASES = {case.name: case for case in MATRIX.quick_cases()}


class MatrixBenchmark:
    """convexnn fits of the quick benchmark matrix, to tol 1e-6."""

    params = list(CASES)
    param_names = ["problem"]
    timeout = 600

    def setup(self, problem):
        case = CASES[problem]
        self.X, _, self.y, _ = MATRIX.load_data(case)
        self.model = MATRIX.make_estimator(case, "convexnn")

    def time_fit(self, problem):
        self.model.fit(self.X, self.y)

    def peakmem_fit(self, problem):
        self.model.fit(self.X, self.y)

    def track_certificate(self, problem):
        return MATRIX.certificate(self.model.fit(self.X, self.y))
