"""
A regularisation path: neurons and test score against alpha
===========================================================

``alpha`` is the network's weight decay (``alpha/2`` on the squared weights),
and in the convex program it is the group-lasso penalty that switches whole
neurons off. Along a decreasing grid of ``alpha`` a
:class:`~convexnn.GatedReLURegressor` is refitted with ``warm_start=True``:
every fit keeps the gates of the first one and starts from the previous
solution, and each is certified to a relative duality gap below ``tol``. So
the path is exact at every point, not an approximation of a path.

On the diabetes data (442 patients, ten features) the picture is the classical
one: with a large ``alpha`` the network has few neurons and underfits; as
``alpha`` shrinks neurons switch on, the training score climbs to 1 and the
test score falls once the network starts to fit noise.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from convexnn import GatedReLURegressor

X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
scaler = StandardScaler().fit(X_train)
X_train, X_test = scaler.transform(X_train), scaler.transform(X_test)
# Standardised targets: alpha then means the same on any scale of y.
mean, scale = y_train.mean(), y_train.std()
y_train, y_test = (y_train - mean) / scale, (y_test - mean) / scale

# %%
# The path
# --------

alphas = np.geomspace(1.0, 1e-5, 21)
model = GatedReLURegressor(n_patterns=100, warm_start=True, random_state=0)
neurons, train_scores, test_scores, gaps = [], [], [], []
for alpha in alphas:
    model.set_params(alpha=alpha).fit(X_train, y_train)
    neurons.append(model.n_active_neurons_)
    train_scores.append(model.score(X_train, y_train))
    test_scores.append(model.score(X_test, y_test))
    gaps.append(model.dual_gap_)

best = int(np.argmax(test_scores))
print(
    f"{model.n_patterns_} patterns; largest relative duality gap on the path "
    f"{max(gaps):.1e}; best test R² {test_scores[best]:.3f} at alpha = "
    f"{alphas[best]:.2g} with {neurons[best]} neurons"
)

# %%
# In practice ``alpha`` is chosen by cross-validation on the training data
# (see the grid-search example), not on the test set as this picture does.

figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
left.plot(alphas, neurons, "o-", color="tab:blue")
left.set(
    xscale="log",
    xlabel="alpha",
    ylabel="active neurons",
    title="Neurons of the optimal network",
)
right.plot(alphas, train_scores, "o-", color="tab:grey", label="training R²")
right.plot(alphas, test_scores, "o-", color="tab:green", label="test R²")
right.axvline(alphas[best], color="tab:green", linestyle=":", label="best test R²")
right.set(
    xscale="log",
    xlabel="alpha",
    ylabel="R²",
    ylim=(-0.5, 1.05),
    title="Fit and generalisation",
)
right.legend()
for axis in (left, right):
    axis.invert_xaxis()  # the path runs from strong to weak regularisation
plt.show()
