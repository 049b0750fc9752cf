"""What a fit leaves behind, for every public estimator.

* Fitted attributes are NumPy arrays and plain Python objects: no tensor, device
  or module anywhere inside the estimator, so a model fitted on a GPU pickles
  and predicts on a machine without one (``tests/test_cuda.py`` makes the round
  trip where a GPU is present).
* torch's global settings — intra-op threads, default dtype, deterministic
  algorithms, gradient mode, and the global random generator — are as the
  user left them after ``fit``, ``predict`` and ``score``, also after a fit
  that fails, whatever they were.
"""

import pickle
import pickletools

import numpy as np
import pytest
import torch
from sklearn.base import is_classifier

import convexnn
import convexnn.baselines
from convexnn import (
    ConvexReLUClassifier,
    ConvexReLUClassifierCV,
    ConvexReLURegressor,
    ConvexReLURegressorCV,
    GatedReLUClassifier,
    GatedReLUClassifierCV,
    GatedReLURegressor,
    GatedReLURegressorCV,
    LLMLassoClassifier,
    LLMLassoRegressor,
    ReflectionLassoRegressor,
    WeightedLasso,
    WeightedLassoCV,
)
from convexnn._backend import Backend
from convexnn.baselines import (
    NonconvexGatedReLUClassifier,
    NonconvexGatedReLURegressor,
    NonconvexReLUClassifier,
    NonconvexReLURegressor,
)
from convexnn.scoring import PrecomputedScorer

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

SMALL = {"device": "cpu", "max_iter": 50}
NETWORK = {**SMALL, "n_patterns": 6, "random_state": 0}
LASSO_CV = {"device": "cpu", "n_alphas": 3, "cv": 2}
NETWORK_CV = {**NETWORK, "n_alphas": 3, "cv": 2}
SCORER = PrecomputedScorer([0.2, 1.0, 0.5])
ESTIMATORS = [
    GatedReLURegressor(**NETWORK),
    GatedReLUClassifier(**NETWORK),
    ConvexReLURegressor(**NETWORK),
    ConvexReLUClassifier(**NETWORK),
    GatedReLURegressorCV(**NETWORK_CV),
    GatedReLUClassifierCV(**NETWORK_CV),
    ConvexReLURegressorCV(**NETWORK_CV),
    ConvexReLUClassifierCV(**NETWORK_CV),
    NonconvexGatedReLURegressor(**NETWORK),
    NonconvexGatedReLUClassifier(**NETWORK),
    NonconvexReLURegressor(n_neurons=6, random_state=0, **SMALL),
    NonconvexReLUClassifier(n_neurons=6, random_state=0, **SMALL),
    WeightedLasso(0.01, **SMALL),
    WeightedLassoCV(**LASSO_CV),
    LLMLassoRegressor(SCORER, trust_grid=(0.0, 1.0), random_state=0, **LASSO_CV),
    LLMLassoClassifier(SCORER, trust_grid=(0.0, 1.0), random_state=0, **LASSO_CV),
    ReflectionLassoRegressor(alpha=0.1, tol=1e-4, device="cpu"),
]
every_estimator = pytest.mark.parametrize(
    "estimator", ESTIMATORS, ids=lambda estimator: type(estimator).__name__
)


def test_every_public_estimator_is_checked():
    public = {
        name for name in convexnn.__all__ if isinstance(getattr(convexnn, name), type)
    }
    public |= set(convexnn.baselines.__all__)
    assert {type(estimator).__name__ for estimator in ESTIMATORS} == public


def training_data(estimator):
    rng = np.random.default_rng(0)
    n_features = 1 if isinstance(estimator, ReflectionLassoRegressor) else 3
    X = rng.standard_normal((40, n_features))
    y = np.sin(2 * X[:, 0]) + X.sum(axis=1)
    if is_classifier(estimator):
        return X, (y > np.median(y)).astype(int)
    return X, y


TORCH_TYPES = (torch.Tensor, torch.device, torch.nn.Module, torch.Generator)


def torch_objects(value, path, seen):
    """Paths to the torch objects inside ``value`` (containers, NumPy object
    arrays and the attributes of other objects, recursively)."""
    if isinstance(value, TORCH_TYPES):
        return [path]
    if id(value) in seen or isinstance(value, (str, bytes, type)):
        return []
    seen.add(id(value))
    if isinstance(value, dict):
        items = value.items()
    elif isinstance(value, (list, tuple, set, frozenset)):
        items = enumerate(value)
    elif isinstance(value, np.ndarray) and value.dtype == object:
        items = enumerate(value.ravel())
    elif hasattr(value, "__dict__") and not callable(value):
        items = vars(value).items()
    else:
        return []
    found = []
    for key, item in items:
        found += torch_objects(item, f"{path}[{key!r}]", seen)
    return found


def torch_globals(data: bytes) -> set[str]:
    """The torch modules a pickle imports from (tensors, devices, dtypes...)."""
    modules = set()
    strings = []
    for opcode, argument, _ in pickletools.genops(data):
        if opcode.name in ("SHORT_BINUNICODE", "BINUNICODE", "UNICODE"):
            strings.append(argument)
        elif opcode.name == "STACK_GLOBAL":
            modules.add(strings[-2])
        elif opcode.name == "GLOBAL":
            modules.add(argument.split(" ")[0])
    return {module for module in modules if module.split(".")[0] == "torch"}


@every_estimator
def test_fitted_estimator_holds_no_torch_objects(estimator):
    X, y = training_data(estimator)
    estimator.fit(X, y)
    assert torch_objects(vars(estimator), type(estimator).__name__, set()) == []
    assert torch_globals(pickle.dumps(estimator)) == set()


def test_the_searches_find_torch_objects():
    # the checks above can fail: a tensor deep inside is found by both
    holder = GatedReLURegressor()
    holder.fitted_ = {"runs": [np.array([1.0], dtype=object), torch.zeros(1)]}
    assert torch_objects(vars(holder), "model", set()) == [
        "model['fitted_']['runs'][1]"
    ]
    assert "torch._utils" in torch_globals(pickle.dumps(holder))


def global_settings():
    return {
        "threads": torch.get_num_threads(),
        "default dtype": torch.get_default_dtype(),
        "deterministic": torch.are_deterministic_algorithms_enabled(),
        "grad": torch.is_grad_enabled(),
        "random state": torch.random.get_rng_state(),
    }


def apply(settings):
    torch.set_num_threads(settings["threads"])
    torch.set_default_dtype(settings["default dtype"])
    torch.use_deterministic_algorithms(settings["deterministic"])
    torch.set_grad_enabled(settings["grad"])
    torch.random.set_rng_state(settings["random state"])


def assert_unchanged(before):
    after = global_settings()
    assert torch.equal(after.pop("random state"), before["random state"])
    assert after == {k: v for k, v in before.items() if k != "random state"}


@pytest.fixture(params=["as the suite runs", "all changed"])
def user_settings(request):
    """torch's settings as a user may have left them, restored afterwards."""
    previous = global_settings()
    if request.param == "all changed":
        # two threads (small fits choose one), float64 by default, no autograd
        apply(
            {
                "threads": 2,
                "default dtype": torch.float64,
                "deterministic": True,
                "grad": False,
                "random state": torch.manual_seed(1).get_state(),
            }
        )
    try:
        yield global_settings()
    finally:
        apply(previous)


@every_estimator
def test_fit_predict_and_score_leave_torch_settings_alone(estimator, user_settings):
    X, y = training_data(estimator)
    estimator.fit(X, y)
    assert_unchanged(user_settings)
    estimator.predict(X)
    estimator.score(X, y)
    assert_unchanged(user_settings)


@every_estimator
def test_failed_fit_leaves_torch_settings_alone(estimator, user_settings, monkeypatch):
    # input that passes validation, then fails inside the fit, where the fit's
    # own settings (threads, inference mode) are in force
    def failing_tensor(self, array):
        raise RuntimeError("fails after validation")

    monkeypatch.setattr(Backend, "tensor", failing_tensor)
    with pytest.raises(RuntimeError, match="fails after validation"):
        estimator.fit(*training_data(estimator))
    assert_unchanged(user_settings)
