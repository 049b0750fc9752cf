"""
Tuning alpha and n_patterns with GridSearchCV
=============================================

A convexnn estimator is a scikit-learn estimator: it goes in a
:class:`~sklearn.pipeline.Pipeline` after a
:class:`~sklearn.preprocessing.StandardScaler` (convexnn never rescales
features itself) and :class:`~sklearn.model_selection.GridSearchCV` tunes it
like any other model, with parameter names prefixed by the step's name.

Two parameters matter most for :class:`~convexnn.GatedReLUClassifier`:
``alpha``, the weight decay, and ``n_patterns``, how many gates are sampled
— each distinct activation pattern of the data they cut is one block of the
convex program, so more patterns give a richer network (and the optimum over
them can only go down) at the cost of a larger problem. Every fit in the
search is certified to its own relative duality gap, so differences between
grid points come from the models, not from how far an optimiser ran.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.model_selection import GridSearchCV, StratifiedKFold, train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from convexnn import GatedReLUClassifier

X, y = load_breast_cancer(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)

pipeline = make_pipeline(StandardScaler(), GatedReLUClassifier(random_state=0))
alphas = [1e-4, 1e-3, 1e-2, 1e-1]
patterns = [5, 20, 80]
search = GridSearchCV(
    pipeline,
    {"gatedreluclassifier__alpha": alphas, "gatedreluclassifier__n_patterns": patterns},
    cv=StratifiedKFold(5, shuffle=True, random_state=0),
)
search.fit(X_train, y_train)

best = search.best_estimator_[-1]
print(
    f"best: alpha = {best.alpha:g}, n_patterns = {best.n_patterns}; CV accuracy "
    f"{search.best_score_:.3f}, test accuracy {search.score(X_test, y_test):.3f}"
)
print(
    f"refitted on the whole training set: relative duality gap {best.dual_gap_:.1e}, "
    f"{best.n_patterns_} distinct patterns, {best.n_active_neurons_} neurons"
)

# %%
# The grid
# --------
#
# Left, the mean cross-validated accuracy of every pair; right, the mean fit
# time against ``n_patterns`` (wall clock on the machine that built this
# page): the cost of a richer network.

results = search.cv_results_
shape = (len(alphas), len(patterns))  # GridSearchCV varies the last key fastest
accuracy = np.asarray(results["mean_test_score"]).reshape(shape)
fit_time = np.asarray(results["mean_fit_time"]).reshape(shape)

figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
image = left.imshow(accuracy, cmap="viridis")
for (row, column), value in np.ndenumerate(accuracy):
    left.text(column, row, f"{value:.3f}", ha="center", va="center", color="w")
left.set(
    xticks=range(len(patterns)),
    xticklabels=patterns,
    yticks=range(len(alphas)),
    yticklabels=[f"{alpha:g}" for alpha in alphas],
    xlabel="n_patterns",
    ylabel="alpha",
    title="Mean CV accuracy",
)
figure.colorbar(image, ax=left)
for alpha, times in zip(alphas, fit_time, strict=True):
    right.plot(patterns, times, "o-", label=f"alpha = {alpha:g}")
right.set(
    xticks=patterns,
    yscale="log",
    xlabel="n_patterns",
    ylabel="mean fit time (s)",
    title="What more patterns cost",
)
right.legend()
plt.show()
