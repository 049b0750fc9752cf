r"""Data-parallel problems: the samples split over the processes of a
:mod:`torch.distributed` process group.

Each process holds some of the rows of the data, and the objective is the one
of all the rows together,

.. math::
    f(Z) = \sum_r \sum_{i \in S_r} w_i\,\ell(z_i, y_i), \qquad
    A^\top\Theta = \sum_r A_r^\top\Theta_r,

with :math:`S_r` the rows of process ``r``, :math:`A_r` its operator and the
weights :math:`w_i` normalised over *every* process's samples. Products
:math:`A_rW` stay on their process; every sum over the samples — the adjoint
product, the intercept's gradient, loss values and conjugates (so objectives,
dual objectives and duality gaps), line-search tests and Lipschitz estimates
— is summed over the processes (an all-reduce), so that the certificate of a
solve is the certificate of the whole problem.

Everything in coefficient space (iterates, penalties, steps) is replicated:
each process runs the same iterations on the same coefficients, and each
decision of a solver depends only on them and on summed values, which an
all-reduce gives every process alike. The processes so stay in step and
return the same coefficients; a deadline (``config.deadline``) stops them all
at the first checkpoint where it has passed on any of them.

A problem is sharded when its loss is: build the loss of this process's rows
with ``shards=Shards()``, and :func:`~convexnn.problems.gated_problem` or
:func:`~convexnn.problems.lasso_problem` wrap the operator in a
:class:`ShardedOperator` (the gated problem takes the gates of the first
process, so that every process has the same patterns). Solve it with
:func:`convexnn.solvers.solve` on every process, with the same arguments: it
runs the proximal-gradient loop with its certified polishing (and its float32
start where the operator converts). Methods that do their own algebra in
sample space (Newton's methods, exact Gram-form subproblems) need the loss's
``"all_samples"`` capability, working sets an operator that restricts, which
a sharded problem does not provide; the constrained solvers
(:func:`~convexnn.solvers.solve_constrained`) refuse it.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from .operators import LinearOperator


class Shards:
    """The processes of a :mod:`torch.distributed` process group, each holding
    some of the samples, with the collectives the solvers use.

    Parameters
    ----------
    group : ProcessGroup, optional
        The process group (default: the default group of
        :func:`torch.distributed.init_process_group`, which must have been
        called). With the NCCL backend the data must be on the process's
        current CUDA device; with gloo, on the CPU.
    """

    def __init__(self, group=None):
        if not (dist.is_available() and dist.is_initialized()):
            raise RuntimeError(
                "Shards needs an initialised torch.distributed process group: "
                "call torch.distributed.init_process_group first (torchrun "
                "sets up the environment it reads)."
            )
        self.group = group
        self.rank = dist.get_rank(group)
        self.size = dist.get_world_size(group)
        self.device = torch.device("cpu")
        if dist.get_backend(group) == "nccl":
            self.device = torch.device("cuda", torch.cuda.current_device())

    def sum(self, partial: torch.Tensor) -> torch.Tensor:
        """The sum of ``partial`` over the processes (a new tensor, not
        differentiable); ``partial`` is typically a sum over this process's
        samples."""
        total = partial.detach().clone(memory_format=torch.contiguous_format)
        dist.all_reduce(total, group=self.group)
        return total

    def maximum(self, values: torch.Tensor) -> torch.Tensor:
        """The elementwise maximum of ``values`` over the processes."""
        largest = values.detach().clone(memory_format=torch.contiguous_format)
        dist.all_reduce(largest, op=dist.ReduceOp.MAX, group=self.group)
        return largest

    def any(self, flag: bool) -> bool:
        """Whether ``flag`` holds on any process (every process gets the
        answer)."""
        return bool(self.maximum(torch.tensor([float(flag)], device=self.device)))

    def broadcast(self, tensor: torch.Tensor, source: int = 0) -> torch.Tensor:
        """Process ``source``'s ``tensor`` on every process.

        Every process passes a tensor of the same dtype, device kind and
        trailing dimensions; the number of rows may differ (gates sampled on
        each process's rows, say), only the source's are kept.
        """
        rows = torch.tensor([tensor.shape[0]], device=tensor.device)
        dist.broadcast(rows, group_src=source, group=self.group)
        if self.rank == source:
            shared = tensor.clone(memory_format=torch.contiguous_format)
        else:
            shared = tensor.new_empty((int(rows), *tensor.shape[1:]))
        dist.broadcast(shared, group_src=source, group=self.group)
        return shared


class ShardedOperator(LinearOperator):
    r"""One process's rows :math:`A_r` of an operator split by rows.

    :meth:`matvec` gives this process's outputs :math:`A_rW` and
    :meth:`rmatvec` the adjoint product of all the rows,
    :math:`\sum_r A_r^\top\Theta_r` (an all-reduce), so that the products
    are those of the whole operator with the samples split over the
    processes. Sample-space shapes (``n_samples``, :meth:`block_outputs`,
    :meth:`columns`) are this process's. It converts between dtypes where
    ``local`` does (``"astype"``) and provides no other optional method.

    Parameters
    ----------
    local : LinearOperator
        The operator of this process's rows.
    shards : Shards
        The processes holding the other rows.
    """

    def __init__(self, local: LinearOperator, shards: Shards):
        self.local = local
        self.shards = shards
        self.n_samples = local.n_samples
        self.n_coefs = local.n_coefs

    @property
    def device(self) -> torch.device:
        return self.local.device

    @property
    def dtype(self) -> torch.dtype:
        return self.local.dtype

    def capabilities(self, group_size):
        return self.local.capabilities(group_size) & {"astype"}

    def matvec(self, coef):
        return self.local.matvec(coef)

    def rmatvec(self, residual):
        return self.shards.sum(self.local.rmatvec(residual))

    def block_outputs(self, coef, group_size, blocks):
        return self.local.block_outputs(coef, group_size, blocks)

    def columns(self, indices):
        return self.local.columns(indices)

    def astype(self, dtype):
        return self._around(self.local.astype(dtype))

    def in_float64(self):
        return self._around(self.local.in_float64())

    def _around(self, local: LinearOperator | None) -> ShardedOperator | None:
        """``local`` (a conversion of this process's rows) sharded alike."""
        return None if local is None else ShardedOperator(local, self.shards)

    def gram(self, indices, centred, others=None):
        raise NotImplementedError(_LOCAL_ONLY.format("gram"))

    def column_norms(self, centred, indices=None):
        raise NotImplementedError(_LOCAL_ONLY.format("column_norms"))


_LOCAL_ONLY = (
    "{} is not summed over the processes of a sharded operator; form it from "
    "the data of every process."
)


def shard_operator(operator: LinearOperator, shards: Shards | None) -> LinearOperator:
    """``operator`` (this process's rows) as a :class:`ShardedOperator` over
    ``shards``, or ``operator`` itself when ``shards`` is ``None``."""
    return operator if shards is None else ShardedOperator(operator, shards)
