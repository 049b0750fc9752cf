"""Convex ReLU on breast cancer and a larger synthetic problem, against CVXPY.

Three measurements, all in this one run (each fit in a fresh process, so its
peak memory is its own):

* **breast cancer**, standardised, 100 gates, squared loss on ±1 targets, no
  intercept, no hidden bias, ``alpha=0.02385`` (the gated benchmark's alpha):
  fit time of each solver to KKT residuals ≤ ``--tol`` within ``--max-iter``
  iterations, the residuals it reached, its objective and the certified lower
  bound from the solver's multipliers;
* **CVXPY + Clarabel** on the same program (by default the whole breast
  cancer problem; ``--cvxpy-samples``, ``--cvxpy-gates`` pick a smaller one):
  its time against convexnn's ADMM fit, the ratio, and the agreement of the
  objectives;
* **synthetic**, ``n = 20 000``, ``d = 50``, 500 gates: time, iterations,
  residuals and peak resident memory of a fit with a fixed iteration budget.

Run ``python benchmarks/bench_convex_relu.py`` (``--help`` for the knobs; set
``OMP_NUM_THREADS`` to pin the thread count).
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time
import warnings

import numpy as np
import torch
from common import ISSUE_PROBLEM, breast_cancer
from sklearn.exceptions import ConvergenceWarning


def synthetic(n_samples: int, n_features: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features))
    y = np.sin(X[:, 0]) + np.abs(X[:, 1]) + 0.1 * rng.standard_normal(n_samples)
    return X, y


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _fit(data: str, n_samples: int | None, params: dict) -> dict:
    """Fit in this (child) process; return the model's numbers, the fit time
    and the growth of the peak resident memory during the fit."""
    from convexnn import ConvexReLURegressor

    if data == "breast_cancer":
        X, y = breast_cancer()
        X, y = X[:n_samples], y[:n_samples]
    else:
        X, y = synthetic(*n_samples)
    before = _peak_rss_mb()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = ConvexReLURegressor(**params).fit(X, y)
    elapsed = time.perf_counter() - start
    return dict(
        time=elapsed,
        memory=_peak_rss_mb() - before,
        objective=model.objective_,
        lower_bound=model.lower_bound_,
        n_iter=model.n_iter_,
        converged=model.converged_,
        residuals=(
            model.stationarity_,
            model.constraint_violation_,
            model.complementarity_,
        ),
        neurons=model.n_active_neurons_,
        gates=model.gates_,
    )


def in_child(function, *args):
    """``function(*args)`` in a fresh process (its own peak memory)."""
    context = multiprocessing.get_context("spawn")
    with context.Pool(1) as pool:
        return pool.apply(function, args)


def cvxpy_fit(n_samples: int, gates: np.ndarray, alpha: float) -> tuple[float, float]:
    """The same program by CVXPY + Clarabel: (time, objective)."""
    import cvxpy as cp

    from convexnn.patterns import activation_patterns

    X, y = breast_cancer()
    X, y = X[:n_samples], y[:n_samples]
    masks = activation_patterns(X, gates).astype(float)
    signs = 2 * masks - 1
    v = cp.Variable((X.shape[1], len(gates)))
    w = cp.Variable((X.shape[1], len(gates)))
    outputs = cp.sum(cp.multiply(masks, X @ (v - w)), axis=1)
    objective = cp.sum_squares(outputs - y) / (2 * len(y)) + alpha * (
        cp.sum(cp.norm(v, axis=0)) + cp.sum(cp.norm(w, axis=0))
    )
    constraints = [cp.multiply(signs, X @ v) >= 0, cp.multiply(signs, X @ w) >= 0]
    problem = cp.Problem(cp.Minimize(objective), constraints)
    start = time.perf_counter()
    problem.solve(solver="CLARABEL")
    return time.perf_counter() - start, problem.value


def describe(name: str, result: dict) -> str:
    stationarity, violation, complementarity = result["residuals"]
    return (
        f"{name:<26}{result['time']:>9.2f}{result['n_iter']:>8d}"
        f"{result['objective']:>15.9f}{result['lower_bound']:>15.9f}"
        f"  {stationarity:.1e} / {violation:.1e} / {complementarity:.1e}"
        f"  {'yes' if result['converged'] else 'no'}"
        f"{result['memory']:>9.0f}"
    )


HEADER = (
    f"{'':<26}{'fit (s)':>9}{'iter':>8}{'objective':>15}{'lower bound':>15}"
    "  stationarity/violation/compl.  conv.  +MB RSS"
)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tol", type=float, default=1e-6)
    parser.add_argument("--max-iter", type=int, default=10_000)
    parser.add_argument(
        "--solvers", default="admm,augmented_lagrangian", help="comma-separated"
    )
    parser.add_argument("--cvxpy-samples", type=int, default=569)
    parser.add_argument("--cvxpy-gates", type=int, default=100)
    parser.add_argument("--large-iter", type=int, default=40)
    parser.add_argument("--skip-large", action="store_true")
    args = parser.parse_args(argv)
    print(f"torch threads: {torch.get_num_threads()}")

    print("\nbreast cancer (n=569, d=30), 100 gates, alpha=0.02385")
    print(HEADER)
    fits = {}
    for solver in args.solvers.split(","):
        params = dict(
            ISSUE_PROBLEM, solver=solver, tol=args.tol, max_iter=args.max_iter
        )
        fits[solver] = in_child(_fit, "breast_cancer", None, params)
        print(describe(solver, fits[solver]))

    n_small, n_gates = args.cvxpy_samples, args.cvxpy_gates
    print(
        f"\nagainst CVXPY + Clarabel: breast cancer, first {n_small} samples, "
        f"{n_gates} gates"
    )
    params = dict(
        ISSUE_PROBLEM, n_patterns=n_gates, solver="admm", tol=args.tol, max_iter=100_000
    )
    whole = n_small >= 569 and n_gates == ISSUE_PROBLEM["n_patterns"]
    if whole and "admm" in fits and fits["admm"]["converged"]:
        ours = fits["admm"]  # the same fit as above
    else:
        ours = in_child(_fit, "breast_cancer", n_small, params)
    reference_time, reference = cvxpy_fit(n_small, ours["gates"], params["alpha"])
    print(HEADER)
    print(describe("convexnn admm", ours))
    print(
        f"{'CVXPY + Clarabel':<26}{reference_time:>9.2f}{'':>8}{reference:>15.9f}"
        f"\nratio (Clarabel / convexnn): {reference_time / ours['time']:.2f}; "
        f"objectives differ by {abs(ours['objective'] / reference - 1):.1e} "
        "(relative)"
    )

    if args.skip_large:
        return
    print(
        f"\nsynthetic n=20000, d=50 (+ hidden bias), 500 gates, alpha=1e-3, "
        f"{args.large_iter} iterations"
    )
    print(HEADER)
    for solver in args.solvers.split(","):
        params = dict(
            alpha=1e-3,
            n_patterns=500,
            random_state=0,
            device="cpu",
            solver=solver,
            tol=args.tol,
            max_iter=args.large_iter,
        )
        print(describe(solver, in_child(_fit, "synthetic", (20_000, 50), params)))


if __name__ == "__main__":
    main()
