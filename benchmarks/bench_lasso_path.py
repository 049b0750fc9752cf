"""Weighted-Lasso path and LLM-Lasso fit, side by side with their baselines.

Part 1 — the path. A weighted Lasso

    min_β ‖y − Xβ‖² / (2n) + α Σ_j w_j |β_j|

on Gaussian data (n = 2000, p = 5000, 50 informative features, factors
w_j ∝ s_j^(-1) from noisy importance scores), solved along 50 alphas from
alpha_max down to alpha_max / 100 to a relative duality gap of 1e-6 by:

* convexnn's ``solve_path`` (warm-started, on the ``device`` asked for);
* scikit-learn's ``lasso_path`` on the rescaled columns X_j / w_j (the same
  problem; coefficients mapped back by / w_j);
* celer's ``celer_path`` and skglm's ``WeightedLasso`` with warm starts, when
  importable (``pip install celer skglm``).

X and y are centred and every method fits without intercept (the same
problem for all). Each method's stopping rule differs, so every solution is
re-certified here by one NumPy duality-gap computation; the table reports
time, the ratio to the fastest baseline, the worst relative gap along the
path and the worst relative objective excess over the best method.
scikit-learn's ``tol`` is set so that its own criterion (gap ≤ tol·‖y‖²/n)
implies a relative gap of 1e-6 at every alpha; celer and skglm get tight
tolerances and are judged by the re-certified gaps.

Part 2 — LLMLassoRegressor.fit with its default trust grid (the plain Lasso
and the trust values 0.5, 1, 2, 3 and 5: six candidates) × 5 folds × 100
alphas on n = 200, p = 2000 (timed once).

Part 3 — LLMLassoClassifier.fit with its defaults on standardised iris (three
classes, the multinomial loss), every feature given the same score: every
trust value is then the plain Lasso (timed once).

Run ``python benchmarks/bench_lasso_path.py`` (``--help`` for sizes).
Timings are single runs, each after a warm-up run of the same method on a
small slice, on whatever machine this is: compare ratios measured in the same
run only.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from sklearn.datasets import load_iris
from sklearn.preprocessing import StandardScaler

from convexnn import LLMLassoClassifier, LLMLassoRegressor
from convexnn._backend import Backend, to_numpy
from convexnn.penalty_factors import power_factors
from convexnn.problems import L1, MatrixOperator, Problem, SquaredLoss
from convexnn.scoring import PrecomputedScorer
from convexnn.solvers import alpha_grid, solve_path


def make_problem(n, p, n_informative, seed=0):
    """Centred Gaussian data, and factors from scores that favour (noisily)
    the informative features."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, p))
    coef = np.zeros(p)
    support = rng.choice(p, n_informative, replace=False)
    coef[support] = rng.uniform(0.5, 2.0, n_informative) * rng.choice(
        [-1, 1], n_informative
    )
    y = X @ coef + rng.standard_normal(n)
    scores = rng.uniform(0.05, 0.6, p)
    scores[support] = rng.uniform(0.3, 1.0, n_informative)
    X -= X.mean(axis=0)
    y -= y.mean()
    return X, y, power_factors(scores / scores.max(), 1.0)


def certify(X, y, factors, alpha, coef):
    """Primal objective and relative duality gap of ``coef`` (NumPy, float64)."""
    n = len(y)
    residual = y - X @ coef
    primal = residual @ residual / (2 * n) + alpha * np.sum(factors * np.abs(coef))
    theta = residual / n
    scale = min(1.0, alpha / np.max(np.abs(X.T @ theta) / factors))
    dual = scale * theta @ y - n / 2 * scale**2 * theta @ theta
    return primal, (primal - dual) / primal


def run_convexnn(X, y, factors, alphas, tol, device):
    backend = Backend.from_params(device, None)
    start = time.perf_counter()  # the operator's column-major copy counts too
    problem = Problem(
        MatrixOperator(backend.tensor(X)),
        SquaredLoss(backend.tensor(y[:, None])),
        L1(backend.tensor(factors)),
        alpha=alphas[0],
        fit_intercept=False,
    )
    results = solve_path(problem, alphas, tol=tol, max_iter=100_000)
    if backend.device.type == "cuda":
        torch.cuda.synchronize()
    elapsed = time.perf_counter() - start
    return elapsed, [to_numpy(r.x)[:, 0] for r in results]


def run_sklearn(X, y, factors, alphas, tol, objective_floor):
    from sklearn.linear_model import lasso_path

    scaled = X / factors
    sk_tol = tol * objective_floor * len(y) / (y @ y)
    start = time.perf_counter()
    _, coefs, _ = lasso_path(scaled, y, alphas=alphas, tol=sk_tol, max_iter=100_000)
    elapsed = time.perf_counter() - start
    return elapsed, [coefs[:, k] / factors for k in range(len(alphas))]


def run_celer(X, y, factors, alphas, tol):
    from celer import celer_path

    start = time.perf_counter()
    _, coefs, _ = celer_path(
        X,
        y,
        "lasso",
        alphas=alphas,
        tol=tol * 1e-2,
        weights=factors,
        max_epochs=100_000,
    )
    elapsed = time.perf_counter() - start
    return elapsed, [coefs[:, k] for k in range(len(alphas))]


def run_skglm(X, y, factors, alphas, tol):
    from skglm import WeightedLasso

    model = WeightedLasso(
        alphas[0], weights=factors, fit_intercept=False, tol=tol * 1e-2, warm_start=True
    )
    coefs = []
    start = time.perf_counter()
    for alpha in alphas:
        model.alpha = alpha
        coefs.append(model.fit(X, y).coef_.copy())
    elapsed = time.perf_counter() - start
    return elapsed, coefs


def bench_path(n, p, n_informative, n_alphas, ratio, tol, device):
    X, y, factors = make_problem(n, p, n_informative)
    alpha_max = np.max(np.abs(X.T @ y) / len(y) / factors)
    alphas = alpha_grid(alpha_max, n_alphas, ratio)
    print(
        f"weighted Lasso path: n={n}, p={p}, {n_informative} informative, "
        f"{n_alphas} alphas to alpha_max/{1 / ratio:g}, relative gap {tol:g}"
    )

    # every method first runs on a small slice (imports, JIT compilation,
    # lazy initialisation), so that the timings below measure the solves
    small = X[:50, :100], y[:50], factors[:100], alphas[:3], tol
    run_convexnn(*small, device)
    run_sklearn(*small, objective_floor=1.0)
    runs = {"convexnn": run_convexnn(X, y, factors, alphas, tol, device)}
    objectives = [
        certify(X, y, factors, a, c)[0]
        for a, c in zip(alphas, runs["convexnn"][1], strict=True)
    ]
    runs["sklearn lasso_path"] = run_sklearn(
        X, y, factors, alphas, tol, min(objectives)
    )
    for name, runner in (("celer", run_celer), ("skglm", run_skglm)):
        try:
            runner(*small)
            runs[name] = runner(X, y, factors, alphas, tol)
        except ImportError:
            print(f"  ({name} not installed: skipped)")

    certified = {
        name: np.array(
            [certify(X, y, factors, a, c) for a, c in zip(alphas, coefs, strict=True)]
        )
        for name, (_, coefs) in runs.items()
    }
    best = np.min([c[:, 0] for c in certified.values()], axis=0)
    fastest_baseline = min(t for name, (t, _) in runs.items() if name != "convexnn")
    print(
        f"{'method':>20} {'time (s)':>10} {'/ fastest baseline':>19} "
        f"{'max rel. gap':>13} {'max obj. excess':>16} {'nnz at end':>10}"
    )
    for name, (elapsed, coefs) in runs.items():
        primal, gap = certified[name][:, 0], certified[name][:, 1]
        excess = np.max((primal - best) / best)
        print(
            f"{name:>20} {elapsed:10.2f} {elapsed / fastest_baseline:19.2f} "
            f"{gap.max():13.1e} {excess:16.1e} {np.count_nonzero(coefs[-1]):10d}"
        )


def timed_fit(model, X, y) -> tuple[float, float]:
    """Fit ``model`` and return the wall-clock and CPU seconds it took."""
    wall, cpu = time.perf_counter(), time.process_time()
    model.fit(X, y)
    return time.perf_counter() - wall, time.process_time() - cpu


def bench_llm_fit(n, p, n_informative, device):
    X, y, factors = make_problem(n, p, n_informative, seed=1)
    scores = factors.min() / factors  # the scores behind the factors, max 1
    model = LLMLassoRegressor(
        PrecomputedScorer(scores), n_alphas=100, cv=5, device=device, random_state=0
    )
    wall, cpu = timed_fit(model, X, y)
    n_trust = len(set(model.cv_results_["trust"]))
    print(
        f"\nLLMLassoRegressor.fit: n={n}, p={p}, {n_trust} trust values x 5 folds x "
        f"100 alphas: {wall:.2f} s ({cpu:.2f} s CPU; trust_={model.trust_}, "
        f"{len(model.selected_features_)} features selected, "
        f"gap {model.dual_gap_:.1e})"
    )


def bench_llm_classifier(device):
    X, y = load_iris(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    model = LLMLassoClassifier(
        PrecomputedScorer(np.ones(X.shape[1])), device=device, random_state=0
    )
    wall, cpu = timed_fit(model, X, y)
    print(
        f"LLMLassoClassifier.fit, iris, equal scores, defaults: {wall:.2f} s "
        f"({cpu:.2f} s CPU; alpha_={model.alpha_:.3g}, "
        f"{len(model.selected_features_)} features selected, "
        f"gap {model.dual_gap_:.1e})"
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--p", type=int, default=5000)
    parser.add_argument("--n-informative", type=int, default=50)
    parser.add_argument("--n-alphas", type=int, default=50)
    parser.add_argument("--min-ratio", type=float, default=1e-2)
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--skip-path", action="store_true")
    parser.add_argument("--skip-llm", action="store_true")
    args = parser.parse_args()
    if not args.skip_path:
        bench_path(
            args.n,
            args.p,
            args.n_informative,
            args.n_alphas,
            args.min_ratio,
            args.tol,
            args.device,
        )
    if not args.skip_llm:
        bench_llm_fit(200, 2000, 20, args.device)
        bench_llm_classifier(args.device)


if __name__ == "__main__":
    main()
