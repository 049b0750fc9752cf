"""convexnn beside its peers: the same data, the same objective, one run.

For each problem below, every method installed here fits the same training
data and is scored on the same test data:

* ``gated-squared`` — breast cancer, ±1 targets, the gated ReLU problem of
  ``bench_gated_relu.py`` (``common.ISSUE_PROBLEM``: 100 gates, squared loss,
  no intercept, no hidden bias): convexnn's ``GatedReLURegressor``, Adam on
  the same network (same gates, same objective), scnn's gated ReLU model on
  the same gates, scikit-learn's ``MLPClassifier`` and ``LogisticRegression``
  (test accuracy of the sign of a regressor's prediction);
* ``gated-multinomial`` — digits, ten classes, 50 gates: convexnn, Adam on the
  same network, the MLP and logistic regression;
* ``convex-logistic`` — breast cancer, the ReLU network by its convex
  program, 50 gates: convexnn, Adam on a ReLU network as wide as the patterns
  (its neurons are not restricted to the sampled patterns, so it may end
  below the convex optimum over them), the MLP and logistic regression;
* ``lasso`` — a synthetic regression, ``n = 2000``, ``p = 2000``: convexnn's
  ``WeightedLasso``, scikit-learn's ``Lasso``, celer's and skglm's.

A peer that is not installed (``pip install pyscnn celer skglm``) is skipped
and the report says so. Methods that minimise the same objective as convexnn
are fitted to tolerances ``1e-2``, ``1e-4`` and ``1e-6`` of their own stopping
rule (Adam runs once, its best objective so far recorded after every step);
the last fit is the one in the table, and the sequence is its curve of
objective against time. Every objective is computed here the same way for
all methods, and compared with the lower bound that convexnn's certificate
proves. Each method runs in a worker process replaced after ``--timeout``
seconds, and fits use the default threading.

Written to ``--out``: ``compare.md`` (a Markdown table per problem: times,
objectives, certificates and test scores, each against convexnn's),
``compare.json`` (the rows and curves) and ``<problem>.png`` (objective
against time).

    python benchmarks/compare.py --out compare-results
    python benchmarks/compare.py --problems lasso gated-squared --out results
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
import warnings
from dataclasses import dataclass, replace
from pathlib import Path

import matrix
import numpy as np
from common import ISSUE_PROBLEM

from convexnn.patterns import lift, sample_gates

TOLS = (1e-2, 1e-4, matrix.TOL)
"""The stopping tolerances of a method's curve; the last one is its row."""
PEERS = {"scnn": "scnn.optimize", "celer": "celer", "skglm": "skglm"}
"""Optional peers and the module that must be importable for each."""


@dataclass(frozen=True)
class Problem:
    """One comparison: the data and the convexnn estimator of ``case``.

    ``params`` are convexnn parameters beyond the case's, as pairs; ``signs``
    marks ±1 targets scored by the accuracy of the prediction's sign;
    ``adam_steps`` is Adam's budget.
    """

    name: str
    case: matrix.Case
    params: tuple = ()
    signs: bool = False
    adam_steps: int = 2000

    @property
    def methods(self) -> tuple[str, ...]:
        if self.case.formulation == "lasso":
            return ("convexnn", "sklearn", "celer", "skglm")
        peers = ("scnn",) if self.signs else ()
        return ("convexnn", "adam", *peers, "mlp", "linear")


def default_problems() -> list[Problem]:
    issue = {k: v for k, v in ISSUE_PROBLEM.items() if k != "n_patterns"}
    return [
        Problem(
            "gated-squared",
            matrix.Case("gated", "squared", "breast_cancer", issue["alpha"], 100),
            params=tuple(issue.items()),
            signs=True,
        ),
        Problem(
            "gated-multinomial", matrix.Case("gated", "multinomial", "digits", 1e-3, 50)
        ),
        Problem(
            "convex-logistic",
            matrix.Case("convex", "logistic", "breast_cancer", 1e-3, 50),
        ),
        Problem(
            "lasso", matrix.Case("lasso", "squared", "synthetic", 1e-2, 0, 2000, 2000)
        ),
    ]


def load(problem: Problem):
    """``(X_train, X_test, y_train, y_test)``, standardised on the training part."""
    if not problem.signs:
        return matrix.load_data(problem.case)
    split = matrix.load_data(replace(problem.case, loss="logistic"))
    return (*split[:2], *(2.0 * labels - 1.0 for labels in split[2:]))


def convexnn_estimator(problem: Problem):
    if problem.case.formulation == "lasso":
        from convexnn import WeightedLasso

        return WeightedLasso(problem.case.alpha, fit_intercept=False)
    model = matrix.make_estimator(problem.case, "convexnn")
    return model.set_params(**dict(problem.params))


def adam_estimator(problem: Problem):
    """Adam on the network of the convexnn estimator, with its parameters."""
    from convexnn import baselines

    convex = convexnn_estimator(problem)
    name = type(convex).__name__.replace("Gated", "NonconvexGated")
    name = name.replace("Convex", "Nonconvex")
    baseline = getattr(baselines, name)(max_iter=problem.adam_steps)
    shared = baseline.get_params().keys() - {"tol", "max_iter", "gates"}
    params = {k: v for k, v in convex.get_params().items() if k in shared}
    if "n_neurons" in shared:
        params["n_neurons"] = problem.case.n_patterns
    return baseline.set_params(**params)


def peer_estimator(problem: Problem, method: str):
    """The model ``method`` fits: scikit-learn's, celer's, skglm's or scnn's."""
    if method in ("mlp", "linear"):
        case = replace(problem.case, loss="logistic") if problem.signs else problem.case
        return matrix.make_estimator(case, method)
    if method == "scnn":
        return ScnnGatedReLU(problem)
    module = {"sklearn": "sklearn.linear_model", "celer": "celer", "skglm": "skglm"}
    lasso = importlib.import_module(module[method]).Lasso
    return lasso(alpha=problem.case.alpha, fit_intercept=False)


class ScnnGatedReLU:
    """scnn's convex gated ReLU model on the gates convexnn samples, solved by
    its R-FISTA to ``tol`` in float64 without its column scaling (so that its
    objective is the problem's), with ``fit``, ``predict`` and ``objective_``.
    """

    def __init__(self, problem: Problem, tol: float = matrix.TOL):
        self.problem, self.tol = problem, tol

    def set_params(self, tol: float):
        self.tol = tol
        return self

    def fit(self, X, y):
        from scnn.metrics import Metrics
        from scnn.models import ConvexGatedReLU
        from scnn.optimize import optimize_model
        from scnn.regularizers import NeuronGL1
        from scnn.solvers import RFISTA

        params = dict(self.problem.params)
        X_lifted = lift(X, params["hidden_bias"])
        gates = sample_gates(
            X_lifted, self.problem.case.n_patterns, params["random_state"]
        )
        model = ConvexGatedReLU(gates.T)
        self.model_, _ = optimize_model(
            model,
            RFISTA(model, max_iters=10_000, tol=self.tol),
            Metrics(),
            X_lifted,
            y.reshape(-1, 1),
            regularizer=NeuronGL1(params["alpha"]),
            return_convex=True,
            unitize_data=False,
            dtype="float64",
        )
        residual = self.predict(X) - y
        blocks = np.asarray(self.model_.parameters[0])
        penalty = np.linalg.norm(blocks, axis=-1).sum()
        self.objective_ = residual @ residual / (2 * len(y)) + params["alpha"] * penalty
        return self

    def predict(self, X):
        X_lifted = lift(X, dict(self.problem.params)["hidden_bias"])
        return np.asarray(self.model_(X_lifted)).ravel()


def lasso_certificate(problem: Problem, model, X, y) -> tuple[float, float]:
    """Objective and relative duality gap of a Lasso fit, recomputed alike for
    every library (``bench_lasso_path.certify``)."""
    from bench_lasso_path import certify

    return certify(X, y, np.ones(X.shape[1]), problem.case.alpha, model.coef_)


def objective(problem: Problem, model, X, y) -> float | None:
    """The problem's objective at a fitted model, computed alike for all; None
    for the models of another objective (the MLP, the linear model)."""
    if problem.case.formulation == "lasso":
        return lasso_certificate(problem, model, X, y)[0]
    return getattr(model, "objective_", None)


def certificate(problem: Problem, method: str, model, X, y) -> float | None:
    """convexnn's certificate (gap or largest KKT residual); for the Lassos,
    every library's duality gap recomputed here."""
    if problem.case.formulation == "lasso":
        return lasso_certificate(problem, model, X, y)[1]
    return matrix.certificate(model) if method == "convexnn" else None


def lower_bound(problem: Problem, model, X, y) -> float:
    """The lower bound on the optimum that convexnn's certificate proves."""
    if hasattr(model, "lower_bound_"):
        return float(model.lower_bound_)
    if problem.case.formulation == "lasso":
        primal, gap = lasso_certificate(problem, model, X, y)
        return primal * (1 - gap)
    return model.objective_ * (1 - model.dual_gap_)


def fit_method(problem: Problem, method: str, X, y):
    """``(model, seconds, curve)``: ``method`` fitted, its time, and its
    objective against time (empty for another objective)."""
    if method in ("mlp", "linear"):
        model, seconds = timed(peer_estimator(problem, method).fit, X, y)
        return model, seconds, []
    if method == "adam":
        model, seconds = timed(adam_estimator(problem).fit, X, y)
        best = np.minimum.accumulate(model.objective_curve_)
        steps = np.unique(np.geomspace(1, len(best), 200).astype(int))
        return model, seconds, [[seconds * k / len(best), best[k - 1]] for k in steps]
    curve = []
    for tol in TOLS:
        if method == "convexnn":
            estimator = convexnn_estimator(problem)
        else:
            estimator = peer_estimator(problem, method)
        model, seconds = timed(estimator.set_params(tol=tol).fit, X, y)
        curve.append([seconds, objective(problem, model, X, y)])
    return model, seconds, curve


def timed(fit, X, y):
    """``fit(X, y)`` and its wall time."""
    start = time.perf_counter()
    model = fit(X, y)
    return model, time.perf_counter() - start


def run_method(problem: Problem, method: str) -> dict:
    """Fit ``method`` on ``problem`` (in a worker process): its row."""
    from sklearn.exceptions import ConvergenceWarning

    X_train, X_test, y_train, y_test = load(problem)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model, seconds, curve = fit_method(problem, method, X_train, y_train)
    if problem.signs and not hasattr(model, "classes_"):
        test_score = np.mean(np.sign(model.predict(X_test)) == y_test)
    else:
        test_score = model.score(X_test, y_test)
    row = dict(
        status="ok",
        seconds=seconds,
        objective=objective(problem, model, X_train, y_train),
        certificate=certificate(problem, method, model, X_train, y_train),
        test_score=float(test_score),
        curve=[[float(t), float(value)] for t, value in curve],
    )
    if method == "convexnn":
        row["lower_bound"] = lower_bound(problem, model, X_train, y_train)
    return row


def available(method: str) -> bool:
    """Whether ``method`` can run here (scikit-learn's always can)."""
    try:  # a parent package of another name can make find_spec raise
        return method not in PEERS or bool(importlib.util.find_spec(PEERS[method]))
    except ImportError:
        return False


def run(problems: list[Problem], timeout: float) -> tuple[list[dict], list[str]]:
    """Every installed method on every problem; the rows and the skip notes."""
    worker, rows, skipped = matrix.Worker(run_method), [], []
    try:
        for problem in problems:
            for method in problem.methods:
                if not available(method):
                    note = f"{method} skipped on {problem.name}: not installed"
                    skipped.append(f"{note} (needs `{PEERS[method]}`)")
                    print(skipped[-1], flush=True)
                    continue
                row = worker.fit(problem, method, timeout)
                rows.append(dict(problem=problem.name, method=method, **row))
                shown = f"{row['seconds']:.3f} s" if "seconds" in row else row["status"]
                print(f"{problem.name:<18} {method:<9} {shown}", flush=True)
    finally:
        worker.close()
    return rows, skipped


def report(problems: list[Problem], rows: list[dict], skipped: list[str]) -> str:
    """The Markdown report: one table per problem, every ratio to convexnn."""
    lines = ["# convexnn beside its peers", ""]
    lines += [f"* {note}" for note in skipped] + [""] * bool(skipped)
    for problem in problems:
        fits = [row for row in rows if row["problem"] == problem.name]
        reference = next((r for r in fits if r["method"] == "convexnn"), None)
        if reference is None or reference["status"] != "ok":
            lines += [f"## {problem.name}", "", "convexnn did not finish.", ""]
            continue
        regression = problem.case.loss == "squared" and not problem.signs
        lines += [
            f"## {problem.name}",
            "",
            f"{problem.case.name}; test score: {'R²' if regression else 'accuracy'}; "
            f"certified lower bound on the optimum: {reference['lower_bound']:.10g}.",
            "",
            "| method | time (s) | × convexnn | objective | ÷ convexnn "
            "| above the bound | certificate | test score | ÷ convexnn |",
            "|---|--:|--:|--:|--:|--:|--:|--:|--:|",
        ]
        lines += [_table_row(row, reference) for row in fits]
        lines.append("")
    return "\n".join(lines)


def _table_row(row: dict, reference: dict) -> str:
    if row["status"] != "ok":
        return f"| {row['method']} | {row['status']} |" + " |" * 7
    value = row["objective"]
    if value is None:
        same = ["—"] * 3
    else:
        same = [
            f"{value:.10g}",
            f"{value / reference['objective']:.6f}",
            f"{value / reference['lower_bound'] - 1:.1e}",
        ]
    certificate = row["certificate"]
    cells = [
        row["method"],
        f"{row['seconds']:.3f}",
        f"{row['seconds'] / reference['seconds']:.2f}",
        *same,
        "—" if certificate is None else f"{certificate:.1e}",
        f"{row['test_score']:.4f}",
        f"{row['test_score'] / reference['test_score']:.4f}",
    ]
    return "| " + " | ".join(cells) + " |"


def plot(problem: Problem, rows: list[dict], path: Path) -> Path:
    """Objective against time of every method with the problem's objective."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fits = [
        row
        for row in rows
        if row["problem"] == problem.name and row["status"] == "ok" and row["curve"]
    ]
    bounds = [row["lower_bound"] for row in fits if "lower_bound" in row]
    values = [value for row in fits for _, value in row["curve"]]
    floor = min(bounds + values)
    figure, axis = plt.subplots(figsize=(6.5, 4.5), constrained_layout=True)
    for row in fits:
        times, objectives = np.array(row["curve"]).T
        excess = np.maximum(objectives - floor, 1e-16 * abs(floor))
        style = "-" if row["method"] == "adam" else "o-"
        axis.plot(times, excess, style, label=row["method"])
    axis.set(
        xscale="log",
        yscale="log",
        xlabel="time (s)",
        ylabel=f"objective − {floor:.8g}",
        title=f"{problem.name}: objective against time",
    )
    axis.legend()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def main(argv=None):
    names = [problem.name for problem in default_problems()]
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path("compare-results"), help="output folder"
    )
    parser.add_argument(
        "--timeout", type=float, default=300.0, help="seconds per method (300)"
    )
    parser.add_argument(
        "--problems", nargs="+", choices=names, default=names, help="a subset"
    )
    args = parser.parse_args(argv)
    problems = [p for p in default_problems() if p.name in args.problems]
    rows, skipped = run(problems, args.timeout)
    args.out.mkdir(parents=True, exist_ok=True)
    results = dict(rows=rows, skipped=skipped)
    (args.out / "compare.json").write_text(json.dumps(results, indent=1))
    (args.out / "compare.md").write_text(report(problems, rows, skipped))
    for problem in problems:
        plot(problem, rows, args.out / f"{problem.name}.png")
    print(f"\nreport: {args.out / 'compare.md'}")


if __name__ == "__main__":
    main()
