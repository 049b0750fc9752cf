"""
The global optimum of a ReLU network, and Adam's restarts
=========================================================

A two-layer ReLU network with weight decay is fitted to 12 noisy points of a
1-D curve. The inputs are lifted with a bias column, so every activation
pattern of the data can be enumerated
(:func:`convexnn.patterns.enumerate_patterns`) and the convex program over all
of them is the network's global optimum. convexnn solves it, certifies it with
its KKT residuals and converts it to an ordinary ReLU network; Adam, from ten
random initialisations of a wide network, lands at local minima that are never
below it. Pruning then leaves the smallest network with the same objective that
the Carathéodory reduction finds.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch

from convexnn import ConvexReLURegressor
from convexnn.baselines import NonconvexReLURegressor
from convexnn.patterns import activation_patterns, enumerate_patterns, lift

rng = np.random.default_rng(0)
X = np.sort(rng.uniform(-2, 2, 12))[:, None]
y = np.sin(2 * X[:, 0]) + 0.1 * rng.standard_normal(12)
alpha = 1e-2

gates = enumerate_patterns(lift(X, hidden_bias=True))
convex = ConvexReLURegressor(alpha, gates=gates, tol=1e-8, max_iter=100_000)
convex.fit(X, y)
print(
    f"{len(gates)} activation patterns; objective {convex.objective_:.8f}, "
    f"KKT residuals {convex.stationarity_:.1e} / "
    f"{convex.constraint_violation_:.1e} / {convex.complementarity_:.1e}, "
    f"{convex.n_active_neurons_} neurons"
)

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # Adam stops on its step budget
    adam = NonconvexReLURegressor(
        alpha, n_neurons=24, n_restarts=10, max_iter=2000, random_state=0
    ).fit(X, y)
print(
    f"Adam, 10 restarts: best {adam.objective_:.8f}, worst "
    f"{adam.restart_objectives_.max():.8f}"
)

convex.prune(X)
print(
    f"pruned: {convex.n_neurons_removed_} neurons removed, "
    f"{convex.n_active_neurons_} left, objective {convex.objective_:.8f}"
)

grid = np.linspace(-2.2, 2.2, 400)[:, None]
figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
left.plot(X[:, 0], y, "ko", label="data")
left.plot(grid[:, 0], convex.predict(grid), color="tab:blue", label="convex optimum")
left.plot(
    grid[:, 0], adam.predict(grid), "--", color="tab:orange", label="Adam, best of 10"
)
left.set(xlabel="x", ylabel="y", title="The fitted networks")
left.legend()

right.bar(
    np.arange(10),
    adam.restart_objectives_ / convex.objective_ - 1,
    color="tab:orange",
)
right.set(
    xlabel="Adam restart",
    ylabel="objective / convex optimum − 1",
    yscale="symlog",
    title="Adam's local minima above the global one",
)
# the ReLU network against the convex model sum_i D_i X~ (v_i - w_i) + b
X_lifted = lift(X, hidden_bias=True)
masks = activation_patterns(X_lifted, convex.gates_)
v, w = convex.coef_[..., 0]
convex_outputs = np.einsum("np,nd,pd->n", masks, X_lifted, v - w) + convex.intercept_
with torch.no_grad():
    network = convex.to_torch()
    outputs = network(torch.from_numpy(X)).numpy().ravel()
print(
    "converted ReLU network against the convex model, largest difference on the "
    f"data: {np.abs(outputs - convex_outputs).max():.1e}"
)

plt.show()
