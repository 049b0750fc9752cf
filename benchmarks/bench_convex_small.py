"""Convex ReLU on many small problems: is every fit certified, and how fast?

The problems a user's property tests and small experiments bring: targets of
three kinds (``regression``: ``make_regression`` with noise, scaled to unit
variance; ``classification``: ``make_classification`` fitted by
``ConvexReLUClassifier``; ``binary-regression``: the same 0/1 labels fitted by
``ConvexReLURegressor``, uncentred targets), standardised features, over

    seed {0, 1} × n {60, 300} × d {5, 20} × patterns {8, 40}
    × alpha {1e-1, 1e-2, 1e-3, 1e-4}

(192 fits with the defaults), each with the estimators' defaults otherwise
(``tol=1e-6``, ``solver="auto"``). It prints one line per fit (time, the
method that produced the result, iterations, certified or not) and a summary:
how many fits were certified, the median and largest times, and the median
time of the tiny ones (``n = 60``, 8 patterns).

Run ``python benchmarks/bench_convex_small.py`` (``--quick`` for one seed and
alphas 1e-2 and 1e-4; set ``OMP_NUM_THREADS`` to pin the thread count).
"""

from __future__ import annotations

import argparse
import itertools
import time
import warnings

import numpy as np
from sklearn.datasets import make_classification, make_regression
from sklearn.preprocessing import StandardScaler

from convexnn import ConvexReLUClassifier, ConvexReLURegressor

KINDS = ("regression", "classification", "binary-regression")


def problem(kind: str, n: int, d: int, seed: int):
    """Standardised features and targets of one kind."""
    if kind == "regression":
        X, y = make_regression(n_samples=n, n_features=d, noise=5.0, random_state=seed)
        y = y / y.std()
    else:
        X, y = make_classification(
            n_samples=n,
            n_features=d,
            n_informative=3,
            n_redundant=1,
            random_state=seed,
        )
        if kind == "binary-regression":
            y = y.astype(float)
    return StandardScaler().fit_transform(X), y


def fit(kind: str, n: int, d: int, n_patterns: int, alpha: float, seed: int) -> dict:
    """Fit one problem; its time, method, iterations and whether it is
    certified."""
    X, y = problem(kind, n, d, seed)
    estimator = (
        ConvexReLUClassifier if kind == "classification" else ConvexReLURegressor
    )
    model = estimator(alpha=alpha, n_patterns=n_patterns, random_state=seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(X, y)
    return {
        "seconds": time.perf_counter() - start,
        "solver": model.solver_,
        "n_iter": model.n_iter_,
        "certified": bool(model.converged_),
    }


def run(seeds, sizes, widths, patterns, alphas, kinds=KINDS) -> list[dict]:
    """Fit every problem of the product, printing a line for each."""
    rows = []
    for seed, n, d, n_patterns, alpha, kind in itertools.product(
        seeds, sizes, widths, patterns, alphas, kinds
    ):
        row = {"kind": kind, "seed": seed, "n": n, "d": d, "patterns": n_patterns}
        row.update(alpha=alpha, **fit(kind, n, d, n_patterns, alpha, seed))
        rows.append(row)
        status = "certified" if row["certified"] else "NOT certified"
        print(
            f"{kind:18s} seed {seed} n {n:4d} d {d:3d} patterns {n_patterns:3d} "
            f"alpha {alpha:<7g} {row['seconds']:7.3f} s  {row['solver']:15s} "
            f"{row['n_iter']:6d}  {status}",
            flush=True,
        )
    return rows


def summary(rows: list[dict]) -> str:
    seconds = np.array([row["seconds"] for row in rows])
    tiny = [row["seconds"] for row in rows if row["n"] <= 60 and row["patterns"] <= 8]
    certified = sum(row["certified"] for row in rows)
    lines = [
        f"certified: {certified} of {len(rows)}",
        f"time: median {np.median(seconds):.3f} s, largest {seconds.max():.3f} s",
    ]
    if tiny:
        lines.append(f"tiny fits (n = 60, 8 patterns): median {np.median(tiny):.3f} s")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    seeds, alphas = (
        ([0], [1e-2, 1e-4]) if args.quick else ([0, 1], [1e-1, 1e-2, 1e-3, 1e-4])
    )
    rows = run(seeds, [60, 300], [5, 20], [8, 40], alphas)
    print(summary(rows))


if __name__ == "__main__":
    main()
