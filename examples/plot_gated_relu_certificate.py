"""
The certificate of a convex fit, against Adam
==============================================

A gated ReLU network with weight decay is trained on breast cancer twice: by
convexnn, which solves the exact convex reformulation, and by full-batch Adam
on the same network (same gates, same objective). For convexnn we stop the
solver after more and more iterations and plot, for each stop, the objective
of the returned model and the lower bound its certificate proves
(``objective_ · (1 − dual_gap_)``): the global optimum lies between them. Adam
only ever gives an upper bound, with no way to tell how far it is from the
optimum.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from convexnn import GatedReLUClassifier
from convexnn.baselines import NonconvexGatedReLUClassifier

X, y = load_breast_cancer(return_X_y=True)
X = StandardScaler().fit_transform(X)
common = dict(alpha=1e-2, n_patterns=100, random_state=0, device="cpu")

stops = np.unique(np.geomspace(5, 400, 12).astype(int))
objectives, lower_bounds, gaps = [], [], []
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    for max_iter in stops:
        model = GatedReLUClassifier(max_iter=max_iter, tol=1e-10, **common).fit(X, y)
        objectives.append(model.objective_)
        lower_bounds.append(model.objective_ * (1 - model.dual_gap_))
        gaps.append(model.dual_gap_)
    adam = NonconvexGatedReLUClassifier(max_iter=3000, tol=0.0, **common).fit(X, y)

optimum = lower_bounds[-1]
print(f"certified optimum in [{lower_bounds[-1]:.8f}, {objectives[-1]:.8f}]")
print(
    f"Adam after {adam.n_iter_} steps: {adam.objective_:.8f} "
    f"(+{adam.objective_ / optimum - 1:.2%} above the certified lower bound)"
)

figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
left.plot(
    np.arange(1, adam.n_iter_ + 1),
    adam.objective_curve_,
    color="tab:orange",
    label="Adam (same network, same objective)",
)
left.plot(stops, objectives, "o-", color="tab:blue", label="convexnn: objective")
left.plot(
    stops,
    lower_bounds,
    "s--",
    color="tab:blue",
    alpha=0.6,
    label="convexnn: certified lower bound",
)
left.set(
    xscale="log",
    xlabel="iterations (solver iterations; Adam steps)",
    ylabel="training objective",
    ylim=(0.8 * optimum, 1.5 * optimum),
    title="Objective and certified bound",
)
left.legend()
right.loglog(stops, np.maximum(gaps, 1e-16), "o-", color="tab:blue")
right.set(
    xlabel="iterations",
    ylabel="relative duality gap",
    title="How far from optimal, proven",
)
right.grid(True, which="both", alpha=0.3)

plt.show()
