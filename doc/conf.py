"""Sphinx configuration: ``python -m sphinx -b html doc doc/_build/html``."""

import convexnn

project = "convexnn"
author = "The convexnn developers"
release = convexnn.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",  # numpydoc-style docstrings
    "sphinx.ext.mathjax",
    "sphinx.ext.intersphinx",
]
autosummary_generate = True
autodoc_default_options = {"members": True, "inherited-members": False}
napoleon_google_docstring = False
napoleon_numpy_docstring = True
intersphinx_mapping = {
    "python": ("https://docs.python.org/3", None),
    "sklearn": ("https://scikit-learn.org/stable", None),
    "torch": ("https://pytorch.org/docs/stable", None),
}
exclude_patterns = ["_build"]
html_theme = "alabaster"
