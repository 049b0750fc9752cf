"""The fit shared by the convex ReLU regressor and classifier: the cone-constrained
problem, its solver and relaxation bound, pruning, and the conversion to a
ReLU network."""

from __future__ import annotations

import warnings
from numbers import Integral

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .._backend import Backend, to_numpy
from .._sklearn_compat import Interval, StrOptions
from ..global_certificate.mixin import GlobalCertificateMixin
from ..networks import ReLUNetwork
from ..patterns import activation_patterns, lift
from ..problems import LOSSES
from ..problems.cone import convex_relu_problem
from ..problems.constrained import ConstrainedProblem
from ..pruning import prune_cone_coefficients
from ..solvers import ConstrainedResult, solve_constrained
from ._base import NetworkOutputsMixin, validate_predict_input
from ._fitting import (
    TIME_PARAMETERS,
    fit_config,
    user_stacklevel,
    warn_not_converged,
    without_autograd,
)
from ._gated_fit import GATED_PARAMETERS
from ._warm_start import (
    WARM_START_PARAMETERS,
    gates_to_fit,
    previous_gated_solution,
    previous_solution,
)

SOLVERS = ("auto", "interior_point", "admm", "augmented_lagrangian")
"""The values of the convex ReLU estimators' ``solver``."""


def convex_fit_problem(
    estimator,
    X_lifted: np.ndarray,
    Y: np.ndarray,
    loss: str,
    gates,
    backend,
    alpha,
    sample_weight=None,
) -> ConstrainedProblem:
    """The cone-constrained program of ``estimator``'s ``fit_intercept`` over
    the patterns of ``gates``, on the lifted data and encoded targets, its
    loss weighted by ``sample_weight`` when given."""
    masks = backend.tensor(activation_patterns(X_lifted, gates))
    return convex_relu_problem(
        backend.tensor(X_lifted),
        masks,
        LOSSES[loss](backend.tensor(Y), sample_weight),
        alpha,
        estimator.fit_intercept,
        gates=backend.tensor(gates),
    )


class _ConvexReLUModel(NetworkOutputsMixin, BaseEstimator):
    """A fitted convex ReLU model: its solution's attributes and network,
    shared by the estimators at one alpha and the cross-validated ones."""

    def _set_solution(
        self,
        problem: ConstrainedProblem,
        solver: str,
        result: ConstrainedResult,
        gates: np.ndarray,
        keep_multipliers: bool,
    ):
        """Store ``result``, the solve of ``problem`` over ``gates`` by
        ``solver`` (its multipliers only when ``keep_multipliers``: they are
        ``n_samples``-sized), and warn when it did not converge."""
        coef, intercept = problem.problem.split(result.x)
        n_patterns, n_features = gates.shape
        n_outputs = problem.problem.n_outputs
        multipliers = problem.constraint.per_block(result.multipliers)
        self.gates_ = np.asarray(gates, dtype=np.float64)
        self.coef_ = to_numpy(coef).reshape(2, n_patterns, n_features, n_outputs)
        self.intercept_ = (
            np.zeros(n_outputs) if intercept is None else to_numpy(intercept)
        )
        if keep_multipliers:
            self.multipliers_ = to_numpy(multipliers).reshape(
                2, n_patterns, -1, n_outputs
            )
        else:  # nor left over from an earlier fit
            vars(self).pop("multipliers_", None)
        self.n_patterns_ = n_patterns
        self.solver_ = solver
        self.n_iter_ = result.n_iter
        self.objective_ = result.kkt.objective
        # an infeasible point of a stopped fit may lie below the optimum and
        # its bound: the smaller of the two is a bound all the same
        self.lower_bound_ = min(result.kkt.dual, result.kkt.objective)
        self.constraint_violation_ = result.kkt.violation
        self.stationarity_ = result.kkt.stationarity
        self.complementarity_ = result.kkt.complementarity
        self.converged_ = result.converged
        self.n_neurons_removed_ = 0
        self._alpha = problem.problem.alpha  # what the multipliers are for
        if not result.converged:
            warn_not_converged(self, f"KKT residuals: {result.kkt}")
        self._count_neurons()

    def _count_neurons(self):
        self.n_active_neurons_ = int((np.linalg.norm(self.coef_, axis=2) > 0).sum())

    def to_torch(self) -> ReLUNetwork:
        """The fitted model as an ordinary two-layer ReLU network (float64, CPU).

        Each nonzero ``v_i`` (output ``k``) is the neuron
        ``(v_i/√‖v_i‖, +√‖v_i‖ e_k)``, each nonzero ``w_i`` the neuron
        ``(w_i/√‖w_i‖, −√‖w_i‖ e_k)``. Where the cone constraints hold (on the
        training data, up to ``constraint_violation_``) the network predicts
        what the convex model predicts, and ``alpha · weight_decay()`` is the
        penalty in ``objective_``.

        Returns
        -------
        ReLUNetwork
            The equivalent network.
        """
        check_is_fitted(self)
        return ReLUNetwork.from_cone_coefficients(
            self.coef_, self.intercept_, self.hidden_bias
        )


class _BaseConvexReLU(GlobalCertificateMixin, _ConvexReLUModel):
    _parameter_constraints = {
        **GATED_PARAMETERS,
        **TIME_PARAMETERS,
        "solver": [StrOptions(set(SOLVERS))],
        "max_neurons": [Interval(Integral, 1, None, closed="left"), None],
        **WARM_START_PARAMETERS,
        "keep_multipliers": ["boolean"],
    }

    def __init__(
        self,
        alpha=1e-3,
        *,
        n_patterns=100,
        gates=None,
        loss="squared",
        solver="auto",
        fit_intercept=True,
        hidden_bias=True,
        max_iter=10_000,
        tol=1e-6,
        max_time=None,
        max_neurons=None,
        warm_start=False,
        keep_multipliers=False,
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
        self.solver = solver
        self.fit_intercept = fit_intercept
        self.hidden_bias = hidden_bias
        self.max_iter = max_iter
        self.tol = tol
        self.max_time = max_time
        self.max_neurons = max_neurons
        self.warm_start = warm_start
        self.keep_multipliers = keep_multipliers
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
            {"coef_": (2, None, n_features, n_outputs), "intercept_": (n_outputs,)},
        )
        gates = gates_to_fit(self, X_lifted, previous, self.random_state)
        problem = convex_fit_problem(
            self, X_lifted, Y, loss, gates, backend, self.alpha, sample_weight
        )
        solver, result = solve_constrained(
            problem,
            *self._warm_start_point(problem, previous, backend),
            method=self.solver,
            tol=self.tol,
            max_iter=self.max_iter,
            verbose=self.verbose,
            config=fit_config(),
        )
        # the next fit starts from the multipliers too
        keep = self.keep_multipliers or self.warm_start
        self._set_solution(problem, solver, result, gates, keep)
        if self.max_neurons is not None:
            self._prune(X_lifted)
            if self.n_active_neurons_ > self.max_neurons:
                warnings.warn(
                    f"{type(self).__name__} kept {self.n_active_neurons_} neurons, "
                    f"more than max_neurons={self.max_neurons}: fewer linearly "
                    "independent neurons cannot reach this objective; increase "
                    "alpha for a smaller network.",
                    UserWarning,
                    stacklevel=user_stacklevel(),
                )

    def _warm_start_point(self, problem, previous: dict | None, backend: Backend):
        """The previous solution in the solver's layout and, when they were
        fitted on as many samples, its multipliers (else ``None``), scaled by
        the ratio of the alphas: optimal multipliers grow with ``alpha``, and
        the scaled ones start ADMM and the augmented Lagrangian closer to the
        new ones (measured: several times fewer iterations after a jump of
        ``alpha`` by 17, where the unscaled ones cost more than a cold
        start)."""
        if previous is None:
            return None, None
        objective, cone = problem.problem, problem.constraint
        x0 = objective.pack(
            backend.tensor(previous["coef_"]), backend.tensor(previous["intercept_"])
        )
        shape = (2, cone.n_blocks // 2, cone.n_data, objective.n_outputs)
        fitted = previous_solution(self, {"multipliers_": shape})
        if fitted is None:
            return x0, None
        multipliers = backend.tensor(fitted["multipliers_"]).reshape(-1, *shape[2:])
        return x0, cone.from_blocks(multipliers) * (self.alpha / self._alpha)

    def _prune(self, X_lifted: np.ndarray):
        before = self.coef_
        self.coef_, removed = prune_cone_coefficients(X_lifted, self.coef_)
        decrease = (
            np.linalg.norm(before, axis=2).sum()
            - np.linalg.norm(self.coef_, axis=2).sum()
        )
        self.objective_ -= self.alpha * decrease
        self.n_neurons_removed_ += removed
        self._count_neurons()

    def prune(self, X):
        """Remove neurons whose training outputs are linearly dependent.

        A Carathéodory reduction (:mod:`convexnn.pruning`): the network's
        predictions on ``X`` are unchanged and its weight decay never grows,
        so on the training data the objective never rises, and at most
        ``n_samples`` neurons remain per output. ``n_neurons_removed_`` counts
        the neurons removed so far; ``objective_`` is updated, for ``X`` the
        training data. The solver's records (``multipliers_`` when kept, the
        KKT residuals, ``converged_``, ``lower_bound_``) still describe the
        fit before pruning: the pruned network has the same training outputs
        and no larger penalty, so they bound its objective too.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            The training data (predictions are preserved on these points).

        Returns
        -------
        self : object
            The pruned estimator.
        """
        X = validate_predict_input(self, X)
        self._prune(lift(X, self.hidden_bias))
        return self
