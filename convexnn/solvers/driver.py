r"""The driver: which phases solve a problem.

:func:`solve` minimises an unconstrained :class:`~convexnn.problems.Problem`:
by working-set rounds (:mod:`~convexnn.solvers.working_set`) where the problem
allows them or its subproblems can be solved exactly in Gram form, and by
accelerated proximal gradient (:func:`~convexnn.solvers.fista`, with its own
Newton and single-precision phases) on the whole problem otherwise.
:func:`solve_constrained` solves a
:class:`~convexnn.problems.constrained.ConstrainedProblem` by the barrier method
(:mod:`~convexnn.solvers.interior_point`, for one output or several coupled
by the multinomial loss) where it applies and fits the memory budget, by
ADMM where that does, by the augmented Lagrangian otherwise, or by the
method asked for, after checking that it can run; a problem that is a sum
of independent problems, one per output column (the squared loss with several
outputs), is solved column by column, each with the methods that suit one
output. Every choice is made
once, before solving, from the phases' declared needs, sizes and memory
(:mod:`~convexnn.solvers.phases`).
"""

from __future__ import annotations

import torch

from ..problems import Problem
from ..problems.constrained import ConstrainedProblem
from .admm import Admm, admm
from .augmented_lagrangian import AugmentedLagrangian, augmented_lagrangian
from .config import SolverConfig
from .fista import fista
from .interior_point import InteriorPoint, interior_point
from .phases import require, runnable
from .polish import polished_kkt
from .progress import timed
from .results import ConstrainedResult, SolverResult
from .working_set import (
    GramForm,
    NewtonForm,
    Subproblems,
    WorkingSets,
    solve_in_rounds,
)

#: The methods that solve a constrained problem, by name, in the order
#: ``method="auto"`` tries them: each its phase and its function.
CONSTRAINED_METHODS = {
    "interior_point": (InteriorPoint(), interior_point),
    "admm": (Admm(), admm),
    "augmented_lagrangian": (AugmentedLagrangian(), augmented_lagrangian),
}


@timed
def solve(
    problem: Problem,
    x0: torch.Tensor | None = None,
    *,
    tol: float = 1e-6,
    max_iter: int = 10_000,
    lipschitz: float | None = None,
    working_sets: bool = True,
    hint: torch.Tensor | None = None,
    exact: bool | None = None,
    subproblems: Subproblems | None = None,
    verbose: int = 0,
    config: SolverConfig = SolverConfig(),
) -> SolverResult:
    """Minimise ``problem`` to relative duality gap ``tol``.

    Parameters
    ----------
    problem : Problem
        The composite problem.
    x0 : tensor, optional
        Warm start in the layout of ``problem.shape`` (default zeros).
    tol : float
        Target relative duality gap of the whole problem.
    max_iter : int
        Maximum number of proximal-gradient iterations, all rounds together.
    lipschitz : float, optional
        Initial step-size estimate, as in :func:`fista`.
    working_sets : bool
        Use working sets and screening where the problem allows
        (:class:`WorkingSets`, :class:`Screening`); ``False`` runs FISTA on
        the whole problem.
    hint : tensor of shape (n_blocks,), optional
        Values of the blocks' dual constraints at ``x0`` for a nearby problem
        (a previous regularisation strength along a path), as in
        ``Certificate.violations``: the first working set is ranked by them,
        which saves the first round's certificate of the whole problem. The
        stopping test is unchanged.
    exact : bool, optional
        Solve the working-set subproblems of an
        :class:`~convexnn.problems.L1` problem exactly instead of by FISTA:
        in Gram form (:class:`GramForm`) for the squared loss, by proximal
        Newton steps (:class:`NewtonForm`) for the others
        (:func:`exact_subproblems`). The default (``None``) does so in Gram
        form when the operator's blocks lie on grid lines
        (:meth:`~convexnn.problems.LinearOperator.lines`: nearly parallel
        neighbours, where FISTA needs many iterations), and runs FISTA
        otherwise: from scratch its cheaper iterations win.
    subproblems : GramLasso or NewtonLasso, optional
        The solver of the working-set subproblems, built for this problem at
        any ``alpha`` (:func:`exact_subproblems`); it overrides ``exact``. A
        path passes the same one to every solve
        (:func:`~convexnn.solvers.solve_path`), which keeps its Gram matrices.
    verbose : int
        Print a progress line (:func:`~convexnn.solvers.progress.report`)
        at each working-set round, or at each certificate of FISTA when it
        solves the whole problem, when positive; above 1, also at each
        certificate of the rounds' FISTA solves.
    config : SolverConfig
        Tuning of the working sets (at least ``config.working_set_min_size``
        blocks, Gram form up to ``config.working_set_max_gram_size``, each
        solved to ``config.working_set_inner_fraction`` of the current gap)
        and of the subproblem solvers.

    Returns
    -------
    SolverResult
        The best point found in the layout of ``problem.shape``, and its
        certificate for the whole problem (with the point's ``violations``).
    """
    gram = None
    if working_sets:
        gram = subproblems or exact_subproblems(problem, exact, config)
    if gram is None and not (working_sets and runnable(WorkingSets(), problem, config)):
        return fista(
            problem,
            x0,
            tol=tol,
            max_iter=max_iter,
            lipschitz=lipschitz,
            verbose=verbose,
            config=config,
        )
    return solve_in_rounds(
        problem,
        x0,
        tol=tol,
        max_iter=max_iter,
        lipschitz=lipschitz,
        hint=hint,
        gram=gram,
        verbose=verbose,
        config=config,
    )


def exact_subproblems(
    problem: Problem, exact: bool | None = None, config: SolverConfig = SolverConfig()
) -> Subproblems | None:
    """What solves ``problem``'s working-set subproblems instead of FISTA.

    With ``exact=True``, Gram-form feature-sign search (:class:`GramForm`)
    where it applies, and proximal Newton (:class:`NewtonForm`) for other
    :class:`~convexnn.problems.L1` problems. The default (``None``) takes the
    Gram form when the operator's blocks lie on grid lines
    (:meth:`~convexnn.problems.LinearOperator.lines`: nearly parallel
    neighbours, where FISTA needs many iterations); elsewhere FISTA's cheap
    iterations win a solve from scratch, whose support feature-sign search
    would grow one coordinate per step. ``None`` when FISTA solves them. The
    object serves ``problem`` at any ``alpha``, so a path builds it once.
    """
    if exact is None:
        lines = problem.operator.lines(problem.penalty.group_size)
        exact, phases = bool(lines), (GramForm(),)
    else:
        phases = (GramForm(), NewtonForm())
    if not exact:
        return None
    for phase in phases:
        if runnable(phase, problem, config):
            return phase.subproblems(problem, config)
    return None


@timed
def solve_constrained(
    problem: ConstrainedProblem,
    x0: torch.Tensor | None = None,
    multipliers0: torch.Tensor | None = None,
    *,
    method: str = "auto",
    tol: float = 1e-6,
    max_iter: int = 10_000,
    verbose: int = 0,
    config: SolverConfig = SolverConfig(),
) -> tuple[str, ConstrainedResult]:
    """Solve ``problem`` to KKT residuals ``≤ tol``.

    Parameters
    ----------
    problem : ConstrainedProblem
        The objective and its constraints.
    x0, multipliers0 : tensor, optional
        A warm start: a point in the layout of ``problem.problem.shape`` and
        the constraints' multipliers (default zeros), typically the solution
        at a nearby ``alpha``. Every method ends at once when the start, or
        the active-set finish from it, meets ``tol``; otherwise ADMM and the
        augmented Lagrangian start from it, and the interior-point method
        from the cones' interior as usual.
    method : {"auto", "interior_point", "admm", "augmented_lagrangian"}
        The method; ``"auto"`` takes the first of :data:`CONSTRAINED_METHODS`
        that can run (:func:`~convexnn.solvers.phases.runnable`), and the next
        one where the first stops short of ``tol`` before ``config.deadline``
        (the result with the smaller KKT residuals is returned). A method
        asked for by name that cannot run is a ``ValueError`` saying why.
    tol, max_iter, verbose, config
        As in :func:`~convexnn.solvers.admm` and
        :func:`~convexnn.solvers.augmented_lagrangian`.

    Returns
    -------
    method : str
        The method that ran.
    result : ConstrainedResult

    Raises
    ------
    ValueError
        If the problem's samples are split over several processes (its
        loss has ``shards``): the constrained methods run on one process.
    """
    if problem.problem.loss.shards is not None:
        raise ValueError(
            "solve_constrained runs on one process; this problem's samples are "
            "split over several (its loss has shards)."
        )
    if _separable(problem):
        return _solve_by_output(
            problem,
            x0,
            multipliers0,
            method=method,
            tol=tol,
            max_iter=max_iter,
            verbose=verbose,
            config=config,
        )
    if method in CONSTRAINED_METHODS:
        require(CONSTRAINED_METHODS[method][0], problem, config)
        methods = [method]
    elif method == "auto":
        methods = [
            name
            for name, (phase, _) in CONSTRAINED_METHODS.items()
            if runnable(phase, problem, config)
        ][:2]
    else:
        raise ValueError(
            f"method must be 'auto' or one of {sorted(CONSTRAINED_METHODS)}, "
            f"got {method!r}."
        )
    best = None
    for name in methods:
        run = CONSTRAINED_METHODS[name][1]
        result = run(
            problem,
            x0,
            multipliers0,
            tol=tol,
            max_iter=max_iter,
            verbose=verbose,
            config=config,
        )
        if best is None or result.kkt.largest < best[1].kkt.largest:
            best = name, result
        if result.converged or config.out_of_time():
            break
    return best


def _separable(problem: ConstrainedProblem) -> bool:
    """Whether ``problem`` is a sum of independent problems, one per output
    column: a loss that sums over entries, a penalty that sums over columns,
    and constraints that act on each column alike (as the cone's do)."""
    objective = problem.problem
    needs = {"diagonal_hessian", "outputwise"}
    return objective.n_outputs > 1 and needs <= objective.capabilities


def _solve_by_output(
    problem: ConstrainedProblem, x0, multipliers0, *, tol, verbose, **options
) -> tuple[str, ConstrainedResult]:
    """Solve a separable problem output by output, each column with the
    methods that suit one output (the interior-point method and its
    active-set finish) and its column of the warm start, and measure the
    whole point's KKT residuals."""
    names, parts = [], []
    for k in range(problem.problem.n_outputs):
        if verbose:
            print(f"output {k}")
        column = slice(k, k + 1)
        name, part = solve_constrained(
            problem.output(k),
            None if x0 is None else x0[:, column],
            None if multipliers0 is None else multipliers0[:, column],
            tol=tol,
            verbose=verbose,
            **options,
        )
        names.append(name)
        parts.append(part)
    x = torch.cat([part.x for part in parts], 1)
    multipliers = torch.cat([part.multipliers for part in parts], 1)
    kkt = polished_kkt(problem, x, multipliers)
    result = ConstrainedResult(
        kkt.x,
        multipliers,
        kkt,
        n_iter=sum(part.n_iter for part in parts),
        n_outer=sum(part.n_outer for part in parts),
        converged=kkt.largest <= tol,
        rho=max(part.rho for part in parts),
    )
    return ", ".join(dict.fromkeys(names)), result
