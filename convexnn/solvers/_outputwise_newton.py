r"""Newton's method on the reduced problem of the active-set finish
(:mod:`~convexnn.solvers.active_set`) when several outputs share a loss.

Each group ``g`` of the reduced problem feeds one output column ``k(g)``
through its columns :math:`M_g` (the block's outputs on an orthonormal basis
of the null space of its tight rows):

.. math::
    \min_{z, b}\; F(z, b) = f(Z) + \alpha\sum_g \|z_g\|, \qquad
    Z_{:,k} = \sum_{g:\,k(g) = k} M_gz_g + b_k .

With the multinomial loss the outputs are coupled through the softmax, so the
problem does not split by output as the squared loss's does, and it has no
diagonal Hessian, which the shared solver's Newton finish needs. It is small,
though (one variable per free direction of an active group), and smooth
wherever no group is zero: Newton's method on it converges quadratically. The
Hessian is

.. math::
    H = \sum_i J_i^\top\,\nabla^2 f_i\,J_i
    + \alpha\,\operatorname{blockdiag}_g
      \frac{I - \hat z_g\hat z_g^\top}{\|z_g\|},

with :math:`J_i` the map from the variables to sample ``i``'s outputs and
:math:`\nabla^2 f_i` its ``c × c`` curvature
(:math:`w_i(\operatorname{diag}(p_i) - p_ip_i^\top)` for the multinomial
loss), formed at ``n N²`` cost for ``N`` variables. A loss that does not see a
common shift of all outputs (the softmax) leaves ``H`` singular along the
intercepts' common shift, where the gradient is zero too; the term
:math:`\epsilon\mathbf 1\mathbf 1^\top` on the intercepts makes ``H``
invertible without changing the step anywhere else.

A group whose step would carry it through zero (its norm is not smooth there)
leaves the problem when zero is optimal for it given the rest,
:math:`\|M_g^\top\nabla_{k(g)}f\| \le \alpha`; the caller's structure
corrections may bring it back. Each step is damped by a backtracking line
search on ``F``.
"""

from __future__ import annotations

import math

import torch

#: Largest relative stationarity :math:`\|\nabla_gF\| / \alpha` of a solution.
STATIONARITY = 1e-11
#: A step that leaves a group with less than this fraction of its norm, or
#: turns it around, is a step through zero.
THROUGH_ZERO = 0.1
#: Relative change of ``F`` below which its values are rounding.
ROUNDING = 1e-13


def reduced_newton(
    loss,
    design: torch.Tensor,
    groups: torch.Tensor,
    outputs: torch.Tensor,
    z: torch.Tensor,
    intercept: torch.Tensor | None,
    alpha: float,
    max_iter: int = 50,
) -> tuple[torch.Tensor, torch.Tensor | None] | None:
    r"""Minimise the reduced problem of the module docstring.

    Parameters
    ----------
    loss : Loss
        The data loss over ``c`` outputs (float64 targets).
    design : tensor of shape (n, N)
        The columns of every group's :math:`M_g`, side by side, float64.
    groups : tensor of shape (N,)
        The group of each column, nondecreasing.
    outputs : tensor of shape (G,)
        The output column each group feeds.
    z : tensor of shape (N,)
        The start (nonzero on every group).
    intercept : tensor of shape (c,) or None
        The start of the unpenalised intercept, ``None`` without one.
    alpha : float
        Regularisation strength.
    max_iter : int
        Newton steps at most.

    Returns
    -------
    (z, intercept) or None
        The solution (zero on the groups that left), or ``None`` when it is
        not reached within ``max_iter`` steps.
    """
    # the columns kept: a group the null space of its rows sets to zero
    # starts (and stays) at zero, where its norm has no derivative
    start_norms = z.new_zeros(len(outputs)).index_add_(0, groups, z**2)
    alive = (start_norms > 0)[groups]
    n_iter = 0
    while n_iter < max_iter and bool(alive.any()):
        kept, labels = torch.unique(groups[alive], return_inverse=True)
        problem = _Reduced(
            loss, design[:, alive], labels, outputs[kept], alpha, intercept is not None
        )
        x = z[alive] if intercept is None else torch.cat([z[alive], intercept])
        solved, dropped, n_iter = problem.minimise(x, n_iter, max_iter)
        if solved is None:
            return None
        z = torch.zeros_like(z)
        z[alive] = solved[: problem.n_coefs]
        intercept = solved[problem.n_coefs :] if problem.fit_intercept else None
        if dropped is None:
            return z, intercept
        alive &= ~torch.isin(groups, kept[dropped])
    return None


class _Reduced:
    """The reduced problem's value, derivatives and Newton system."""

    def __init__(self, loss, design, groups, outputs, alpha, fit_intercept):
        self.loss, self.alpha = loss, alpha
        self.n_outputs = loss.Y.shape[1]
        self.n_coefs = design.shape[1]
        self.groups, self.n_groups = groups, len(outputs)
        columns_output = outputs[groups]
        if fit_intercept:  # one column of ones per output
            ones = design.new_ones(design.shape[0], self.n_outputs)
            design = torch.cat([design, ones], 1)
            columns_output = torch.cat(
                [columns_output, torch.arange(self.n_outputs, device=design.device)]
            )
        self.design, self.columns_output = design, columns_output
        self.fit_intercept = fit_intercept
        self.outputs_of_group = outputs

    def minimise(self, x, n_iter, max_iter):
        """Damped Newton steps from ``x`` until the stationarity is below
        ``STATIONARITY`` (returns the point and ``None``), groups are carried
        through zero (the point and those groups) or the steps run out
        (``None``); with the steps counted on from ``n_iter``."""
        last_full = math.inf
        while n_iter < max_iter:
            n_iter += 1
            Z = self.outputs(x)
            gradient, Theta = self.gradient(x, Z)
            if self.stationarity(x, gradient) <= STATIONARITY:
                return x, None, n_iter
            step = -self.solve(x, Z, gradient)
            if not bool(torch.isfinite(step).all()):
                return None, None, n_iter
            dropped = self.through_zero(x, step, Theta)
            if bool(dropped.any()):  # zero is optimal for them: they leave
                return x, dropped, n_iter
            decrement = float(-(gradient @ step))
            if decrement <= ROUNDING * abs(self.value(x, Z)):
                # F cannot tell the step's decrease from rounding: in the
                # region of quadratic convergence, take it whole while the
                # stationarity falls
                stationarity = self.stationarity(x, gradient)
                if stationarity <= last_full:
                    x, last_full = x + step, stationarity
                    continue
                return (x if stationarity <= 1e3 * STATIONARITY else None), None, n_iter
            x = self.line_search(x, Z, step, decrement)
            if x is None:
                return None, None, n_iter
        return None, None, n_iter

    def outputs(self, x):
        Z = self.design.new_zeros(self.design.shape[0], self.n_outputs)
        return Z.index_add_(1, self.columns_output, self.design * x)

    def norms(self, x):
        squares = x.new_zeros(self.n_groups).index_add_(
            0, self.groups, x[: self.n_coefs] ** 2
        )
        return squares.sqrt()

    def value(self, x, Z):
        return self.loss.value(Z) + self.alpha * float(self.norms(x).sum())

    def gradient(self, x, Z):
        """``∇F`` and the loss's gradient ``Θ`` at ``Z``."""
        Theta = self.loss.gradient(Z)
        gradient = (self.design * Theta[:, self.columns_output]).sum(0)
        norms = self.norms(x)[self.groups]
        penalty = self.alpha * x[: self.n_coefs] / norms.clamp_min(1e-300)
        gradient[: self.n_coefs] += penalty
        return gradient, Theta

    def stationarity(self, x, gradient):
        """Largest ``‖∇_g F‖ / α`` over the groups and intercepts."""
        squares = x.new_zeros(self.n_groups).index_add_(
            0, self.groups, gradient[: self.n_coefs] ** 2
        )
        largest = float(squares.max().sqrt()) if self.n_groups else 0.0
        if self.fit_intercept:
            largest = max(largest, float(gradient[self.n_coefs :].abs().max()))
        return largest / self.alpha

    def solve(self, x, Z, gradient):
        """The Newton step ``H⁻¹ ∇F`` (the module docstring)."""
        n, n_outputs = Z.shape
        directions = torch.eye(n_outputs, dtype=Z.dtype, device=Z.device)
        curvature = self.loss.hessian_product(Z, directions.expand(n, -1, -1))
        hessian = torch.empty(len(x), len(x), dtype=x.dtype, device=x.device)
        for k in range(n_outputs):
            rows = (self.columns_output == k).nonzero().squeeze(1)
            weighted = self.design * curvature[:, k, self.columns_output]
            hessian[rows] = self.design[:, rows].T @ weighted
        norms = self.norms(x)[self.groups]
        unit = x[: self.n_coefs] / norms
        same = self.groups.unsqueeze(1) == self.groups.unsqueeze(0)
        scale = self.alpha / norms
        penalty = torch.diag(scale) - same * torch.outer(scale * unit, unit)
        hessian[: self.n_coefs, : self.n_coefs] += penalty
        if self.fit_intercept and _shift_invariant(curvature):
            block = hessian[self.n_coefs :, self.n_coefs :]
            block += block.diagonal().mean() / n_outputs
        factor, info = torch.linalg.cholesky_ex(hessian)
        if int(info) == 0:
            return torch.cholesky_solve(gradient.unsqueeze(1), factor).squeeze(1)
        if not bool(torch.isfinite(hessian).all()):
            return torch.full_like(gradient, math.nan)
        return torch.linalg.lstsq(hessian, gradient.unsqueeze(1)).solution.squeeze(1)

    def through_zero(self, x, step, Theta):
        """The groups the full step carries through zero and for which zero is
        optimal given the rest (their loss gradient within ``α``)."""
        coefs = x[: self.n_coefs]
        after = self.norms(coefs + step[: self.n_coefs])
        along = x.new_zeros(self.n_groups).index_add_(
            0, self.groups, coefs * (coefs + step[: self.n_coefs])
        )
        through = (after < THROUGH_ZERO * self.norms(x)) | (along < 0)
        columns = self.design[:, : self.n_coefs]
        outputs = self.columns_output[: self.n_coefs]
        loss_gradient = (columns * Theta[:, outputs]).sum(0)
        squares = x.new_zeros(self.n_groups).index_add_(
            0, self.groups, loss_gradient**2
        )
        return through & (squares.sqrt() <= self.alpha)

    def line_search(self, x, Z, step, decrement):
        """``x`` moved by the longest step of ``step`` halved until ``F``
        falls by a quarter of its predicted decrease, or ``None``."""
        before = self.value(x, Z)
        size = 1.0
        while size > 1e-10:
            trial = x + size * step
            after = self.value(trial, self.outputs(trial))
            if after <= before - 0.25 * size * decrement:
                return trial
            size *= 0.5
        return None


def _shift_invariant(curvature: torch.Tensor) -> bool:
    """Whether every sample's curvature annihilates a common shift of the
    outputs (its rows sum to zero), as the softmax's does."""
    scale = float(curvature.abs().max())
    return float(curvature.sum(2).abs().max()) <= 1e-10 * max(scale, 1e-300)
