"""The fit shared by the gated ReLU regressor and classifier: the group-lasso
problem over sampled gates, warm starts, its solve, and the conversion to a
gated ReLU network."""

from __future__ import annotations

from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .._backend import CPU64, Backend, to_numpy
from .._sklearn_compat import Interval, StrOptions
from ..global_certificate.mixin import GlobalCertificateMixin
from ..networks import GatedReLUNetwork, count_neurons
from ..patterns import lift
from ..problems import LOSSES, GatedOperator, Problem, gated_problem
from ..solvers import SolverResult, solve
from ._fitting import (
    NETWORK_PARAMETERS,
    TIME_PARAMETERS,
    fit_config,
    warn_not_converged,
    without_autograd,
)
from ._warm_start import WARM_START_PARAMETERS, gates_to_fit, previous_gated_solution

GATED_PARAMETERS = {
    **NETWORK_PARAMETERS,
    "n_patterns": [Interval(Integral, 1, None, closed="left")],
    "gates": ["array-like", None],
}
"""Parameters shared by the convex gated estimators and their nonconvex baselines."""


def gated_fit_problem(
    estimator,
    X_lifted: np.ndarray,
    Y: np.ndarray,
    loss: str,
    gates,
    backend,
    alpha,
    sample_weight=None,
) -> Problem:
    """The group-lasso problem of ``estimator``'s settings (``group_norm``,
    ``fit_intercept``) over ``gates``, on the lifted data and encoded targets,
    its loss weighted by ``sample_weight`` when given."""
    return gated_problem(
        backend.tensor(X_lifted),
        backend.tensor(gates),
        LOSSES[loss](backend.tensor(Y), sample_weight),
        alpha,
        group_norm=estimator.group_norm,
        fit_intercept=estimator.fit_intercept,
    )


class _GatedReLUModel(BaseEstimator):
    """A fitted gated ReLU model: its solution's attributes, outputs and
    network, shared by the estimators at one alpha and the cross-validated
    ones."""

    def _set_solution(self, problem: Problem, result: SolverResult, gates):
        """Store ``result``, the solve of ``problem`` over ``gates``, and warn
        when it did not converge."""
        coef, intercept = problem.split(result.x)
        n_outputs = problem.n_outputs
        coef = to_numpy(coef).reshape(len(gates), gates.shape[1], n_outputs)
        self.gates_ = np.asarray(gates, dtype=np.float64)
        self.coef_ = coef
        self.intercept_ = (
            np.zeros(n_outputs) if intercept is None else to_numpy(intercept)
        )
        self.n_patterns_ = len(gates)
        self.n_iter_ = result.n_iter
        self.objective_ = result.certificate.primal
        self.dual_gap_ = result.certificate.relative_gap
        self.converged_ = result.converged
        self.n_active_neurons_ = count_neurons(coef)
        if not result.converged:
            warn_not_converged(self, f"a relative duality gap of {self.dual_gap_:.3g}")

    def _outputs(self, X: np.ndarray) -> np.ndarray:
        X_lifted = CPU64.tensor(lift(X, self.hidden_bias))
        operator = GatedOperator.from_gates(X_lifted, CPU64.tensor(self.gates_))
        coef = CPU64.tensor(self.coef_).reshape(operator.n_coefs, -1)
        return to_numpy(operator.matvec(coef)) + self.intercept_

    def to_torch(self) -> GatedReLUNetwork:
        """The fitted model as a gated ReLU :class:`torch.nn.Module` (float64, CPU).

        Each block ``U_i`` splits into neurons by its SVD (``w = √σ u``,
        ``a = √σ v``): the network predicts what the estimator predicts, and
        ``alpha · network.weight_decay()`` equals the penalty of ``objective_``
        (for several outputs this holds with ``group_norm="nuclear"``; with
        ``"frobenius"`` the network's weight decay is the nuclear norm, which is
        larger).

        Returns
        -------
        GatedReLUNetwork
            The equivalent network.
        """
        check_is_fitted(self)
        return GatedReLUNetwork.from_gated_coefficients(
            self.gates_, self.coef_, self.intercept_, self.hidden_bias
        )


class _BaseGatedReLU(GlobalCertificateMixin, _GatedReLUModel):
    _parameter_constraints = {
        **GATED_PARAMETERS,
        **TIME_PARAMETERS,
        "group_norm": [StrOptions({"nuclear", "frobenius"})],
        **WARM_START_PARAMETERS,
    }

    def __init__(
        self,
        alpha=1e-3,
        *,
        n_patterns=100,
        gates=None,
        loss="squared",
        group_norm="nuclear",
        fit_intercept=True,
        hidden_bias=True,
        max_iter=10_000,
        tol=1e-6,
        max_time=None,
        warm_start=False,
        device="auto",
        dtype=None,
        n_threads=None,
        random_state=None,
        verbose=0,
    ):
        self.alpha = alpha
        self.n_patterns = n_patterns
        self.gates = gates
        self.loss = loss
        self.group_norm = group_norm
        self.fit_intercept = fit_intercept
        self.hidden_bias = hidden_bias
        self.max_iter = max_iter
        self.tol = tol
        self.max_time = max_time
        self.warm_start = warm_start
        self.device = device
        self.dtype = dtype
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    @without_autograd
    def _fit(self, X: np.ndarray, Y: np.ndarray, loss: str, sample_weight=None):
        backend = Backend.from_params(self.device, self.dtype)
        X_lifted = lift(X, self.hidden_bias)
        n_features, n_outputs = X_lifted.shape[1], Y.shape[1]
        previous = previous_gated_solution(
            self,
            n_features,
            {"coef_": (None, n_features, n_outputs), "intercept_": (n_outputs,)},
        )
        gates = gates_to_fit(self, X_lifted, previous, self.random_state)
        problem = gated_fit_problem(
            self, X_lifted, Y, loss, gates, backend, self.alpha, sample_weight
        )
        x0 = None
        if previous is not None:
            x0 = problem.pack(
                backend.tensor(previous["coef_"]),
                backend.tensor(previous["intercept_"]),
            )
        result = solve(
            problem,
            x0,
            tol=self.tol,
            max_iter=self.max_iter,
            verbose=self.verbose,
            config=fit_config(),
        )
        self._set_solution(problem, result, gates)
