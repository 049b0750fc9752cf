"""Shared test configuration: threads, Hypothesis profile, the ``cuda`` marker."""

import os

import pytest
import torch
from hypothesis import HealthCheck, settings

# The test problems are tiny, so a thread pool only adds overhead; on a shared,
# oversubscribed machine OpenMP's waiting workers made small solves up to 100×
# slower. One thread keeps the suite fast and its run time predictable.
torch.set_num_threads(1)

# Property tests are deterministic (the same examples every run) and few: each
# example is a fit to a tight tolerance.
settings.register_profile(
    "convexnn",
    derandomize=True,
    deadline=None,
    max_examples=5,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "convexnn"))


def pytest_collection_modifyitems(config, items):
    """Skip tests marked ``cuda`` where torch cannot see a CUDA device."""
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs CUDA: torch.cuda.is_available() is False")
    for item in items:
        if "cuda" in item.keywords:
            item.add_marker(skip)
