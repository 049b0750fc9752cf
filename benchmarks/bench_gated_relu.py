"""Gated ReLU on breast cancer: convexnn against Adam and MLPClassifier.

The problem of the foundation issue: breast cancer standardised, 100 gates,
squared loss on ±1 targets, no intercept, no hidden bias, ``alpha=0.02385``
(the peer library scnn's λ = 1e-3 after its hidden column scaling by √n).
Printed, all measured in this one run:

* convexnn's fit time to a relative duality gap ≤ 1e-6 and its iterations;
* the core solver on the same problem without its float32 phase
  (``fista(..., single_precision=False)``), without its Newton method on the
  block weights (``kernel=False``: proximal gradient and the Newton finish on
  the coefficients) and without either Newton method (``newton=False``), to
  show what each buys;
* the time per proximal-gradient iteration, in float32 and in float64, against
  the time of the two matrix products an iteration needs (``A x`` and
  ``Aᵀ r``) measured alone in the same dtype, and against the products it
  actually makes (counted: line-search retries and certificates add some);
* the same network trained by Adam (same gates, same alpha): time until its
  objective is within 1% of the certified convex optimum, or its best
  objective after its budget;
* scikit-learn's ``MLPClassifier`` (100 ReLU units) fit time and accuracy;

with ratios against convexnn, and convexnn's fit time over several gate draws
(``--gate-draws``: the solver's path depends on the gates). Run
``python benchmarks/bench_gated_relu.py``.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np
import torch
from common import ISSUE_PROBLEM, breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPClassifier

from convexnn import GatedReLURegressor
from convexnn.baselines import NonconvexGatedReLURegressor
from convexnn.problems import GatedOperator, GroupLasso, Problem, SquaredLoss
from convexnn.solvers import fista

PROBLEM = dict(ISSUE_PROBLEM, tol=1e-6, dtype="float64")


def timed(function, repeats: int):
    """Median wall time of ``repeats`` calls, and the last result."""
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


class CountingOperator(GatedOperator):
    """The gated operator, counting its products (its conversions too)."""

    def __init__(self, X, masks, counts=None):
        super().__init__(X, masks)
        self.counts = {"matvec": 0, "rmatvec": 0} if counts is None else counts

    def astype(self, dtype):
        return CountingOperator(self.X.to(dtype), self.masks.to(dtype), self.counts)

    def matvec(self, coef):
        self.counts["matvec"] += 1
        return super().matvec(coef)

    def rmatvec(self, residual):
        self.counts["rmatvec"] += 1
        return super().rmatvec(residual)


def problem_of(model: GatedReLURegressor, X: np.ndarray, targets, dtype: str):
    """The fitted model's problem in ``dtype``, with a counting operator."""
    dtype = getattr(torch, dtype)
    X = torch.from_numpy(X).to(dtype)
    gates = torch.from_numpy(model.gates_).to(dtype)
    operator = CountingOperator(X, (X @ gates.T > 0).to(dtype))
    loss = SquaredLoss(torch.from_numpy(targets.reshape(-1, 1)).to(dtype))
    return Problem(
        operator, loss, GroupLasso(X.shape[1]), PROBLEM["alpha"], fit_intercept=False
    )


def product_times(problem: Problem, coef: np.ndarray, repeats: int):
    """Times of one ``A x`` (at ``coef``) and of one ``Aᵀ r`` alone."""
    operator = problem.operator
    coef = torch.from_numpy(coef.reshape(-1, 1).copy()).to(operator.dtype)
    residual = operator.matvec(coef)
    n_products = 200

    @torch.inference_mode()
    def forward():
        for _ in range(n_products):
            operator.matvec(coef)

    @torch.inference_mode()
    def backward():
        for _ in range(n_products):
            operator.rmatvec(residual)

    return (
        timed(forward, repeats)[0] / n_products,
        timed(backward, repeats)[0] / n_products,
    )


def solver_run(problem: Problem, repeats: int, **options):
    """Median time and result of ``fista(problem, **options)`` under
    :func:`torch.inference_mode`, like an estimator's fit; the products of
    the last run are in ``problem.operator.counts``."""

    @torch.inference_mode()  # as the estimators run it
    def solve():
        problem.operator.counts.update(matvec=0, rmatvec=0)
        return fista(problem, tol=PROBLEM["tol"], **options)

    return timed(solve, repeats)


def iteration_report(model, X, targets, dtype: str, repeats: int) -> str:
    """Time per proximal-gradient iteration in ``dtype`` (no Newton finish,
    no change of precision) against its products alone."""
    problem = problem_of(model, X, targets, dtype)
    elapsed, result = solver_run(problem, repeats, newton=False, single_precision=False)
    per_iteration = elapsed / max(result.n_iter, 1)
    counts = problem.operator.counts
    forwards = counts["matvec"] / max(result.n_iter, 1)
    backwards = counts["rmatvec"] / max(result.n_iter, 1)
    forward, backward = product_times(problem, model.coef_, repeats)
    made = forwards * forward + backwards * backward
    return (
        f"{dtype}: {per_iteration * 1e6:.0f} µs per iteration; the two products "
        f"alone (A x, Aᵀ r) {(forward + backward) * 1e6:.0f} µs "
        f"({forward * 1e6:.0f} + {backward * 1e6:.0f}), "
        f"{(forward + backward) / per_iteration:.0%} of an iteration. It makes "
        f"{forwards:.2f} A x and {backwards:.2f} Aᵀ r on average (line-search "
        "retries, certificates, the initial step-size estimate): "
        f"{made * 1e6:.0f} µs of products, {made / per_iteration:.0%}"
    )


def gate_draws_report(X, targets, n_draws: int, repeats: int) -> str:
    """Fit times over ``n_draws`` gate draws (``random_state`` 0, 1, …): the
    solver's path, and so its time, depends on the gates."""
    times = [
        timed(
            lambda seed=seed: GatedReLURegressor(
                **dict(PROBLEM, random_state=seed)
            ).fit(X, targets),
            repeats,
        )[0]
        for seed in range(n_draws)
    ]
    listed = ", ".join(f"{elapsed:.3f}" for elapsed in times)
    return (
        f"\nconvexnn over {n_draws} gate draws (random_state 0–{n_draws - 1}): "
        f"median {statistics.median(times):.4f} s, max {max(times):.4f} s "
        f"({listed})"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--adam-iter", type=int, default=5000)
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64")
    parser.add_argument(
        "--gate-draws",
        type=int,
        default=12,
        help="also time the fit for gates drawn with random_state 0, 1, …",
    )
    args = parser.parse_args(argv)
    PROBLEM["dtype"] = args.dtype

    X, targets = breast_cancer()
    n_samples, n_features = X.shape
    threads = torch.get_num_threads()
    print(
        f"breast cancer: n={n_samples}, d={n_features}, {threads} threads, {args.dtype}"
    )

    convex_time, convex = timed(
        lambda: GatedReLURegressor(**PROBLEM).fit(X, targets), args.repeats
    )
    variants = {}
    if args.dtype == "float64":
        variants["  without its float32 phase"] = {"single_precision": False}
    variants["  without Newton on block weights"] = {"kernel": False}
    variants["  without any Newton"] = {"newton": False}
    problem = problem_of(convex, X, targets, args.dtype)
    variants = {
        name: solver_run(problem, args.repeats, **options)
        for name, options in variants.items()
    }

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        adam_time, adam = timed(
            lambda: NonconvexGatedReLURegressor(
                **{k: v for k, v in PROBLEM.items() if k != "tol"},
                max_iter=args.adam_iter,
                tol=0.0,
            ).fit(X, targets),
            1,
        )
        mlp_time, mlp = timed(
            lambda: MLPClassifier(hidden_layer_sizes=(100,), random_state=0).fit(
                X, targets
            ),
            args.repeats,
        )
    within = np.flatnonzero(adam.objective_curve_ <= 1.01 * convex.objective_)
    adam_per_step = adam_time / adam.n_iter_

    print(f"\n{'method':<34}{'fit (s)':>10}{'ratio':>8}{'objective':>14}  notes")
    print(
        f"{'convexnn GatedReLURegressor':<34}{convex_time:>10.4f}{1:>8.1f}"
        f"{convex.objective_:>14.8f}  gap {convex.dual_gap_:.1e}, "
        f"{convex.n_iter_} iterations, {convex.n_active_neurons_} neurons"
    )
    for name, (elapsed, result) in variants.items():
        print(
            f"{name:<34}{elapsed:>10.4f}{elapsed / convex_time:>8.1f}"
            f"{result.certificate.primal:>14.8f}  "
            f"gap {result.certificate.relative_gap:.1e}, {result.n_iter} iterations"
        )
    if len(within):
        reach = (within[0] + 1) * adam_per_step
        adam_note = f"within 1% after {within[0] + 1} Adam steps"
    else:
        reach = adam_time
        excess = adam.objective_ / convex.objective_ - 1
        adam_note = f"never within 1%: best +{excess:.2%} after {adam.n_iter_} steps"
    print(
        f"{'same network by Adam (to 1%)':<34}{reach:>10.4f}"
        f"{reach / convex_time:>8.1f}{adam.objective_:>14.8f}  {adam_note}"
    )
    print(
        f"{'sklearn MLPClassifier':<34}{mlp_time:>10.4f}{mlp_time / convex_time:>8.1f}"
        f"{'':>14}  train accuracy {mlp.score(X, targets):.4f}"
    )
    print(gate_draws_report(X, targets, args.gate_draws, args.repeats))
    print("\nproximal-gradient iterations alone (no Newton finish, one precision):")
    for dtype in ["float32", "float64"] if args.dtype == "float64" else ["float32"]:
        print(iteration_report(convex, X, targets, dtype, args.repeats))
    print("the rest is the prox, the line search's measures and the momentum.")


if __name__ == "__main__":
    main()
