"""Honest float32: float32 problems iterate in float32 and are certified in
float64 (:mod:`convexnn.solvers.precision`).

Each float32 problem is compared with the *same* problem in float64: its
float32 data (and activation patterns) converted exactly, so that the two
have one optimum and any difference is the solver's.
"""

import warnings

import numpy as np
import pytest
import torch
from reference import estimator_for, make_problem
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.preprocessing import StandardScaler

from convexnn import GatedReLUClassifier, GatedReLURegressor
from convexnn.problems import (
    L1,
    Certificate,
    GatedOperator,
    GroupLasso,
    LogisticLoss,
    MatrixOperator,
    MultinomialLoss,
    Problem,
    SquaredLoss,
)
from convexnn.problems._problem import CertificateWarning
from convexnn.solvers import SolverConfig, fista, solve
from convexnn.solvers.precision import in_precision, phases, switch_gap

F32, F64 = torch.float32, torch.float64


def _standardised(load):
    X, y = load(return_X_y=True)
    return StandardScaler().fit_transform(X), y


def _gated(X, Y, loss, alpha, dtype, n_gates=30, fit_intercept=True):
    """A gated problem whose data and masks are the float32 ones in ``dtype``."""
    rng = np.random.default_rng(0)
    X32 = torch.tensor(X, dtype=F32)
    gates = torch.tensor(rng.standard_normal((n_gates, X.shape[1])), dtype=F32)
    masks = (X32 @ gates.T > 0).to(F32)
    operator = GatedOperator(X32.to(dtype), masks.to(dtype))
    penalty = GroupLasso(X.shape[1])
    targets = torch.tensor(Y, dtype=F32).to(dtype)
    return Problem(operator, loss(targets), penalty, alpha, fit_intercept)


def _objective64(problem, x):
    """The float64 objective of ``x`` on ``problem``'s float64 copy."""
    full = problem.certifying_problem()
    x = x.to(F64)
    return full.objective(x, full.matvec(x))


def _breast_cancer_squared(dtype):
    X, y = _standardised(load_breast_cancer)
    return _gated(X, (2.0 * y - 1)[:, None], SquaredLoss, 1e-2, dtype)


def _wine_multinomial(dtype):
    X, y = _standardised(load_wine)
    return _gated(X, np.eye(3)[y], MultinomialLoss, 1e-2, dtype)


def _l1_logistic(dtype):
    X, y = _standardised(load_breast_cancer)
    X = torch.tensor(X, dtype=F32).to(dtype)
    Y = torch.tensor(y[:, None], dtype=dtype)
    return Problem(MatrixOperator(X), LogisticLoss(Y), L1(), 1e-2)


PROBLEMS = [_breast_cancer_squared, _wine_multinomial, _l1_logistic]


@pytest.mark.parametrize("make", PROBLEMS)
def test_float32_certificates_are_float64_objectives_and_lower_bounds(make):
    problem = make(F32)
    result = solve(problem, tol=1e-6)
    certificate = result.certificate
    assert result.converged and result.x.dtype == F32
    assert certificate.precision == F64 and not certificate.crossed
    # the reported objective is the float64 objective of the point returned
    assert certificate.primal == pytest.approx(
        _objective64(problem, result.x), rel=1e-12
    )
    # and the bound is below the optimum of the same problem solved in float64
    optimum = solve(make(F64), tol=1e-12).certificate
    assert certificate.dual <= optimum.primal + 1e-15 * abs(optimum.primal)
    assert certificate.primal >= optimum.dual - 1e-15 * abs(optimum.dual)
    # so the gap is honest: at least the point's true suboptimality
    assert certificate.gap >= certificate.primal - optimum.primal - 1e-15


def test_l1_logistic_float32_gap_is_not_floored():
    # the float32 certificate used to put its bound above its objective and
    # floor the difference to float64's epsilon
    problem = _l1_logistic(F32)
    certificate = solve(problem, tol=1e-9).certificate
    optimum = solve(_l1_logistic(F64), tol=1e-12).certificate
    assert certificate.dual <= certificate.primal
    assert certificate.dual <= optimum.primal + 1e-15 * optimum.primal
    assert certificate.gap == pytest.approx(
        max(certificate.primal - certificate.dual, certificate.rounding)
    )


def test_a_crossing_is_flagged_not_floored():
    x = torch.zeros(3, 1, dtype=F64)
    with pytest.warns(CertificateWarning, match="beyond rounding"):
        crossed = Certificate(x, x, primal=0.3, dual=0.3 * (1 + 1e-9))
    assert crossed.crossed
    assert crossed.gap == pytest.approx(-0.3e-9, rel=1e-6)
    assert crossed.relative_gap < 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # a bound above the objective by rounding only is floored as before
        rounded = Certificate(x, x, primal=0.3, dual=0.3 * (1 + 1e-15))
        assert not rounded.crossed and rounded.gap == rounded.rounding
        assert rounded.relative_gap == pytest.approx(np.finfo(np.float64).eps)
        # the floor is the rounding of the precision the certificate was
        # computed in
        coarse = Certificate(x, x, primal=0.3, dual=0.3, precision=F32)
        assert coarse.relative_gap == pytest.approx(np.finfo(np.float32).eps)
    # combining two certificates keeps the coarser precision
    assert rounded.improve(coarse).precision == F32


def test_the_float64_copy_is_built_once_and_shared():
    problem = _breast_cancer_squared(F32)
    full = problem.certifying_problem()
    assert full.operator.dtype == F64 and full is problem.certifying_problem()
    assert problem.with_alpha(0.5).certifying_problem().operator is full.operator
    blocks = torch.tensor([0, 3])
    restricted = problem.restrict(blocks).certifying_problem()
    assert restricted.operator.dtype == F64 and restricted.n_blocks == 2
    double = _breast_cancer_squared(F64)
    assert double.certifying_problem() is double


def test_phases_and_switch_gaps():
    config = SolverConfig()
    double, single = _breast_cancer_squared(F64), _breast_cancer_squared(F32)
    full, first = phases(double)
    assert full is double and first.operator.dtype == F32
    assert phases(double, single_precision=False) == (double, double)
    full, first = phases(single)
    assert full is single.certifying_problem() and first is single
    assert switch_gap(double, config) == config.single_precision_switch_gap
    assert switch_gap(single, config) == config.float32_switch_gap


def test_in_precision_rounds_and_recomputes_the_objective():
    problem = _wine_multinomial(F32)
    full = problem.certifying_problem()
    result = fista(full, tol=1e-6)
    certificate = in_precision(problem, result.certificate)
    assert certificate.x.dtype == F32 and certificate.Z.dtype == F32
    assert certificate.primal == pytest.approx(
        _objective64(problem, certificate.x), rel=1e-12
    )
    assert certificate.dual == result.certificate.dual
    assert in_precision(full, result.certificate) is result.certificate


def test_float32_gated_breast_cancer_converges_like_float64():
    # kernel Newton used to run on float32 products, which left its line
    # search no decrease to find: 10 000 iterations and a ConvergenceWarning
    X, y = _standardised(load_breast_cancer)
    fits = {}
    for dtype in ("float64", "float32"):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            fits[dtype] = GatedReLURegressor(
                random_state=0, dtype=dtype, device="cpu"
            ).fit(X, 2.0 * y - 1)
    single, double = fits["float32"], fits["float64"]
    assert single.converged_ and single.dual_gap_ <= 1e-6
    assert single.n_iter_ <= 2 * double.n_iter_
    assert single.objective_ == pytest.approx(double.objective_, rel=1e-6)


def test_float32_classifier_objective_is_that_of_its_coefficients():
    X, y = _standardised(load_wine)
    model = GatedReLUClassifier(
        n_patterns=30, random_state=0, dtype="float32", device="cpu"
    ).fit(X, y)
    # the same problem in float64: the float32 data and patterns, converted
    X32 = torch.tensor(X, dtype=F32)
    gates = torch.tensor(model.gates_, dtype=F32)
    X_lifted = torch.cat([X32, torch.ones(len(X), 1)], 1)  # hidden_bias
    masks = (X_lifted @ gates.T > 0).to(F64)
    operator = GatedOperator(X_lifted.to(F64), masks)
    coef = torch.tensor(model.coef_).reshape(operator.n_coefs, -1)
    Z = operator.matvec(coef) + torch.tensor(model.intercept_)
    Y = torch.tensor(np.eye(3)[y])
    penalty = model.alpha * float(
        torch.linalg.matrix_norm(coef.view(len(gates), -1, 3), ord="nuc").sum()
    )
    objective = MultinomialLoss(Y).value(Z) + penalty
    assert model.converged_ and model.dual_gap_ <= 1e-6
    assert model.objective_ == pytest.approx(objective, rel=1e-12)


def test_float32_multioutput_reaches_the_default_tol():
    # squared loss with several outputs: no Newton method applies, so only
    # the switch of the iterates to float64 gets below float32's stall
    X, y = make_problem("multioutput", seed=0)
    params = {"alpha": 1e-2, "n_patterns": 20, "random_state": 0, "device": "cpu"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = estimator_for("multioutput", dtype="float32", **params).fit(X, y)
    assert model.converged_ and model.dual_gap_ <= 1e-6
