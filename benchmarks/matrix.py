"""The benchmark matrix: convexnn across the problem space, beside scikit-learn.

Each problem is a formulation (gated or convex ReLU), a loss (squared,
logistic, multinomial with 10 classes), a data set, a regularisation ``alpha``
and a number of sampled patterns. For each one, in the same run, it fits

* the convexnn estimator to ``tol=1e-6`` (relative duality gap for gated ReLU,
  relative KKT residuals for convex ReLU);
* scikit-learn's ``MLPClassifier`` / ``MLPRegressor`` with as many hidden units
  as patterns, otherwise default settings;
* ``LogisticRegression`` / ``Ridge`` with default settings;

and prints a table (fit time, certificate, train and test score, time as a
multiple of the MLP's), saves the rows as JSON and draws a performance
profile as in Mishkin, Sahiner & Pilanci (2022, Fig. 4): the fraction of
problems certified within ``t`` seconds, and within ``k`` times the MLP's time.

Synthetic data come from ``make_classification`` / ``make_regression``
(features and regression targets standardised on the training part); the data
sets scikit-learn ships are breast cancer, digits, wine and diabetes. Each fit
runs in a worker process that is replaced when a fit exceeds ``--timeout``, so
a slow fit is recorded as a timeout instead of stopping the run. Fits use the
default threading, as a user's would.

The full product (formulation × loss × n ∈ {500, 5 000, 50 000} × d ∈ {10, 50}
× alpha ∈ {1e-2, 1e-3, 1e-4} × patterns ∈ {50, 200}) takes hours on a small
machine. The default run is a documented subset in which every formulation,
loss, n and alpha appears: the whole grid at d = 10 with 50 patterns, the wider
problems (d = 50, 200 patterns) at n = 5 000, and the shipped data sets at
alpha = 1e-3. ``--quick`` runs a few small problems in a few minutes;
``--full`` runs the full product.

    python benchmarks/matrix.py --quick
    python benchmarks/matrix.py --out matrix-results
"""

from __future__ import annotations

import argparse
import itertools
import json
import multiprocessing
import queue
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

FORMULATIONS = ("gated", "convex")
LOSSES = ("squared", "logistic", "multinomial")
SIZES = (500, 5_000, 50_000)
WIDTHS = (10, 50)
ALPHAS = (1e-2, 1e-3, 1e-4)
PATTERNS = (50, 200)
SHIPPED = {"breast_cancer": "logistic", "digits": "multinomial", "wine": "multinomial"}
SHIPPED_REGRESSION = {"diabetes": "squared"}
TOL = 1e-6
N_TEST = 2_000
"""Test samples drawn beside the training samples of a synthetic problem."""


@dataclass(frozen=True)
class Case:
    """One problem of the matrix; ``n`` and ``d`` are ``None`` for shipped data."""

    formulation: str
    loss: str
    data: str
    alpha: float
    n_patterns: int
    n: int | None = None
    d: int | None = None

    @property
    def name(self) -> str:
        size = f"n={self.n},d={self.d}" if self.data == "synthetic" else self.data
        return (
            f"{self.formulation} {self.loss} {size} "
            f"alpha={self.alpha:g} p={self.n_patterns}"
        )


def default_cases() -> list[Case]:
    """The documented subset: every formulation, loss, n and alpha appears."""
    grid = [
        Case(formulation, loss, "synthetic", alpha, 50, n, 10)
        for formulation, loss, n, alpha in itertools.product(
            FORMULATIONS, LOSSES, SIZES, ALPHAS
        )
    ]
    wide = [
        Case(formulation, loss, "synthetic", alpha, 200, 5_000, 50)
        for formulation, loss, alpha in itertools.product(FORMULATIONS, LOSSES, ALPHAS)
    ]
    return grid + wide + shipped_cases()


def shipped_cases() -> list[Case]:
    """The data sets scikit-learn ships, at alpha = 1e-3 with 50 patterns."""
    losses = {**SHIPPED, **SHIPPED_REGRESSION}
    return [
        Case(formulation, loss, data, 1e-3, 50)
        for formulation in FORMULATIONS
        for data, loss in losses.items()
    ]


def full_cases() -> list[Case]:
    """The full product, and the shipped data sets."""
    product = itertools.product(FORMULATIONS, LOSSES, SIZES, WIDTHS, ALPHAS, PATTERNS)
    return [
        Case(formulation, loss, "synthetic", alpha, patterns, n, d)
        for formulation, loss, n, d, alpha, patterns in product
    ] + shipped_cases()


def quick_cases() -> list[Case]:
    """A few small problems, every loss and formulation: a few minutes."""
    return [
        Case(formulation, loss, "synthetic", 1e-2, 50, 500, 10)
        for formulation, loss in itertools.product(FORMULATIONS, LOSSES)
    ] + [Case("gated", "multinomial", "digits", 1e-2, 50)]


def load_data(case: Case):
    """Standardised ``(X_train, X_test, y_train, y_test)`` of ``case``."""
    from sklearn import datasets
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    if case.data == "synthetic":
        n_total = case.n + min(case.n, N_TEST)
        if case.loss == "squared":
            X, y = datasets.make_regression(
                n_total,
                case.d,
                n_informative=min(case.d, 10),
                noise=1.0,
                random_state=0,
            )
        else:
            X, y = datasets.make_classification(
                n_total,
                case.d,
                n_informative=min(case.d, 8),
                n_redundant=0,
                n_classes=10 if case.loss == "multinomial" else 2,
                random_state=0,
            )
        split = train_test_split(X, y, train_size=case.n, random_state=0)
    else:
        X, y = getattr(datasets, f"load_{case.data}")(return_X_y=True)
        split = train_test_split(X, y, test_size=0.25, random_state=0)
    X_train, X_test, y_train, y_test = split
    scaler = StandardScaler().fit(X_train)
    X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
    if case.loss == "squared":
        mean, scale = y_train.mean(), y_train.std()
        y_train, y_test = (y_train - mean) / scale, (y_test - mean) / scale
    return X_train, X_test, y_train, y_test


def make_estimator(case: Case, method: str):
    """The estimator that ``method`` (convexnn, mlp, linear) fits to ``case``."""
    from sklearn.linear_model import LogisticRegression, Ridge
    from sklearn.neural_network import MLPClassifier, MLPRegressor

    from convexnn import (
        ConvexReLUClassifier,
        ConvexReLURegressor,
        GatedReLUClassifier,
        GatedReLURegressor,
    )

    regression = case.loss == "squared"
    if method == "mlp":
        model = MLPRegressor if regression else MLPClassifier
        return model(hidden_layer_sizes=(case.n_patterns,), random_state=0)
    if method == "linear":
        return Ridge() if regression else LogisticRegression()
    models = {
        ("gated", True): GatedReLURegressor,
        ("gated", False): GatedReLUClassifier,
        ("convex", True): ConvexReLURegressor,
        ("convex", False): ConvexReLUClassifier,
    }
    params = dict(alpha=case.alpha, n_patterns=case.n_patterns, tol=TOL, random_state=0)
    if not regression:
        params["loss"] = case.loss
    return models[case.formulation, regression](**params)


def certificate(model) -> float | None:
    """The fit's relative optimality measure: duality gap or largest KKT residual."""
    if hasattr(model, "dual_gap_"):
        return float(model.dual_gap_)
    if hasattr(model, "stationarity_"):
        residuals = (
            model.stationarity_,
            model.constraint_violation_,
            model.complementarity_,
        )
        return float(max(residuals))
    return None


def fit_one(case: Case, method: str) -> dict:
    """Fit ``method`` on ``case``: time, scores, certificate, warnings."""
    from sklearn.exceptions import ConvergenceWarning

    X_train, X_test, y_train, y_test = load_data(case)
    model = make_estimator(case, method)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        start = time.perf_counter()
        model.fit(X_train, y_train)
        seconds = time.perf_counter() - start
    value = certificate(model)
    certified = method == "convexnn" and bool(model.converged_) and value <= TOL
    return dict(
        seconds=seconds,
        certificate=value,
        certified=certified,
        warned=any(issubclass(w.category, ConvergenceWarning) for w in caught),
        train_score=float(model.score(X_train, y_train)),
        test_score=float(model.score(X_test, y_test)),
        status="ok",
    )


def _serve(jobs, results, fit=fit_one):
    """Worker loop: ``fit`` each ``(case, method)`` it is sent, send back the row."""
    for case, method in iter(jobs.get, None):
        try:
            row = fit(case, method)
        except Exception as error:  # a crash is a result of the benchmark
            row = dict(status=f"error: {type(error).__name__}: {error}")
        results.put(row)


class Worker:
    """A process that fits one problem at a time, replaced after a timeout.

    ``fit(case, method)`` returns the row of one fit (:func:`fit_one` by
    default); it must be a module-level function, so the process can import it.
    """

    def __init__(self, fit=fit_one):
        self.context = multiprocessing.get_context("spawn")
        self.fit_function = fit
        self._start()

    def _start(self):
        self.jobs, self.results = self.context.Queue(), self.context.Queue()
        self.process = self.context.Process(
            target=_serve,
            args=(self.jobs, self.results, self.fit_function),
            daemon=True,
        )
        self.process.start()

    def fit(self, case: Case, method: str, timeout: float) -> dict:
        self.jobs.put((case, method))
        try:
            return self.results.get(timeout=timeout)
        except queue.Empty:  # the fit is still running: give up on it
            self.process.kill()
            self.process.join()
            self._start()
            return dict(status=f"timeout after {timeout:g} s")

    def close(self):
        self.jobs.put(None)
        self.process.join()


def run(cases: list[Case], timeout: float, methods=("convexnn", "mlp", "linear")):
    """Rows of results, one per case and method, printed as they come."""
    worker, rows = Worker(), []
    print(header())
    try:
        for case in cases:
            fits = {method: worker.fit(case, method, timeout) for method in methods}
            mlp_seconds = fits.get("mlp", {}).get("seconds")
            for method, fit in fits.items():
                row = dict(asdict(case), case=case.name, method=method, **fit)
                if mlp_seconds and "seconds" in fit:
                    row["mlp_ratio"] = fit["seconds"] / mlp_seconds
                rows.append(row)
                print(format_row(row), flush=True)
    finally:
        worker.close()
    return rows


def header() -> str:
    return (
        f"{'problem':<44} {'method':<9} {'time (s)':>9} {'× MLP':>7} "
        f"{'certificate':>11} {'train':>7} {'test':>7}  status"
    )


def format_row(row: dict) -> str:
    if row["status"] != "ok":
        return f"{row['case']:<44} {row['method']:<9} {row['status']}"
    value = row["certificate"]
    shown = "" if value is None else f"{value:.1e}"
    status = "certified" if row["certified"] else ""
    if row["warned"]:
        status += " ConvergenceWarning"
    return (
        f"{row['case']:<44} {row['method']:<9} {row['seconds']:9.3f} "
        f"{row.get('mlp_ratio', float('nan')):7.2f} {shown:>11} "
        f"{row['train_score']:7.3f} {row['test_score']:7.3f}  {status.strip()}"
    )


def convexnn_fits(rows: list[dict]):
    """``(formulation, its convexnn rows)`` for each formulation that has rows."""
    for formulation in FORMULATIONS:
        fits = [
            row
            for row in rows
            if row["method"] == "convexnn" and row["formulation"] == formulation
        ]
        if fits:
            yield formulation, fits


def profile(rows: list[dict], path: Path) -> Path:
    """Save the performance profile of the convexnn fits as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [row for row in rows if row["status"] == "ok"]
    right_time = 2 * max((row["seconds"] for row in ok), default=1.0)
    right_ratio = 2 * max((row.get("mlp_ratio", 1.0) for row in ok), default=1.0)
    figure, (by_time, by_ratio) = plt.subplots(1, 2, figsize=(11, 4))
    for formulation, fits in convexnn_fits(rows):
        certified = [row for row in fits if row["status"] == "ok" and row["certified"]]
        label = f"{formulation} ReLU ({len(certified)}/{len(fits)} certified)"
        times = [row["seconds"] for row in certified]
        _step(by_time, times, len(fits), right_time, label)
        ratios = [row["mlp_ratio"] for row in certified if "mlp_ratio" in row]
        _step(by_ratio, ratios, len(fits), right_ratio, label)
    mlp = [row for row in rows if row["method"] == "mlp"]
    finished = [row["seconds"] for row in mlp if row["status"] == "ok"]
    _step(by_time, finished, len(mlp), right_time, "MLP (finished)", linestyle="--")
    by_time.set(xlabel="time t (s)", ylabel="fraction of problems within t")
    by_ratio.set(xlabel="k (time / MLP time)", ylabel="fraction within k × MLP")
    by_ratio.axvline(1.0, color="grey", linewidth=0.8)
    for axis in (by_time, by_ratio):
        axis.set_xscale("log")
        axis.set_ylim(0, 1.02)
        axis.legend(fontsize=8, loc="upper left")
    figure.suptitle(f"convexnn performance profile, tol = {TOL:g}")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def _step(axis, values, total, right, label, **style):
    """The fraction of ``total`` problems whose value is at most x, up to ``right``."""
    if not values or not total:
        return
    values = np.sort(values)
    fractions = np.arange(1, len(values) + 1) / total
    x = np.r_[values[0], values, right]
    y = np.r_[0.0, fractions, fractions[-1]]
    axis.step(x, y, where="post", label=label, **style)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    subset = parser.add_mutually_exclusive_group()
    subset.add_argument("--quick", action="store_true", help="a few small problems")
    subset.add_argument("--full", action="store_true", help="the full product")
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds per fit (default 300)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("."), help="folder for the JSON and PNG"
    )
    args = parser.parse_args(argv)
    cases = quick_cases() if args.quick else full_cases() if args.full else None
    rows = run(cases or default_cases(), args.timeout)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "matrix.json").write_text(json.dumps(rows, indent=1))
    print(f"\nrows: {args.out / 'matrix.json'}")
    print(f"profile: {profile(rows, args.out / 'matrix_profile.png')}")
    summarise(rows)


def summarise(rows: list[dict]):
    """Certified counts and the median time as a multiple of the MLP's."""
    for formulation, fits in convexnn_fits(rows):
        certified = sum(row["status"] == "ok" and row["certified"] for row in fits)
        ratios = [row["mlp_ratio"] for row in fits if "mlp_ratio" in row]
        median = float(np.median(ratios)) if ratios else float("nan")
        print(
            f"{formulation} ReLU: {certified}/{len(fits)} certified, "
            f"median time {median:.2f} × MLP"
        )


if __name__ == "__main__":
    main()
