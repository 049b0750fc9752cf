"""
A one-lag autoregression of a neuron's membrane potential, fitted exactly
=========================================================================

The membrane potential of a spiking neuron (a recording that ships with
matplotlib as sample data, so nothing is downloaded) is a real 1-D signal with
a strongly nonlinear one-step map: below threshold the potential creeps up,
after a spike it falls back. We fit the autoregression
``v[t] ≈ f(v[t − 1])`` with deep narrow networks of one input, trained to
their *global* optimum by :class:`~convexnn.ReflectionLassoRegressor`:

* depth 2, ReLU (ordinary weight decay): a Lasso over ramps with kinks at the
  data;
* depth 3, absolute value: a Lasso whose dictionary adds *reflection*
  features, with kinks at reflections of data points about each other and at
  the midpoints between them — points that are not data points at all.

The plot shows both learned functions with their kinks; the depth-3 kinks
that are reflections (``is_reflection_``) are marked apart. Each fit comes
with a duality-gap certificate (``dual_gap_``) and a check of the dual
constraint over a dense grid of the network's features (``certify()``), so
the networks drawn are the best of their architecture for this data, not
merely what an optimiser happened to find.
"""

import matplotlib.cbook
import matplotlib.pyplot as plt
import numpy as np

from convexnn import ReflectionLassoRegressor

# The membrane potential (12 000 float32 samples), during the spiking stretch,
# subsampled to one point in 150 so that successive points are a spike apart.
path = matplotlib.cbook.get_sample_data("membrane.dat", asfileobj=False)
potential = np.fromfile(path, dtype="<f4").astype(np.float64)
signal = potential[1500:10500:150]
x, y = signal[:-1], signal[1:]  # v[t − 1] → v[t]

models = {
    "depth 2, ReLU": ReflectionLassoRegressor(depth=2, activation="relu", alpha=2e-4),
    "depth 3, abs": ReflectionLassoRegressor(depth=3, activation="abs", alpha=2e-4),
}
for name, model in models.items():
    model.fit(x, y)
    certificate = model.certify()
    print(
        f"{name:14s} objective {model.objective_:.6e}  gap {model.dual_gap_:.1e}  "
        f"units {model.n_neurons_:3d}  grid violation {certificate.violation:.1e}"
    )

kinks = np.concatenate([m.breakpoints_.ravel() for m in models.values()])
kinks = kinks[np.isfinite(kinks)]
grid = np.linspace(min(x.min(), kinks.min()), max(x.max(), kinks.max()), 1000)
figure, axes = plt.subplots(1, 2, figsize=(12, 4.5), constrained_layout=True)
axes[0].plot(potential, color="0.5", linewidth=0.6)
axes[0].plot(np.arange(1500, 10500, 150), signal, ".", color="tab:blue")
axes[0].set(
    xlabel="sample", ylabel="membrane potential", title="The signal (dots: used)"
)

right = axes[1]
right.plot(x, y, ".", color="0.6", label="pairs (v[t − 1], v[t])")
for (name, model), color in zip(models.items(), ["tab:blue", "tab:red"], strict=True):
    right.plot(grid, model.predict(grid), color=color, label=name)
    kinks = model.breakpoints_[np.isfinite(model.breakpoints_)]
    reflections = model.breakpoints_[model.is_reflection_]
    on_data = np.setdiff1d(kinks, reflections)
    right.plot(on_data, model.predict(on_data), "o", color=color, markersize=4)
    if len(reflections):
        right.plot(
            reflections,
            model.predict(reflections),
            "D",
            markerfacecolor="none",
            color=color,
            markersize=8,
            label=f"{name}: kinks at reflections",
        )
right.set(
    xlabel="v[t − 1]",
    ylabel="v[t]",
    title="Learned one-step maps (dots: kinks at data points)",
)
right.legend(fontsize=8)

plt.show()
