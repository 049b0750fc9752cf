r"""Independent references for the tests: test problems, NumPy and CVXPY models.

The models here are written from DESIGN.md §3.1 in NumPy and CVXPY (the mean
losses are :mod:`convexnn.testing`'s NumPy formulas), never through the torch
solvers, so that agreement with the estimators means something:

.. math::
    \min_{U, b}\; f\Bigl(\sum_i D_i \tilde X U_i + \mathbf 1 b^\top, Y\Bigr)
    + \alpha \sum_i \|U_i\|,
    \qquad D_i = \operatorname{diag}(\mathbf 1[\tilde X g_i > 0]),

with ``f`` the mean squared loss :math:`\frac1{2n}\|Z - Y\|_F^2`, the mean
binary cross-entropy or the mean multinomial cross-entropy, and ``‖·‖`` the
Euclidean norm for one output, the nuclear or the Frobenius norm for several.
"""

from __future__ import annotations

import cvxpy as cp
import numpy as np
import pytest
import sklearn
from sklearn.linear_model import LogisticRegression

from convexnn import GatedReLUClassifier, GatedReLURegressor
from convexnn.baselines import NonconvexGatedReLUClassifier, NonconvexGatedReLURegressor
from convexnn.patterns import lift
from convexnn.testing import KINDS, make_problem  # noqa: F401 (re-exported)
from convexnn.testing._formulas import mean_loss


def reference_solvers(tol: float | None) -> list[tuple[str, dict]]:
    """Conic solvers to try on a reference problem, best first, at tolerance ``tol``.

    Clarabel (interior point) first; ECOS (interior point) where it is
    installed; SCS (first order, so given many iterations) last. ``tol=None``
    keeps each solver's default tolerances.
    """
    if tol is None:
        return [("CLARABEL", {}), ("ECOS", {}), ("SCS", {"max_iters": 200_000})]
    return [
        ("CLARABEL", {"tol_gap_abs": tol, "tol_gap_rel": tol}),
        ("ECOS", {"abstol": tol, "reltol": tol, "feastol": tol}),
        ("SCS", {"eps_abs": tol, "eps_rel": tol, "max_iters": 200_000}),
    ]


def solve_reference(
    problem: cp.Problem, tol: float | None = None, solvers=None
) -> float:
    """The optimal value of a CVXPY reference problem, whichever solver gets it.

    A test's verdict must not hang on one build of one external solver (a
    Clarabel release has failed on problems its predecessor solved), so each
    installed solver of ``solvers`` (default :func:`reference_solvers`) is tried
    in turn until one reports ``optimal``; the test is skipped, naming every
    solver and what it said, only when none does.
    """
    installed = set(cp.installed_solvers())
    attempts = []
    for name, options in solvers or reference_solvers(tol):
        if name not in installed:
            continue
        try:
            problem.solve(solver=name, **options)
        except cp.error.SolverError as error:
            attempts.append(f"{name}: {error}")
            continue
        if problem.status == cp.OPTIMAL:
            return float(problem.value)
        attempts.append(f"{name}: status {problem.status}")
    pytest.skip(
        "no installed conic solver solved the CVXPY reference: "
        + ("; ".join(attempts) or f"none installed of {sorted(installed)}")
    )


def l1_logistic_regression(**params) -> LogisticRegression:
    """L1-penalised logistic regression in every supported scikit-learn release:
    1.8 replaced ``penalty="l1"`` by ``l1_ratio=1`` (which 1.6 ignores)."""
    version = tuple(int(part) for part in sklearn.__version__.split(".")[:2])
    if version >= (1, 8):
        return LogisticRegression(l1_ratio=1.0, **params)
    return LogisticRegression(penalty="l1", **params)


def estimator_for(kind: str, *, nonconvex: bool = False, **params):
    """The gated estimator (or its nonconvex baseline) that fits a ``kind``."""
    regression = kind in ("regression", "multioutput")
    if nonconvex:
        Estimator = (
            NonconvexGatedReLURegressor if regression else NonconvexGatedReLUClassifier
        )
    else:
        Estimator = GatedReLURegressor if regression else GatedReLUClassifier
    return Estimator(**params)


def encoded_targets(estimator, y) -> tuple[np.ndarray, str]:
    """The targets ``Y`` (n, c) and loss name a fitted ``estimator`` solved for.

    Regressors fit ``y`` itself. Classifiers code their labels as DESIGN.md §7
    says: one ``{0, 1}`` column for the logistic loss, one ``±1`` column for a
    binary squared loss, one-hot columns otherwise.
    """
    y = np.asarray(y)
    classes = getattr(estimator, "classes_", None)
    if classes is None:
        return y.reshape(len(y), -1).astype(np.float64), "squared"
    loss = estimator.loss_
    one_hot = (y[:, None] == classes[None, :]).astype(np.float64)
    if len(classes) == 2 and loss == "logistic":
        return one_hot[:, 1:], loss
    if len(classes) == 2 and loss == "squared":
        return 2 * one_hot[:, 1:] - 1, loss
    return one_hot, loss


def gated_masks(X: np.ndarray, gates: np.ndarray, hidden_bias: bool) -> np.ndarray:
    """Activation patterns ``1[X̃ gᵢ > 0]`` as a float array (n, P)."""
    return (
        lift(np.asarray(X, dtype=np.float64), hidden_bias) @ np.asarray(gates).T > 0
    ).astype(np.float64)


def gated_outputs(X, gates, coef, intercept, hidden_bias) -> np.ndarray:
    """``Σᵢ Dᵢ X̃ Uᵢ + 1 bᵀ`` for blocks ``coef`` of shape (P, d̃, c)."""
    X_lifted = lift(np.asarray(X, dtype=np.float64), hidden_bias)
    masks = gated_masks(X, gates, hidden_bias)
    per_pattern = np.einsum("nd,pdc->npc", X_lifted, coef)
    return np.einsum("np,npc->nc", masks, per_pattern) + intercept


def block_norms(coef: np.ndarray, group_norm: str = "nuclear") -> np.ndarray:
    """``‖Uᵢ‖`` of each block (P, d̃, c); both norms are Euclidean for c = 1."""
    order = "nuc" if group_norm == "nuclear" else "fro"
    return np.linalg.norm(coef, ord=order, axis=(1, 2))


def gated_objective(estimator, X, y) -> float:
    """The §3.1 objective at a fitted convex estimator's solution, in NumPy."""
    Y, loss = encoded_targets(estimator, y)
    Z = gated_outputs(
        X,
        estimator.gates_,
        estimator.coef_,
        estimator.intercept_,
        estimator.hidden_bias,
    )
    penalty = block_norms(estimator.coef_, estimator.group_norm).sum()
    return mean_loss(Z, Y, loss) + estimator.alpha * penalty


def cvxpy_optimum(
    X,
    Y,
    loss: str,
    alpha: float,
    gates,
    *,
    fit_intercept: bool,
    hidden_bias: bool,
    group_norm: str = "nuclear",
) -> float:
    """Optimal value of the §3.1 problem for fixed ``gates``, by CVXPY + Clarabel.

    ``Y`` holds the encoded targets (n, c): real values, one ``{0, 1}``
    column for the logistic loss, one-hot rows for the multinomial loss.
    """
    n_samples, n_outputs = Y.shape
    X_lifted = lift(np.asarray(X, dtype=np.float64), hidden_bias)
    masks = gated_masks(X, gates, hidden_bias)
    blocks = [cp.Variable((X_lifted.shape[1], n_outputs)) for _ in range(len(gates))]
    Z = sum((X_lifted * masks[:, [i]]) @ U for i, U in enumerate(blocks))
    if fit_intercept:
        b = cp.Variable((1, n_outputs))
        Z = Z + np.ones((n_samples, 1)) @ b
    if loss == "squared":
        data = cp.sum_squares(Z - Y) / (2 * n_samples)
    elif loss == "logistic":
        data = cp.sum(cp.logistic(Z) - cp.multiply(Y, Z)) / n_samples
    elif loss == "multinomial":
        data = (
            cp.sum(cp.log_sum_exp(Z, axis=1)) - cp.sum(cp.multiply(Y, Z))
        ) / n_samples
    else:
        raise ValueError(f"unknown loss {loss!r}")
    if n_outputs > 1 and group_norm == "nuclear":
        penalty = sum(cp.normNuc(U) for U in blocks)
    else:
        penalty = sum(cp.norm(U, "fro") for U in blocks)
    return solve_reference(cp.Problem(cp.Minimize(data + alpha * penalty)))
