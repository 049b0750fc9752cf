r"""Deep networks on one input feature, trained exactly as a Lasso.

For scalar inputs :math:`x_1..x_N` a parallel network of ``m`` deep narrow
units (every hidden layer of width one), depth ``L``, free biases and the
weight penalty :math:`\frac\alpha L\sum|w|^L` is trained exactly by the Lasso

.. math::
    \min_{z, \xi}\; \frac1{2N}\|Az + \xi\mathbf 1 - y\|^2 + \alpha\|z\|_1

over a finite dictionary ``A`` of features evaluated at the data (Zeger,
Wang, Mishkin, Ergen, Candès & Pilanci, 2024, "A Library of Mirrors").
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real
from typing import ClassVar

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._sklearn_compat import Interval, StrOptions
from ..dictionaries import ACTIVATIONS, STEP_ACTIVATIONS
from ..networks import DeepNarrowNetwork
from ..solvers.optimal_set import SELECTIONS
from ._base import RegressorOutputMixin
from ._fitting import SOLVER_PARAMETERS, TIME_PARAMETERS
from ._reflection_fit import (
    DEFAULT_GRID_SIZES,
    _as_column,
    _ReflectionLassoFit,
    grid_correlation,
)
from ._warm_start import WARM_START_PARAMETERS


@dataclass(frozen=True)
class ContinuousCertificate:
    """The dual constraint checked over a grid of the network's continuous features.

    Attributes
    ----------
    max_correlation : float
        :math:`\\max_\\varphi |\\varphi(x)^\\top\\theta|` over the grid features
        (largest over the outputs), with :math:`\\theta = (y - \\hat y)/N`
        (:math:`\\theta_i = s_i(y_i - \\hat y_i)/\\sum_j s_j` with sample
        weights).
    alpha : float
        The regularisation strength.
    violation : float
        ``max(max_correlation / alpha - 1, 0)``: zero certifies the grid.
    n_features : int
        Number of grid features checked.
    """

    max_correlation: float
    alpha: float
    violation: float
    n_features: int


class ReflectionLassoRegressor(RegressorOutputMixin, _ReflectionLassoFit):
    r"""Deep narrow networks on one input feature, fitted to their global optimum.

    The model is a parallel network of units of depth ``L = depth``, each a
    chain of width one,

    .. math::
        \hat y(x) = \xi + \sum_j w_{jL}\,h^{(j)}_L(x), \qquad
        h_1 = x,\quad h_{l+1} = \sigma(w_{jl}h_l + b_{jl}),

    trained on the squared loss with the weight penalty

    .. math::
        \frac1{2N}\sum_i(\hat y(x_i) - y_i)^2
        + \frac{\alpha}{L}\sum_j\sum_{l=1}^{L}|w_{jl}|^L

    (ordinary weight decay :math:`\frac\alpha2\sum w^2` for ``depth=2``; biases
    and :math:`\xi` are free). Rescaling the weights of a unit along its chain
    leaves the unit unchanged, and the penalty is smallest when every
    :math:`|w_{jl}|` equals :math:`|z_j|^{1/L}`, where it is
    :math:`\alpha|z_j|` for the unit :math:`z_j\varphi_j` with unit weights.
    Training is therefore the Lasso over every feature :math:`\varphi` a unit
    can compute, and a finite dictionary of them reaches its optimum:

    ==========  =====  ==============================================  ============
    activation  depth  dictionary (kinks at the sorted inputs x_j)     columns
    ==========  =====  ==============================================  ============
    relu        2      ramps ``(x-x_j)+``, ``(x_j-x)+``                2N − 3
    relu        ≥ 3    capped ramps ``clip(x-x_j, 0, x_k-x_j)``        N(N−1)/2
    leaky_relu  2      ``σ(x-x_j)``, ``σ(x_j-x)``                      2N − 3
    leaky_relu  ≥ 3    chains with their L−1 kinks at data points      ≤ (2N)^(L−1)
    abs         2      ``|x-x_j|``                                     N − 1
    abs         3      also reflections ``||x-x_i|-|x_j-x_i||``,       ≈ 1.5 N²
                       mirrors ``||x-m_ij|-|x_j-x_i|/2||``
    abs         4      also reflections of reflections                 O(N³)
    threshold   any    steps ``1[x >= x_j]``                           N − 1
    sign        any    ``sign(x-x_j)``                                 N − 1
    ==========  =====  ==============================================  ============

    Exactness. Every pair is exact for the architecture above (its optimum is
    the network's), by the following arguments, each checked by the test
    suite against CVXPY and scikit-learn Lassos over a much larger dictionary
    of breakpoints, and by :meth:`certify`. With a free intercept the dual
    vector :math:`\theta` sums to zero, so the correlation
    :math:`g(t) = \theta^\top(x - t)_+` is piecewise linear in ``t`` with
    kinks at the data and constant outside their range.

    * Depth 2 (the paper's two-layer theorem): a unit is
      :math:`\sigma(\pm(x - t))`; its correlation is linear in ``t`` between
      data points, so its maximum is at one.
    * ReLU, depth ≥ 3: a width-one ReLU chain is monotone and every layer
      clips it, so a unit is a clipped ramp with at most two kinks ``a < b``
      whatever the depth; its correlation :math:`g(a) - g(b)` is largest at
      data points. Deeper ReLU chains add nothing, so depth 4 uses the depth-3
      dictionary (the paper's depth-4 dictionary also has kinks at reflections
      :math:`2x_j - x_i`; for this architecture they never lower the optimum).
    * Leaky ReLU, depth ≥ 3: a chain is strictly monotone with kinks
      :math:`a_1..a_{L-1}` and slopes fixed by their order, so its correlation
      :math:`\sum_l \beta_l g(a_l)` is separable and largest at data points.
    * Absolute value, depth 3 and 4: a unit is :math:`||x - a| - c|` (or
      :math:`|||x-a|-c|-d|`); its correlation is piecewise linear in
      :math:`(a, c, d)` with creases where a kink crosses a data point, so it
      peaks at a vertex of that arrangement — data points, their reflections
      about each other and the mirrors between them (the paper's reflection
      features; depth 4 adds reflections of reflections).
    * Threshold and sign: a width-one chain of steps is a single step (or its
      complement), so every depth has the step dictionary. Their hidden
      weights are scale-free, so instead of :math:`\frac\alpha L\sum|w|^L` the
      penalty is :math:`\frac\alpha2(a_j^2 + w_{jL}^2)` on an amplitude
      :math:`a_j` of the last hidden layer and the output weight (the paper's
      wider sign networks, whose features switch several times, are not
      implemented).

    Deduplication removes columns that are constant on the data or a multiple
    (factor at most 1 in magnitude) of another column up to a constant; they
    cannot lower the objective. Products with ``A`` use cumulative sums over
    the sorted data (:class:`~convexnn.dictionaries.BasisOperator`), so ``A``
    is never formed: :math:`O(N)` per product for depth 2,
    :math:`O(N^2)` (constant per column) for ReLU depth ≥ 3.

    The Lasso is solved by the shared core
    (:func:`~convexnn.solvers.solve`): working sets of one column
    per peak of the dual correlations, each solved exactly in Gram form (the
    operator gives :math:`A_W^\top PA_W` in closed form) by an active-set
    method; it stops on the relative duality gap of the whole dictionary.
    Ties between columns
    (reflections) make the coefficients of an optimum non-unique;
    ``solution`` picks one (:mod:`convexnn.solvers.optimal_set`).

    Parameters
    ----------
    depth : int, default=2
        Number of layers ``L`` of each unit (``≥ 2``; at most 4 for "abs").
    activation : {"relu", "leaky_relu", "abs", "threshold", "sign"}, default="relu"
        ``threshold(0) = 1``, ``sign(0) = 1``.
    alpha : float, default=1e-3
        Regularisation strength (see the objective above).
    negative_slope : float, default=0.01
        Slope of the leaky ReLU for negative inputs (ignored otherwise).
    fit_intercept : bool, default=True
        Fit the free output bias :math:`\xi`. The equivalence with the network
        (and :meth:`certify`) needs it: without it the dictionary Lasso is
        fitted as such, while the network's free biases could still emulate a
        constant.
    solution : {"min_norm", "sparse"}, default="min_norm"
        Which optimal solution to return when several are optimal:
        ``"min_norm"`` is the one of least Euclidean norm (unique);
        ``"sparse"`` is a vertex of the optimal set, whose columns are linearly
        independent (a minimal set of units, not necessarily the smallest).
    max_iter : int, default=10000
        Budget of solver iterations (active-set steps), all working sets
        together.
    tol : float, default=1e-6
        Target relative duality gap.
    max_time : float, default=None
        Wall-clock budget of ``fit`` in seconds. When it runs out the solver
        stops after its current working-set round and keeps its best
        certified point (``converged_=False``, ``dual_gap_`` its honest gap,
        and a :class:`~sklearn.exceptions.ConvergenceWarning`). None: no
        limit.
    warm_start : bool, default=False
        Start the solver from the previous solution (for example along a grid
        of ``alpha``); the optimum is unchanged. A fit whose dictionary has
        another size or family (``depth``, ``activation``,
        ``negative_slope``), or another number of outputs, starts from zero.
    device : {"auto", "cpu", "cuda"} or torch.device, default="auto"
        Where the solver runs.
    dtype : {"float32", "float64"}, default=None
        Solver precision; None is float64 on CPU and float32 on CUDA.
    n_threads : int, default=None
        Intra-op CPU threads (:func:`torch.set_num_threads`) during ``fit``.
        None uses one thread when the solver's operator products are small
        (more threads only slow them down) and torch's current setting
        otherwise; the global setting is restored after the fit.
    verbose : int, default=0
        When positive, print a progress line at each checkpoint of the solver
        (iterations, objective, relative duality gap, elapsed time); above 1,
        also those of its inner solves.

    Attributes
    ----------
    coef_ : ndarray of shape (n_active, n_outputs)
        Nonzero Lasso coefficients ``z`` (rows: the columns used).
    intercept_ : ndarray of shape (n_outputs,)
        The output bias :math:`\xi`.
    dictionary_ : Features
        The columns used: their chains (for prediction and :meth:`to_torch`),
        ``kind`` ("ramp", "capped ramp", "chain", "abs", "reflection", "mirror",
        "step") and basis expansion.
    support_ : ndarray of int, shape (n_active,)
        Their indices in the full dictionary of the training inputs
        (:func:`~convexnn.dictionaries.build_dictionary`).
    breakpoints_ : ndarray of shape (n_active, max_breakpoints)
        Kinks (jumps for threshold and sign) of each column, NaN-padded.
    is_reflection_ : ndarray of bool, same shape as ``breakpoints_``
        True for a breakpoint that is not a training input: a reflection of
        one input about another, or the mirror between two.
    n_neurons_ : int
        Units of the equivalent network (nonzero entries of ``coef_``).
    n_columns_ : int
        Size of the full dictionary.
    solution_ : str
        The selection applied ("min_norm", "sparse"), or "solver" when the
        selection would have raised the objective (numerical trouble) and the
        solver's point was kept.
    objective_ : float
        The Lasso objective at the returned solution (equal to the network's
        regularised objective).
    dual_gap_ : float
        Relative duality gap certifying it over the whole dictionary.
    n_iter_ : int
        Solver iterations.
    converged_ : bool
        Whether ``dual_gap_ <= tol`` was reached within ``max_iter`` and
        ``max_time``.
    n_features_in_ : int
        Always 1.
    feature_names_in_ : ndarray of str
        Only when ``X`` has string column names.

    See Also
    --------
    WeightedLasso : A Lasso over the columns of ``X`` itself.
    convexnn.networks.DeepNarrowNetwork : The network :meth:`to_torch` returns.

    Notes
    -----
    Inputs are used as given (no rescaling): the dictionary lives on the
    data's own scale, which is what the network sees.

    Examples
    --------
    >>> import numpy as np
    >>> from convexnn import ReflectionLassoRegressor
    >>> x = np.linspace(-1, 1, 30)[:, None]
    >>> y = np.abs(x).ravel()
    >>> model = ReflectionLassoRegressor(depth=3, activation="abs", alpha=1e-3)
    >>> model.fit(x, y).dual_gap_ <= 1e-6
    True
    >>> model.predict(x[:3]).shape
    (3,)
    """

    _parameter_constraints: ClassVar[dict] = {
        **SOLVER_PARAMETERS,
        **TIME_PARAMETERS,
        **WARM_START_PARAMETERS,
        "depth": [Interval(Integral, 2, None, closed="left")],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "negative_slope": [Interval(Real, 0, 1, closed="neither")],
        "solution": [StrOptions(set(SELECTIONS))],
    }
    # the dictionary's kinks sit at the data points: rescaling x changes the
    # model, so a convergence warning never advises standardising
    _advise_scaling: ClassVar[bool] = False

    def __init__(
        self,
        depth=2,
        activation="relu",
        alpha=1e-3,
        *,
        negative_slope=0.01,
        fit_intercept=True,
        solution="min_norm",
        max_iter=10_000,
        tol=1e-6,
        max_time=None,
        warm_start=False,
        device="auto",
        dtype=None,
        n_threads=None,
        verbose=0,
    ):
        self.depth = depth
        self.activation = activation
        self.alpha = alpha
        self.negative_slope = negative_slope
        self.fit_intercept = fit_intercept
        self.solution = solution
        self.max_iter = max_iter
        self.tol = tol
        self.max_time = max_time
        self.warm_start = warm_start
        self.device = device
        self.dtype = dtype
        self.n_threads = n_threads
        self.verbose = verbose

    def fit(self, X, y, sample_weight=None):
        r"""Fit the network.

        Parameters
        ----------
        X : array-like of shape (n_samples, 1) or (n_samples,)
            The single input feature.
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Nonnegative weights :math:`s_i`: the loss becomes
            :math:`\frac1{2\sum_i s_i}\sum_i s_i(\hat y(x_i) - y_i)^2` (an
            integer weight counts as copies); samples of weight zero are
            removed, with their breakpoints.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return super().fit(_as_column(X), y, sample_weight)

    def predict(self, X) -> np.ndarray:
        """Predict with the fitted network.

        Parameters
        ----------
        X : array-like of shape (n_samples, 1) or (n_samples,)
            The single input feature.

        Returns
        -------
        y : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            Predicted targets.
        """
        return super().predict(_as_column(X))

    def _outputs(self, X: np.ndarray) -> np.ndarray:
        return self.dictionary_.evaluate(X[:, 0]) @ self.coef_ + self.intercept_

    def certify(
        self, grid_size: int | None = None, depth: int | None = None
    ) -> ContinuousCertificate:
        r"""Check the dual constraint over a grid of the network's continuous features.

        The Lasso over the finite dictionary equals the network's problem when
        the dual point :math:`\theta = (y - \hat y)/N` of the fit (with
        sample weights :math:`\theta_i = s_i(y_i - \hat y_i)/\sum_j s_j`) satisfies
        :math:`|\varphi(x)^\top\theta| \le \alpha` for *every* feature
        :math:`\varphi` a unit can compute, not only for the dictionary's
        columns. This evaluates :math:`\varphi(x)^\top\theta` for the units
        whose breakpoints (and, for "abs", levels) lie on ``grid_size``
        equally spaced points of the data range widened by 10% on each side
        — all sign patterns, ``grid_size^(L−1)`` parameter combinations each
        — and reports the largest value. Together with ``dual_gap_`` it
        certifies the continuous optimum up to the grid's resolution.

        Parameters
        ----------
        grid_size : int, optional
            Points per grid axis (default 2000, 120 and 24 for one, two and
            three axes: depths 2, 3 and 4; threshold and sign have one axis).
        depth : int, optional
            Depth of the units checked; default the fitted ``depth``. A larger
            value asks whether this fit is also optimal among deeper networks.

        Returns
        -------
        ContinuousCertificate
            For the activation, slope and ``alpha`` of the fit, whatever the
            parameters have been set to since.
        """
        check_is_fitted(self)
        activation = self.dictionary_.activation
        depth = self.dictionary_.depth if depth is None else depth
        if not (isinstance(depth, Integral) and depth >= 2):
            raise ValueError(f"depth must be an integer >= 2; got {depth!r}.")
        if grid_size is None:
            axes = 1 if activation in STEP_ACTIVATIONS else depth - 1
            grid_size = DEFAULT_GRID_SIZES.get(axes, 12)
        largest, count = grid_correlation(
            activation,
            depth,
            self.dictionary_.negative_slope,
            grid_size,
            self._x_train,
            self._dual,
        )
        alpha = self._alpha
        return ContinuousCertificate(
            largest, alpha, max(largest / alpha - 1.0, 0.0), count
        )

    def to_torch(self) -> DeepNarrowNetwork:
        """The fitted model as a :class:`~convexnn.networks.DeepNarrowNetwork`.

        One unit per nonzero entry of ``coef_``; the network predicts what
        the estimator predicts, and its regularised objective
        ``loss + alpha * network.weight_decay()`` on the training data equals
        ``objective_`` (float64, CPU).

        Returns
        -------
        DeepNarrowNetwork
            The equivalent network.
        """
        check_is_fitted(self)
        return DeepNarrowNetwork.from_lasso(
            self.dictionary_, self.coef_, self.intercept_
        )

    def __sklearn_tags__(self):
        # One input feature: X may be 1-D (the natural input) or one column.
        tags = super().__sklearn_tags__()
        tags.input_tags.one_d_array = True
        return tags


__all__ = ["ContinuousCertificate", "ReflectionLassoRegressor"]
