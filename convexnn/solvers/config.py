"""The tuning parameters of every solver method, in one immutable object.

Each solver entry point (:func:`~convexnn.solvers.fista`,
:func:`~convexnn.solvers.solve`, :func:`~convexnn.solvers.solve_path`,
:func:`~convexnn.solvers.admm`, :func:`~convexnn.solvers.augmented_lagrangian`,
...) takes a ``config`` (default ``SolverConfig()``) and hands it to the
methods it calls, so one object decides every knob of one solve. A field is
named after what it tunes and the method it belongs to; two methods share a
field only where it means the same thing to both. One field is not a tuning
constant but a limit: ``deadline``, the wall-clock time at which every loop
stops at its next checkpoint (:meth:`SolverConfig.with_time_limit` sets it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import torch


@dataclass(frozen=True)
class SolverConfig:
    r"""Tuning parameters of the solvers; the defaults suit every estimator.

    The config is immutable: change a field with :func:`dataclasses.replace`
    (see the example). Costs are counted in proximal-gradient iterations (two
    products with the operator ``A`` and their overhead), the unit in which
    the solvers weigh one method against another.

    Attributes
    ----------
    newton_patience : int
        Proximal-gradient iterations (:func:`~convexnn.solvers.fista`) with
        an unchanged set of nonzero blocks before a Newton finish is tried. A
        few suffice to tell a settled support from one still moving, and each
        one waited costs an iteration.
    newton_max_gap : float
        Largest relative duality gap, at the last checkpoint, at which the
        proximal-gradient iterations watch their support for a Newton finish.
        Far from the optimum the support is not yet the final one, and
        watching it costs a comparison per iteration.
    newton_tol_factor : float
        The Newton finish stops at a Newton decrement of ``newton_tol_factor ·
        tol`` times the objective. ``tol²`` would lie below the decrement's
        rounding level and waste steps; the margin below ``tol`` covers the
        varying distance between the decrement and the certificate's gap.
    kernel_newton_tol_factor : float
        The Newton solve on block weights (:mod:`~convexnn.solvers.kernel_newton`)
        stops at its own relative gap ``kernel_newton_tol_factor · tol``, which
        the certificate of the whole problem then confirms; a factor below
        one leaves room for the difference between the two gaps.
    single_precision_switch_gap : float
        Relative gap below which the iterations of a float64 problem leave
        their float32 phase. From about there float32 rounding slows down the
        iterates of ill-conditioned problems.
    float32_switch_gap : float
        Relative gap below which the iterations of a float32 problem go on in
        float64, on the float64 copy its certificates use
        (:mod:`~convexnn.solvers.precision`): about ten float32 rounding
        units, where float32 rounding in the gradients stalls the iterates
        (a gated multinomial fit on wine stalls at ``3e-7``). Above it the
        iterations stay in the precision the user chose.
    single_precision_stall : float
        The float32 phase (of a float64 or a float32 problem) also ends when
        a checkpoint's objective improves on the previous one's by less than
        this fraction: ten float32 rounding units, an objective that has
        stalled.
    newton_max_steps : int
        Newton (and proximal-gradient) steps in one Newton finish
        (:func:`~convexnn.solvers.newton.newton_finish`). Newton converges in
        a few steps once the support is right; a finish that has not by then
        is left to proximal gradient.
    newton_max_factorisations : int
        Fresh Hessian factorisations in one Newton finish. A support that keeps
        changing after that many is left to proximal gradient until it settles
        again: each factorisation costs many iterations.
    newton_step_cost : float
        The work of one Newton step (gradient, solve, line search,
        proximal-gradient step), in proximal-gradient iterations: about four
        products with the operator.
    newton_cg_cost : float
        The work of one conjugate-gradient iteration of a Newton step (a product
        with the Hessian and a solve with a factorised one), and of each block an
        extended system adds, in proximal-gradient iterations.
    newton_max_cg : int
        Conjugate-gradient iterations of a Newton step preconditioned by a
        Hessian factorised at an earlier point. A step that needs them all (or
        breaks down) has its Hessian refreshed at the next point: by then a new
        factorisation costs less than the iterations.
    newton_forcing : float
        A conjugate-gradient solve of a Newton step stops once its
        preconditioned residual has shrunk by this factor, so the decrement
        still converges at least this fast.
    newton_estimate_margin : float
        A Newton finish stops without solving for a step once the decrement
        estimated with a Hessian factorised at an earlier point falls below
        this fraction of its threshold. The estimate is close to the decrement
        near the optimum, and the caller certifies the result in any case.
    newton_stale_curvature : float
        A factorised Newton system is extended by entering blocks only while the
        curvatures of its own blocks have changed by at most this factor;
        beyond it conjugate gradients need as many iterations as a fresh
        factorisation costs.
    newton_max_coefficients : int
        Largest number of unknowns (``|S|·d``) of a coefficient-space Newton
        system, formed and factorised densely.
    newton_max_columns : int
        Largest number of entries of the dense columns :math:`A_S` a
        coefficient-space Newton system forms (its memory).
    sample_system_max_samples : int
        Largest number of samples ``n`` of an ``n × n`` sample-space system,
        in the Newton finish and in the Newton solve on block weights alike
        (which does not apply beyond it): its memory and its cubic
        factorisation.
    sample_system_precision : torch.dtype
        Precision of the sample-space factorisations of both Newton methods.
        :math:`K \succeq I`, so its float32 Cholesky factor exists (short of
        huge entries, which fall back to float64) and is accurate to about
        ``1e-7 · cond(K)``: preconditioning conjugate gradients (or refining
        solves) with it gives float64 steps at about half the cost of a
        float64 factorisation.
    memory_budget : float
        Bytes of workspace a solver phase may allocate beyond the problem's
        data (:mod:`~convexnn.solvers.phases`): a phase whose workspace
        (an ``n × n`` matrix, a sketch) would exceed it is left out, and
        asking for it by name is an error. Four GiB by default.
    iteration_min_flops : float
        Floating-point operations a proximal-gradient iteration costs at the
        least, in the cost models of both Newton methods: on small problems an
        iteration's time is mostly the overhead of its small tensor operations,
        not its two products.
    kernel_newton_expected_steps : int
        Newton steps the solve on block weights takes from a point found by a
        few proximal-gradient iterations: the work
        :func:`~convexnn.solvers.fista` weighs against finishing by proximal
        gradient. Projected Newton on as many unknowns as blocks typically
        converges in about this many.
    kernel_newton_max_steps : int
        Newton steps on block weights before the solve gives up and proximal
        gradient goes on from its best point.
    kernel_newton_active_fraction : float
        Block weights below this fraction of the largest whose derivative
        pushes them to zero are sent there instead of entering the Newton
        system (the ε-active set of Bertsekas, 1982), which keeps the system
        to the blocks that matter.
    kernel_newton_sufficient_decrease : float
        Fraction of the predicted decrease an accepted Newton step on block
        weights must achieve (the Armijo constant; small, as usual, so full
        steps pass near the optimum).
    kernel_newton_max_halvings : int
        Halvings of a Newton step on block weights before the solve gives up;
        at this many the step is at the level of rounding.
    kernel_newton_refinement_tol : float
        Solves with the sample-space factor (in ``sample_system_precision``)
        are refined by products with the exact matrix until the residual is
        below this fraction of the right-hand side: close to float64 rounding.
    kernel_newton_max_refinements : int
        Most refinements of one such solve; each shrinks the residual by about
        ``1e-7 · cond(K)`` with a float32 factor, so a few reach float64
        accuracy.
    kernel_newton_refinement_rate : float
        Refinements go on only while each shrinks the residual by at least
        this factor; otherwise they have reached rounding or diverge.
    interior_point_max_coefficients : int
        Largest dense Newton system of the barrier method
        (:mod:`~convexnn.solvers.interior_point`), in unknowns (``d̃`` times
        the patterns): its matrix costs ``n`` times its size squared to form
        and its size cubed over three to factor, at every Newton step.
    interior_point_max_flops : float
        Largest estimated work of a barrier-method solve, in floating-point
        operations (:meth:`~convexnn.solvers.interior_point.InteriorPoint.cost`):
        beyond it ADMM, whose steps are cheaper, is tried first.
    interior_point_coupled_max_flops : float
        The same limit for several outputs coupled by the loss (the
        multinomial loss): ADMM's steps do not see the curvature that couples
        the outputs and it needs far more of them, so the barrier method is
        worth more work there.
    interior_point_growth : float
        Factor of the barrier parameter from one centre of the barrier method
        to the next: larger takes fewer centres, each with more Newton steps.
    admm_max_samples : int
        ``solver="auto"`` picks ADMM up to this many samples, where its
        ``n × n`` factorisation or Nyström sketch pays for itself, and the
        augmented Lagrangian above.
    admm_relaxation : float
        Over-relaxation factor of ADMM, in ``(0, 2)`` (Eckstein & Bertsekas;
        ``1`` is plain ADMM): fixed, as in most ADMM codes, since 1.5–1.8
        helps across problems.
    admm_balance : float
        Ratio of the relative primal and dual residuals of ADMM that triggers
        a change of ``ρ``: a loose band, since each change perturbs the
        iterates.
    admm_rho_spread : float
        ``ρ`` stays within this factor of its starting value either way. On a
        stalled iteration (no dual progress, as on rank-deficient data) the
        residual balance would otherwise raise ``ρ`` fivefold at every check
        until it overflows.
    admm_check_every : int
        ADMM steps between two KKT checks (and penalty updates); a check costs
        about two steps.
    admm_cg_loosest_tol : float
        Loosest relative tolerance of ADMM's conjugate-gradient solves.
    admm_cg_tol_ratio : float
        ADMM's conjugate-gradient solves are inexact early: their tolerance is
        this fraction of the largest KKT residual at the last check (at most
        ``admm_cg_loosest_tol``), so their errors shrink with the residuals
        the steps are meant to reduce.
    admm_sketch_budget : int
        Largest ``n_samples · n_coefs · columns / group_size`` of one product
        of ADMM's Nyström sketch: it bounds the memory of operators that
        expand their outputs per block.
    augmented_lagrangian_rho_growth : float
        Factor applied to the augmented Lagrangian's penalty ``ρ`` when the
        constraint violation stalls (Bertsekas, 1982, §2.2).
    augmented_lagrangian_violation_decrease : float
        Decrease of the constraint violation expected from one multiplier step
        of the augmented Lagrangian; ``ρ`` grows when it falls short.
    augmented_lagrangian_initial_inner_tol : float
        Relative duality gap asked of the augmented Lagrangian's first inner
        solve: loose, since the first multipliers are far from optimal.
    augmented_lagrangian_inner_tol_decrease : float
        Factor by which the inner gap shrinks from one multiplier step to the
        next, down to ``min(tol², tol/10)`` (the stationarity of an inner
        solution scales as the square root of its gap).
    active_set_start_below : float
        Largest KKT residual at which the constrained solvers first try the
        active-set finish (:mod:`~convexnn.solvers.active_set`); each failed
        try divides their next threshold by three. Above it the structure of
        the solution is rarely identified yet.
    active_set_smallest_tol : float
        The active-set finish pins relative stationarity to about this level;
        tighter targets are left to the first-order solvers.
    active_set_tight : float
        Relative threshold (of a block's largest constraint value) below which
        the active-set finish guesses a constraint tight.
    active_set_carried : float
        Relative threshold (of the largest multiplier) above which a carried
        multiplier marks its row tight in the first guess of the structure:
        complementary slackness, a clearly positive multiplier.
    active_set_reduced_max_iter : int
        Proximal-gradient iterations of one reduced solve of the active-set
        finish. A right guess of the structure gives a reduced problem that
        the Newton finish settles in a few tens; one that takes more ends the
        finish, which must stay cheap when it fails.
    working_set_min_size : int
        Fewest blocks in a working set (:func:`~convexnn.solvers.solve`).
    working_set_min_blocks : int
        Problems with at most this many blocks are solved whole: the rounds of
        working sets cost more than they save there.
    working_set_inner_fraction : float
        Each working-set round solves its subproblem to this fraction of the
        current gap of the whole problem: tighter is wasted while the set is
        still growing.
    working_set_max_gram_size : int
        Largest working set solved exactly in Gram form
        (:mod:`~convexnn.solvers.gram`): its ``|W| × |W|`` Gram matrix and
        factorisations grow quadratically and cubically.
    prox_newton_max_size : int
        Most rows of the Hessian of a proximal Newton subproblem
        (:mod:`~convexnn.solvers.prox_newton`), one per coefficient and
        intercept of the working set: it is formed and factorised anew at
        every step, where the Gram form's is cached.
    prox_newton_max_steps : int
        Most proximal Newton steps of one working-set subproblem
        (:mod:`~convexnn.solvers.prox_newton`); a warm-started solve along a
        path needs a few.
    prox_newton_predicted_factor : float
        A proximal Newton solve stops once the next decrease of its
        objective, predicted from the last two at a quadratic rate, is below
        this fraction of ``tol`` times the objective. The prediction
        overestimates (by orders of magnitude once the support has settled),
        and a wrong one costs a round: another certificate and Newton step.
    feature_sign_rtol : float
        Feature-sign search
        (:func:`~convexnn.solvers.feature_sign.feature_sign`)
        treats optimality conditions as met to this fraction of the largest
        threshold or correlation: the level of float64 rounding in its sums.
    optimal_set_null_rtol : float
        Singular values below this fraction of the largest count as zero when
        :func:`~convexnn.solvers.optimal_set.select_solution` looks for tied
        columns: well above rounding, well below a real dependence.
    optimal_set_max_candidates : int
        Largest candidate equicorrelation set of the solution selection (the
        columns closest to equicorrelation), which bounds its dense algebra.
    optimal_set_dense_limit : float
        Largest ``n_samples × n_candidates²`` the solution selection handles by
        an SVD of the dense columns; beyond it, by an eigendecomposition of
        their Gram matrix.
    deadline : float or None
        A :func:`time.monotonic` reading after which every solver loop stops
        at its next checkpoint (a proximal-gradient certificate, a
        working-set round, an ADMM check, a barrier centre, an augmented
        Lagrangian step) and returns the best certified point so far,
        unconverged, with its honest certificate; nested solves share it.
        ``None``, the default, sets no limit. Set it with
        :meth:`with_time_limit`.

    Examples
    --------
    >>> from dataclasses import replace
    >>> from convexnn.solvers import SolverConfig
    >>> short = replace(SolverConfig(), newton_max_steps=4)
    >>> short.newton_max_steps, SolverConfig().newton_max_steps
    (4, 8)
    """

    newton_patience: int = 3
    newton_max_gap: float = 0.3
    newton_tol_factor: float = 1e-4
    kernel_newton_tol_factor: float = 0.5
    single_precision_switch_gap: float = 1e-3
    float32_switch_gap: float = 1e-6
    single_precision_stall: float = 1e-6

    newton_max_steps: int = 8
    newton_max_factorisations: int = 3
    newton_step_cost: float = 4
    newton_cg_cost: float = 1
    newton_max_cg: int = 8
    newton_forcing: float = 0.1
    newton_estimate_margin: float = 0.1
    newton_stale_curvature: float = 2.0
    newton_max_coefficients: int = 4096
    newton_max_columns: int = 2**24
    sample_system_max_samples: int = 4096
    sample_system_precision: torch.dtype = torch.float32
    memory_budget: float = 4 * 2**30
    iteration_min_flops: float = 5e6

    kernel_newton_expected_steps: int = 8
    kernel_newton_max_steps: int = 30
    kernel_newton_active_fraction: float = 1e-3
    kernel_newton_sufficient_decrease: float = 1e-4
    kernel_newton_max_halvings: int = 20
    kernel_newton_refinement_tol: float = 1e-13
    kernel_newton_max_refinements: int = 4
    kernel_newton_refinement_rate: float = 0.1

    interior_point_max_coefficients: int = 3000
    interior_point_max_flops: float = 1e11
    interior_point_coupled_max_flops: float = 1e12
    interior_point_growth: float = 10.0

    admm_max_samples: int = 50_000
    admm_relaxation: float = 1.6
    admm_balance: float = 100.0
    admm_rho_spread: float = 1e8
    admm_check_every: int = 10
    admm_cg_loosest_tol: float = 1e-2
    admm_cg_tol_ratio: float = 1e-2
    admm_sketch_budget: int = 2**25

    augmented_lagrangian_rho_growth: float = 10.0
    augmented_lagrangian_violation_decrease: float = 0.25
    augmented_lagrangian_initial_inner_tol: float = 1e-3
    augmented_lagrangian_inner_tol_decrease: float = 0.1

    active_set_start_below: float = 1.0
    active_set_smallest_tol: float = 1e-7
    active_set_tight: float = 1e-4
    active_set_carried: float = 1e-3
    active_set_reduced_max_iter: int = 200

    working_set_min_size: int = 10
    working_set_min_blocks: int = 100
    working_set_inner_fraction: float = 0.3
    working_set_max_gram_size: int = 4000
    prox_newton_max_size: int = 1000
    prox_newton_max_steps: int = 50
    prox_newton_predicted_factor: float = 1e-2

    feature_sign_rtol: float = 1e-14

    optimal_set_null_rtol: float = 1e-10
    optimal_set_max_candidates: int = 400
    optimal_set_dense_limit: float = 2e9

    deadline: float | None = None

    def with_time_limit(self, max_time: float | None) -> SolverConfig:
        """This config with a deadline ``max_time`` seconds from now (or its
        own, if sooner); ``None`` leaves it unchanged."""
        if max_time is None:
            return self
        deadline = time.monotonic() + max_time
        if self.deadline is not None:
            deadline = min(deadline, self.deadline)
        return replace(self, deadline=deadline)

    def out_of_time(self) -> bool:
        """Whether the deadline has passed."""
        return self.deadline is not None and time.monotonic() >= self.deadline
