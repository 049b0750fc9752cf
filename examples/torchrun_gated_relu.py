"""
A gated ReLU network trained on several processes
=================================================

The rows of breast cancer are split over the processes of a
:mod:`torch.distributed` job; each process holds its rows alone, and together
they solve the convex program of a gated ReLU network on all of them, to the
certificate of the whole problem. Run it with ``torchrun``::

    torchrun --standalone --nproc_per_node=2 examples/torchrun_gated_relu.py

It uses the NCCL backend and one GPU per process where CUDA is available, and
gloo on the CPU otherwise. The first process then checks the result against a
single-process solve of all the rows and converts it to a
:class:`torch.nn.Module`. (The documentation shows this script without
running it: it needs ``torchrun``.)
"""

import numpy as np
import torch
import torch.distributed as dist
from sklearn.datasets import load_breast_cancer
from sklearn.preprocessing import StandardScaler

from convexnn.networks import GatedReLUNetwork
from convexnn.patterns import lift, sample_gates
from convexnn.problems import LogisticLoss, gated_problem
from convexnn.problems.distributed import Shards
from convexnn.solvers import solve

cuda = torch.cuda.is_available()
dist.init_process_group("nccl" if cuda else "gloo")
rank, size = dist.get_rank(), dist.get_world_size()
device = torch.device("cuda", rank % torch.cuda.device_count()) if cuda else "cpu"
if cuda:
    torch.cuda.set_device(device)

# %%
# Each process keeps its rows. Here every process reads the whole file and
# standardises with the statistics of all rows; a process that can only read
# its own part would sum its rows' statistics with ``dist.all_reduce``.
X, y = load_breast_cancer(return_X_y=True)
X = lift(StandardScaler().fit_transform(X), hidden_bias=True)
rows = np.array_split(np.arange(len(X)), size)[rank]
X_here = torch.tensor(X[rows], device=device)
y_here = torch.tensor(y[rows, None], dtype=torch.float64, device=device)

# %%
# The loss of this process's rows, with ``shards``, makes the problem one of
# all the rows: sums over the samples (gradients, objectives, the duality
# gap) are summed over the processes. Every process must use the same gates:
# here each samples some from its own rows and all keep the first process's
# (which ``gated_problem`` would do anyway).
shards = Shards()
loss = LogisticLoss(y_here, shards=shards)
gates = sample_gates(X[rows], n_patterns=50, random_state=0)
gates = shards.broadcast(torch.tensor(gates, device=device))
problem = gated_problem(X_here, gates, loss, alpha=1e-2)
result = solve(problem, tol=1e-8)

# %%
# Every process returns the same coefficients and the same certificate.
certificate = result.certificate
if rank == 0:
    print(
        f"{size} processes: objective {certificate.primal:.10f}, relative gap "
        f"{certificate.relative_gap:.1e} after {result.n_iter} iterations"
    )
    gates = gates.cpu()
    targets = torch.tensor(y[:, None], dtype=torch.float64)
    everything = gated_problem(torch.tensor(X), gates, LogisticLoss(targets), 1e-2)
    alone = solve(everything, tol=1e-8)
    print(f"1 process:   objective {alone.certificate.primal:.10f}")
    coef, intercept = problem.split(result.x.cpu())
    network = GatedReLUNetwork.from_gated_coefficients(
        gates.numpy(),
        coef.reshape(len(gates), X.shape[1], 1).numpy(),
        intercept.numpy(),
        hidden_bias=False,  # X is lifted already
    )
    with torch.no_grad():
        accuracy = ((network(torch.tensor(X)) > 0).squeeze(1).numpy() == y).mean()
    print(f"training accuracy of the network: {accuracy:.3f}")
dist.destroy_process_group()
