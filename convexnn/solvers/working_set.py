r"""Working sets and gap-safe screening around the subproblem solvers.

Sparse problems have few nonzero blocks at the optimum. :func:`solve` solves
the problem restricted to a *working set* of blocks — the nonzero ones and
those whose dual constraint is closest to active — and grows the set until the
certificate of the whole problem closes (Johnson & Guestrin's Blitz,
Massias, Gramfort & Salmon's celer, skglm):

1. certify the current point on the whole problem (:meth:`Problem.certificate`);
2. keep out of working sets, for good, every block that gap-safe screening
   proves zero at the optimum (Ndiaye, Fercoq, Gramfort & Salmon, 2017): the
   dual optimum lies within :math:`r = \sqrt{2\,\mathrm{gap}\,L}` of
   any dual-feasible point, since the dual objective is
   :math:`1/L`-strongly concave for a loss whose gradient is
   :math:`L`-Lipschitz (:math:`L = \kappa/n` for a mean loss of curvature
   :math:`\kappa`, :math:`\kappa\max_i s_i/\sum_j s_j` with sample weights ``s``),
   so block ``g`` is zero when
   :math:`\omega^*(A_g^\top\theta) + r\|A_g\|_2 < \alpha w_g`;
3. solve the problem restricted to the working set.

Subproblems are solved in one of three ways:

* a squared loss with an :math:`\ell_1` penalty can be solved *exactly* in
  Gram form (:mod:`~convexnn.solvers.gram`: feature-sign search on
  :math:`A_W^\top PA_W/n`), which needs no iteration count to separate
  nearly parallel columns; this is the default when the operator says its
  blocks are such neighbours (``exact``), and along regularisation paths;
* another loss with an :math:`\ell_1` penalty by proximal Newton steps
  (:mod:`~convexnn.solvers.prox_newton`), each a Gram-form feature-sign
  search on the loss's second-order model, along paths or when asked;
* otherwise :func:`~convexnn.solvers.fista` runs to a fraction of the
  current gap.

An exact solution of the working set has optimal block scales, and in Gram
form optimal free coordinates too: its certificate needs no polishing.

The working set holds the nonzero blocks and at least as many others (for
exact subproblems, the solver's ``margin`` times as many: proximal Newton
forms its Hessian anew at every step, so it takes fewer); it doubles from one
round to the next, except when the operator's blocks lie on
grid lines (:meth:`~convexnn.problems.LinearOperator.lines`: dictionaries of
features at neighbouring data points, nearly equal to each other) and
subproblems are exact: then it takes one block per violated region — the
*peaks* of the dual constraint's violations along every line — which is all
an exact solve needs, and grows only when no new block would enter.

Every round's certificate is a certificate of the whole problem, so the
returned gap is as honest as plain FISTA's. (Screened blocks stay in the
certificate's products: copying the operator without them would cost more
than the products it saves. Peaks make screening redundant, so it is skipped
there.) The four methods are phases (:mod:`~convexnn.solvers.phases`):
:class:`WorkingSets` needs an operator that restricts to blocks and more than
``config.working_set_min_blocks`` blocks (with fewer, the rounds cost more
than they save), :class:`Screening` needs bounds on the blocks' norms,
:class:`GramForm` a squared loss with an :math:`\ell_1` penalty and no
sample weights, and :class:`NewtonForm` an :math:`\ell_1` penalty. A problem
that allows neither working sets nor exact subproblems goes to FISTA
directly; with exact subproblems and few blocks, the working set is the
whole problem.

Past ``config.deadline`` the rounds stop at the next certificate, which comes
at once (the FISTA solve of a round stops at its own next checkpoint).
"""

from __future__ import annotations

import math

import torch

from ..problems import Certificate, Problem, SquaredLoss
from .config import SolverConfig
from .fista import fista
from .gram import GramLasso
from .phases import Phase, runnable
from .polish import polished_certificate
from .progress import report
from .prox_newton import NewtonLasso
from .results import SolverResult


class WorkingSets(Phase):
    """Subproblems on growing working sets of blocks."""

    name = "working sets"
    needs = frozenset({"restrict"})

    def applies(self, problem: Problem, config: SolverConfig) -> bool:
        return problem.n_blocks > config.working_set_min_blocks


class Screening(Phase):
    """Gap-safe screening of the blocks that are zero at the optimum."""

    name = "screening"
    needs = frozenset({"block_norms"})


class GramForm(Phase):
    """Exact working-set subproblems in Gram form (:mod:`~convexnn.solvers.gram`),
    whose Gram matrices are those of the plain mean: no sample weights, every
    sample in this process."""

    name = "Gram-form subproblems"
    needs = frozenset({"l1", "quadratic", "unweighted", "all_samples"})

    def applies(self, problem: Problem, config: SolverConfig) -> bool:
        return isinstance(problem.loss, SquaredLoss)

    def memory(self, problem: Problem, config: SolverConfig) -> float:
        return 8.0 * config.working_set_max_gram_size**2  # the cached Gram matrix

    def subproblems(self, problem: Problem, config: SolverConfig) -> GramLasso:
        return GramLasso(problem, config)


class NewtonForm(Phase):
    r"""Working-set subproblems of an :math:`\ell_1` problem solved by proximal
    Newton steps (:mod:`~convexnn.solvers.prox_newton`): any loss with a
    Hessian, sample weights allowed, every sample in this process (its
    Hessians sum over the samples it holds)."""

    name = "proximal Newton subproblems"
    needs = frozenset({"l1", "all_samples"})

    def memory(self, problem: Problem, config: SolverConfig) -> float:
        return 16.0 * config.prox_newton_max_size**2  # a Hessian, scaled

    def subproblems(self, problem: Problem, config: SolverConfig) -> NewtonLasso:
        return NewtonLasso(problem, config)


#: What solves working-set subproblems exactly, or to Newton's precision.
Subproblems = GramLasso | NewtonLasso


def solve_in_rounds(
    problem: Problem,
    x0: torch.Tensor | None,
    *,
    tol: float,
    max_iter: int,
    lipschitz: float | None,
    hint: torch.Tensor | None,
    gram: Subproblems | None,
    verbose: int,
    config: SolverConfig,
) -> SolverResult:
    """Minimise ``problem`` by working-set rounds (the module docstring), the
    subproblems solved exactly by ``gram`` where it is given and by FISTA
    otherwise; the arguments are those of :func:`~convexnn.solvers.solve`."""
    lines = problem.operator.lines(problem.penalty.group_size)
    rounds = _Rounds(problem, x0, hint, lines, gram, lipschitz, tol, config)
    while True:
        if rounds.violations is None or config.out_of_time():
            rounds.certify(verbose)
            done = rounds.best.relative_gap <= tol or rounds.n_iter >= max_iter
            if done or config.out_of_time():
                break
            rounds.screen()
        if not rounds.next_working_set():
            rounds.solve_by_iterations(tol, max_iter, verbose)
    converged = rounds.best.relative_gap <= tol
    return SolverResult(
        rounds.best.x, rounds.best, rounds.n_iter, converged, rounds.lipschitz or 0.0
    )


class _Rounds:
    """The state of the working-set rounds: the point and its outputs, the
    best certificate, the dual-constraint values of the last certificate
    (``violations``; ``None`` when the point is yet to be certified), the
    screened blocks and the current working set."""

    def __init__(self, problem, x0, hint, lines, gram, lipschitz, tol, config):
        self.problem, self.lines, self.gram, self.config = problem, lines, gram, config
        self.lipschitz, self.tol = lipschitz, tol
        device = problem.operator.device
        self.everything = torch.arange(problem.n_blocks, device=device)
        # exact subproblems take the peaks of the violations, which screening
        # would not change: its norms are not worth their cost there
        self.norms = None
        if (gram is None or not lines) and runnable(Screening(), problem, config):
            self.norms = problem.operator.block_norms(problem.penalty.group_size)
        weights = problem.penalty.weights
        if weights is None:
            weights = torch.ones(problem.n_blocks, dtype=problem.operator.dtype)
        self.weights = weights.to(device)
        self.screened = torch.zeros_like(self.everything, dtype=torch.bool)
        self.x = problem.zeros() if x0 is None else x0.clone()
        self.Z = None  # the outputs of x, computed when a certificate needs them
        self.best = Certificate(self.x, self.Z, math.inf, -math.inf)  # none yet
        self.n_iter, self.size, self.violations = 0, 0, hint
        self.working = self.everything[:0]
        self.rescale = True  # whether the block scales of x may be suboptimal
        # whether points are rounded to a lower precision than their
        # certificates, which moves optimal block scales off their optimum
        self.rounded = problem.certifying_problem() is not problem
        self.solved_exactly = False  # whether the last round's solve was exact
        self.fitted_exactly = False  # ... with exactly optimal free coordinates

    def certify(self, verbose: int) -> None:
        """Certify the current point on the whole problem: as it is when it is
        an exact solution of the working set in float64, whose free
        coordinates are optimal already, else polished."""
        problem = self.problem
        if self.Z is None:
            self.Z = _outputs(problem, self.x, problem.active_blocks(self.x))
        if self.fitted_exactly and not self.rounded:
            certificate = problem.certificate(self.x, self.Z, exact=True)
        else:
            certificate = polished_certificate(
                problem, self.x, self.Z, rescale=self.rescale
            )
        self.x, self.Z = certificate.x, certificate.Z
        self.violations = certificate.violations
        self.best = self.best.improve(certificate)
        self.certificate = certificate
        if verbose:
            report(
                WorkingSets.name,
                self.n_iter,
                self.best.primal,
                self.best.relative_gap,
                working_set=self.size,
                screened=int(self.screened.sum()),
            )

    def screen(self) -> None:
        """Screen out, for good, the blocks the last certificate proves zero."""
        if self.norms is None:
            return
        problem = self.problem
        slack = max(self.best.primal - self.certificate.dual, 0)
        radius = math.sqrt(2 * problem.loss.lipschitz() * slack)
        scaled = radius * self.norms / (problem.alpha * self.weights)
        self.screened |= self.violations + scaled < 1

    def _priorities(self) -> tuple[torch.Tensor, int, int]:
        """The blocks' priorities for the next working set (infinite for the
        nonzero and unpenalised ones, which it must hold), how many of those
        there are, and how many peaks of the violations there are."""
        violations, screened = self.violations, self.screened
        active = self.problem.active_blocks(self.x)
        priority = violations.masked_fill(screened, -math.inf)
        n_peaks = 0
        if self.lines:  # one block per violated region first
            # certificates scale the dual point into the feasible set, so
            # violating blocks are those above the active ones (at the bound)
            level = float(violations[active].max()) if bool(active.any()) else 0.0
            peaks = _peaks(violations, level, self.lines) & ~screened
            priority = torch.where(peaks, priority + float(violations.max()), priority)
            n_peaks = int(peaks.sum())
        priority[active | (self.weights == 0)] = math.inf
        return priority, int((priority == math.inf).sum()), n_peaks

    def next_working_set(self) -> bool:
        """Choose the next working set; solve it exactly when that is the
        method (``True``), else leave it to :meth:`solve_by_iterations`
        (``False``)."""
        priority, n_active, n_peaks = self._priorities()
        candidates = self.problem.n_blocks - int(self.screened.sum())
        previous, min_size = self.working, self.config.working_set_min_size
        if self.gram is not None and self.lines:  # the support and the peaks
            self.size = min(max(n_active + 2 * n_peaks, min_size), candidates)
            working = torch.topk(priority, self.size).indices
            if bool(torch.isin(working, previous).all()):  # nothing new: grow
                self.size = min(2 * len(previous), candidates)
                working = torch.topk(priority, self.size).indices
        elif self.gram is not None:  # the support, and a margin for its growth
            extra = max(min_size, math.ceil(self.gram.margin * n_active))
            self.size = min(max(n_active + extra, 2 * self.size), candidates)
            working = torch.topk(priority, self.size).indices
        else:
            self.size = min(max(2 * n_active, 2 * self.size, min_size), candidates)
            working = torch.topk(priority, self.size).indices
        self.working = working.sort().values
        if self.solved_exactly and torch.equal(self.working, previous):
            self.gram = None  # solved exactly already: rounding limits it
        if self.gram is None or not self.gram.fits(self.size):
            return False
        self.x, self.Z, steps, self.solved_exactly = self.gram.solve(
            self.problem, self.x, self.working, self.tol
        )
        self.n_iter += max(steps, 1)  # a round counts, so max_iter bounds them
        # a solution of the working set has optimal block scales
        self.violations, self.rescale = None, self.rounded
        self.fitted_exactly = self.solved_exactly and self.gram.fits_free_exactly
        return True

    def solve_by_iterations(self, tol: float, max_iter: int, verbose: int) -> None:
        """Solve the working set's subproblem by FISTA, to a fraction of the
        current gap."""
        problem, working = self.problem, self.working
        gap = self.best.relative_gap  # inf (or nan) before a valid bound
        fraction = self.config.working_set_inner_fraction
        inner_tol = max(fraction * gap, tol / 2) if gap < math.inf else tol / 2
        whole = self.size == problem.n_blocks or "restrict" not in problem.capabilities
        subproblem = problem if whole else problem.restrict(working)
        result = fista(
            subproblem,
            self.x if whole else problem.take(self.x, working),
            tol=inner_tol,
            max_iter=max_iter - self.n_iter,
            lipschitz=self.lipschitz,
            verbose=max(verbose - 1, 0),
            config=self.config,
        )
        if whole:  # no copy of the operator: the certificate is the problem's
            self.x = result.x
            self.best = self.best.improve(result.certificate)
        else:
            self.x = problem.put(result.x, working)
        self.Z, self.lipschitz = result.certificate.Z, result.lipschitz
        self.n_iter += max(result.n_iter, 1)  # a round counts: max_iter ends them
        self.fitted_exactly = False
        # a converged solve returns a polished point: the working set holds its
        # nonzero blocks, so polishing it on the whole problem would repeat that
        self.violations = None
        self.rescale = not result.converged or self.rounded


def _peaks(violations: torch.Tensor, level: float, lines) -> torch.Tensor:
    """Blocks that violate their dual constraint (``violations > level``) and
    are the largest of their run of consecutive violating blocks along every
    grid line through them: about one block per violated region."""
    violating = violations > level
    peaks = violating.clone()
    for order, starts in lines:
        values, inside = violations[order], violating[order]
        # a run starts at a line's start or after a block that does not violate
        previous = torch.cat([inside.new_zeros(1), inside[:-1]])
        run = torch.cumsum(starts | ~previous, 0) - 1
        largest = torch.full(
            (int(run[-1]) + 1,), -math.inf, dtype=values.dtype, device=values.device
        )
        largest.scatter_reduce_(0, run, values, reduce="amax")
        peaks[order] &= values >= largest[run]
    return peaks


def _outputs(problem: Problem, x: torch.Tensor, active: torch.Tensor) -> torch.Tensor:
    """``problem.matvec(x)`` for ``x`` zero off the ``active`` blocks, through
    the restricted operator when there is one."""
    if "restrict" not in problem.capabilities:
        return problem.matvec(x)
    blocks = active.nonzero().squeeze(1)
    return problem.restrict(blocks).matvec(problem.take(x, blocks))
