"""
Objective against time: the convex solver and Adam on the same network
======================================================================

One gated ReLU network with weight decay — the same 100 gates, the same
objective — is trained on the diabetes data in two ways:

* by :class:`~convexnn.GatedReLURegressor`, which solves the exact convex
  reformulation and stops when its relative duality gap is below ``tol``;
* by :class:`~convexnn.baselines.NonconvexGatedReLURegressor`, full-batch Adam
  on the network's weights, at three learning rates.

Each convex point is one fit to a tolerance (from ``1e-1`` to ``1e-10``),
timed as the fastest of three runs; an Adam curve is one run, the best
objective it has seen after every step (what it returns if stopped there)
placed at the step's share of the run's time. The tightest
convex fit proves a lower bound on the optimum, and every objective is
compared with it: no run of either method can go below it. Times are wall
clock on whatever machine builds this page; the objectives do not depend on
it.
"""

import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from convexnn import GatedReLURegressor
from convexnn.baselines import NonconvexGatedReLURegressor

X, y = load_diabetes(return_X_y=True)
X = StandardScaler().fit_transform(X)
y = (y - y.mean()) / y.std()
network = dict(alpha=1e-3, n_patterns=100, random_state=0, device="cpu")


def timed_fit(model, repeats=1):
    """The fitted model and the shortest of ``repeats`` fit times."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(X, y)
        times.append(time.perf_counter() - start)
    return model, min(times)


# %%
# The convex fits, one per tolerance
# ----------------------------------

tolerances = [1e-1, 1e-2, 1e-4, 1e-6, 1e-8, 1e-10]
convex = [
    timed_fit(GatedReLURegressor(tol=tol, **network), repeats=3) for tol in tolerances
]
for tol, (model, seconds) in zip(tolerances, convex, strict=True):
    print(
        f"tol {tol:7.0e}: objective {model.objective_:.10f}, gap "
        f"{model.dual_gap_:.1e}, {model.n_iter_} iterations, {seconds:.3f} s"
    )
tightest = convex[-1][0]
lower_bound = tightest.objective_ * (1 - tightest.dual_gap_)
print(f"certified: the optimum is at least {lower_bound:.10f}")

# %%
# Adam on the same network
# ------------------------
#
# ``tol=0`` keeps Adam running until its objective has not improved at all
# for 50 steps, or for its whole budget of 3 000 steps; it returns the best
# weights it saw.

adam = {}
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    for rate in [1e-3, 1e-2, 1e-1]:
        model = NonconvexGatedReLURegressor(
            learning_rate=rate, max_iter=3000, tol=0.0, **network
        )
        adam[rate] = timed_fit(model)
for rate, (model, _) in adam.items():
    print(
        f"Adam, learning rate {rate:g}: {model.objective_:.10f} after "
        f"{model.n_iter_} steps, {model.objective_ / lower_bound - 1:+.2%} "
        "over the certified bound"
    )

# %%
# The plot
# --------
#
# Left, the objectives (Adam's first steps are far above the range shown);
# right, how far each is above the certified lower bound, on a log scale.
# Adam's larger learning rates oscillate; the curves show the best objective
# so far.

figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), constrained_layout=True)
for (rate, (model, seconds)), colour in zip(
    adam.items(), ["tab:orange", "tab:red", "tab:brown"], strict=True
):
    steps = np.arange(1, model.n_iter_ + 1)
    elapsed = steps * seconds / model.n_iter_
    best = np.minimum.accumulate(model.objective_curve_)
    label = f"Adam, learning rate {rate:g}"
    left.plot(elapsed, best, color=colour, label=label)
    right.plot(elapsed, best / lower_bound - 1, color=colour, label=label)
convex_times = [seconds for _, seconds in convex]
convex_objectives = np.array([model.objective_ for model, _ in convex])
left.plot(
    convex_times, convex_objectives, "o", color="tab:blue", label="convexnn, one fit"
)
left.axhline(
    lower_bound, color="tab:blue", linestyle="--", label="certified lower bound"
)
left.set(
    xscale="log",
    xlabel="time (s)",
    ylabel="training objective",
    ylim=(0.95 * lower_bound, 1.6 * lower_bound),
    title="The same network, two ways to train it",
)
left.legend(fontsize=8)
right.plot(
    convex_times,
    np.maximum(convex_objectives / lower_bound - 1, 1e-16),
    "o",
    color="tab:blue",
    label="convexnn, one fit per tol",
)
right.set(
    xscale="log",
    yscale="log",
    xlabel="time (s)",
    ylabel="objective / certified lower bound − 1",
    title="Distance to the optimum",
)
right.legend(fontsize=8)
plt.show()
