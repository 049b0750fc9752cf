"""Grid search on a cluster: joblib's Dask and Ray backends give the sequential result.

``GridSearchCV`` ships each (candidate, fold) fit to the cluster's worker
processes, which unpickle the pipeline, fit it and send back its scores. The
fits are seeded (``random_state``), so every score must equal the sequential
run's. A scorer that also reports the worker's process id shows that the fits
really ran elsewhere. The tests skip when ``distributed`` (the ``dask`` extra)
or ``ray`` (the ``ray`` extra) is not installed.
"""

import os
import sys

import joblib
import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from convexnn import ConvexReLUClassifier, GatedReLUClassifier

SMALL = {"n_patterns": 8, "device": "cpu", "random_state": 0}
PIPELINES = {
    "gated": make_pipeline(StandardScaler(), GatedReLUClassifier(**SMALL)),
    "convex": make_pipeline(StandardScaler(), ConvexReLUClassifier(**SMALL)),
}
ALPHAS = [1e-2, 1e-1]


def accuracy_and_process(estimator, X, y):
    """The accuracy, and the id of the process that fitted and scored."""
    return {"accuracy": estimator.score(X, y), "process": os.getpid()}


def grid_search(name):
    step = PIPELINES[name].steps[-1][0]
    return GridSearchCV(
        PIPELINES[name],
        {f"{step}__alpha": ALPHAS},
        cv=3,
        scoring=accuracy_and_process,
        refit="accuracy",
        n_jobs=2,
    )


@pytest.fixture(scope="module")
def data():
    return make_classification(n_samples=60, n_features=4, random_state=0)


@pytest.fixture(scope="module")
def sequential(data):
    """The search run in this process, one fit after another."""
    with joblib.parallel_backend("sequential"):
        return {name: grid_search(name).fit(*data) for name in PIPELINES}


def assert_same_search(search, reference):
    scores = search.cv_results_["mean_test_accuracy"]
    expected = reference.cv_results_["mean_test_accuracy"]
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-12)
    for split in range(3):
        key = f"split{split}_test_accuracy"
        np.testing.assert_allclose(
            search.cv_results_[key], reference.cv_results_[key], rtol=0, atol=1e-12
        )
    assert search.best_params_ == reference.best_params_
    # every fit ran in a worker process, none in this one
    processes = np.concatenate(
        [search.cv_results_[f"split{split}_test_process"] for split in range(3)]
    )
    assert os.getpid() not in processes


@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip(
        "distributed", reason="needs dask.distributed: pip install -e '.[dask]'"
    )
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


@pytest.fixture(scope="module")
def ray_cluster():
    ray = pytest.importorskip("ray", reason="needs ray: pip install -e '.[ray]'")
    from ray.util.joblib import register_ray

    # the workers import this module, for the scorer, and convexnn as this
    # process does
    path = [os.path.dirname(__file__), *sys.path]
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": os.pathsep.join(path)}},
    )
    register_ray()
    try:
        yield ray
    finally:
        ray.shutdown()


@pytest.mark.parametrize("name", PIPELINES)
def test_dask_search_equals_the_sequential_search(dask_cluster, sequential, data, name):
    with joblib.parallel_backend("dask"):
        search = grid_search(name).fit(*data)
    assert_same_search(search, sequential[name])


@pytest.mark.parametrize("name", PIPELINES)
def test_ray_search_equals_the_sequential_search(ray_cluster, sequential, data, name):
    with joblib.parallel_backend("ray"):
        search = grid_search(name).fit(*data)
    assert_same_search(search, sequential[name])
