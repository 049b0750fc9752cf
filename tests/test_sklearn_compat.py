"""The scikit-learn compatibility module: one door for private helpers."""

import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import KFold, StratifiedKFold

import convexnn
from convexnn._sklearn_compat import check_shuffled_cv

PRIVATE_IMPORT = re.compile(
    r"^\s*from sklearn[\w.]*\s+import\s+[^\n]*\b_\w+|^\s*from sklearn[\w.]*\._\w+",
    re.MULTILINE,
)


def test_private_scikit_learn_helpers_are_imported_in_one_module():
    package = Path(convexnn.__file__).parent
    importers = sorted(
        str(path.relative_to(package))
        for path in package.rglob("*.py")
        if PRIVATE_IMPORT.search(path.read_text(encoding="utf-8"))
    )
    assert importers == ["_sklearn_compat.py"]


@pytest.mark.parametrize("cv", [None, 3])
@pytest.mark.parametrize(
    "classifier, y, expected",
    [
        (True, np.arange(30) % 3, StratifiedKFold),
        (True, np.linspace(0, 1, 30), KFold),  # continuous targets: no strata
        (False, np.arange(30) % 3, KFold),
        (True, None, KFold),
    ],
)
def test_int_cv_gives_shuffled_folds_of_the_right_kind(cv, classifier, y, expected):
    splitter = check_shuffled_cv(cv, y, classifier=classifier, random_state=0)
    reference = expected(cv or 5, shuffle=True, random_state=0)
    X = np.zeros((30, 1))
    for (train, test), (train_ref, test_ref) in zip(
        splitter.split(X, y), reference.split(X, y), strict=True
    ):
        np.testing.assert_array_equal(train, train_ref)
        np.testing.assert_array_equal(test, test_ref)


def test_a_splitter_passes_through():
    splitter = KFold(4)
    assert check_shuffled_cv(splitter, classifier=True) is splitter
