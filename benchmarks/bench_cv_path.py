"""Cross-validated alpha: the warm-started path against GridSearchCV.

For each case the cross-validated estimator (``GatedReLURegressorCV``,
``GatedReLUClassifierCV``, ``ConvexReLURegressorCV``) is fitted, then
scikit-learn's ``GridSearchCV`` searches the same grid (its ``alphas_``) over
the estimator at one alpha, with the *same* gates (``gates=model.gates_``),
the same folds (one splitter object passed to both), the same scoring (the
estimator's ``score``), the same ``tol`` and a refit, one fit per
(alpha, fold) from scratch. Printed, all measured in this run:

* both fit times and their ratio (GridSearchCV / path);
* whether both chose the same alpha, and the largest difference between
  their mean held-out scores over the grid (the path's solves and the
  independent ones stop at the same relative ``tol``, not at the same point).

Cases (``--cases`` picks some; sizes are arguments):

* ``gated-regression``: y = sin(2x₀) + |x₁| + noise, n = 400, d = 10,
  100 gates, 30 alphas, 5 folds;
* ``gated-classification``: breast cancer (standardised), logistic loss,
  100 gates, 30 alphas, 5 stratified folds;
* ``convex-regression``: the regression data at n = 100, d = 3, 20 gates,
  20 alphas, 3 folds (the convex ReLU solves cost far more per alpha).

Run ``python benchmarks/bench_cv_path.py``; timings are single runs on
whatever machine this is: compare the ratios measured in the same run only.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
import torch
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold
from sklearn.preprocessing import StandardScaler

from convexnn import (
    ConvexReLURegressor,
    ConvexReLURegressorCV,
    GatedReLUClassifier,
    GatedReLUClassifierCV,
    GatedReLURegressor,
    GatedReLURegressorCV,
)


def regression(n: int, d: int, seed: int = 0):
    """Standardised Gaussian inputs, a nonlinear target with noise."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    y = np.sin(2 * X[:, 0]) + np.abs(X[:, 1]) + 0.3 * rng.standard_normal(n)
    return X, y


def breast_cancer():
    X, y = load_breast_cancer(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def cases(args):
    """(name, data, path estimator, its one-alpha counterpart, folds)."""
    settings = {"tol": args.tol, "device": args.device, "random_state": 0}
    return {
        "gated-regression": (
            regression(args.n, args.d),
            GatedReLURegressorCV(
                n_patterns=args.patterns, n_alphas=args.alphas, **settings
            ),
            GatedReLURegressor,
            KFold(args.folds, shuffle=True, random_state=0),
        ),
        "gated-classification": (
            breast_cancer(),
            GatedReLUClassifierCV(
                n_patterns=args.patterns, n_alphas=args.alphas, **settings
            ),
            GatedReLUClassifier,
            StratifiedKFold(args.folds, shuffle=True, random_state=0),
        ),
        "convex-regression": (
            regression(args.convex_n, 3),
            ConvexReLURegressorCV(
                n_patterns=args.convex_patterns, n_alphas=args.convex_alphas, **settings
            ),
            ConvexReLURegressor,
            KFold(args.convex_folds, shuffle=True, random_state=0),
        ),
    }


def compare(data, path_model, Single, folds, device, tol):
    """Fit both ways; return the times and how their choices agree."""
    X, y = data
    path_model.set_params(cv=folds)
    start = time.perf_counter()
    path_model.fit(X, y)
    path_time = time.perf_counter() - start
    single = Single(gates=path_model.gates_, tol=tol, device=device)
    search = GridSearchCV(single, {"alpha": list(path_model.alphas_)}, cv=folds)
    start = time.perf_counter()
    search.fit(X, y)
    grid_time = time.perf_counter() - start
    grid_scores = search.cv_results_["mean_test_score"]
    # GridSearchCV lists the alphas in the order given: the same as alphas_
    gap = float(np.abs(grid_scores - path_model.scores_path_.mean(axis=1)).max())
    same = search.best_params_["alpha"] == path_model.alpha_
    return path_time, grid_time, same, gap


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", nargs="*", default=None)
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--d", type=int, default=10)
    parser.add_argument("--patterns", type=int, default=100)
    parser.add_argument("--alphas", type=int, default=30)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--convex-n", type=int, default=100)
    parser.add_argument("--convex-patterns", type=int, default=20)
    parser.add_argument("--convex-alphas", type=int, default=20)
    parser.add_argument("--convex-folds", type=int, default=3)
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    warnings.simplefilter("ignore", ConvergenceWarning)
    all_cases = cases(args)
    names = args.cases or list(all_cases)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    header = f"{'case':22s} {'path (s)':>9s} {'grid (s)':>9s} {'ratio':>6s}"
    print(header + "  same alpha  max |Δ mean score|")
    for name in names:
        data, path_model, Single, folds = all_cases[name]
        path_time, grid_time, same, gap = compare(
            data, path_model, Single, folds, args.device, args.tol
        )
        print(
            f"{name:22s} {path_time:9.2f} {grid_time:9.2f} "
            f"{grid_time / path_time:6.1f}  {same!s:10s}  {gap:.2e}"
        )


if __name__ == "__main__":
    main()
