"""Sphinx configuration.

Build with warnings as errors (the documentation extra installs what it needs;
the gallery runs every script in ``examples/``), as the README says::

    pip install -e ".[docs]"
    python -m sphinx -W --keep-going -b html doc doc/_build/html

The build needs no network: links into the documentation of Python, NumPy,
scikit-learn and PyTorch resolve through the inventories in ``inventories/``,
plain-text lists of the objects these pages cite, compressed into Sphinx's
inventory format at the start of each build.
"""

import zlib
from pathlib import Path

import convexnn

project = "convexnn"
author = "The convexnn developers"
copyright = "the convexnn developers"
release = convexnn.__version__
version = ".".join(release.split(".")[:2])

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
exclude_patterns = ["_build", "inventories"]

autosummary_generate = True
# Inherited methods (fit, predict, to_torch, get_params, ...) are listed on
# each estimator's page; those of torch.nn.Module are left to PyTorch's pages.
autodoc_default_options = {"members": True, "inherited-members": "Module"}
# numpydoc lists a class's methods and attributes itself; autosummary pages
# for each of them are not generated, so the lists are plain tables.
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "within_subsection_order": "FileNameSortKey",
    "remove_config_comments": True,
    "download_all_examples": False,
    # a gallery build that cannot run an example fails, instead of showing
    # its traceback as the example's output
    "abort_on_example_error": True,
}

html_theme = "pydata_sphinx_theme"
html_title = f"convexnn {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "secondary_sidebar_items": ["page-toc"],
}
html_sidebars = {"**": ["sidebar-nav-bs"]}
html_show_sourcelink = False

INVENTORIES = {
    "python": "https://docs.python.org/3",
    "numpy": "https://numpy.org/doc/stable",
    "sklearn": "https://scikit-learn.org/stable",
    "torch": "https://docs.pytorch.org/docs/stable",
}
_source = Path(__file__).parent / "inventories"
_built = Path(__file__).parent / "_build" / "inventories"


def _compress(project_name: str) -> str:
    """Write ``inventories/<name>.txt`` as a version-2 Sphinx inventory.

    Each text line is ``name domain:role priority uri display-name`` (the
    body of an ``objects.inv``); the file goes to ``_build/inventories``.
    """
    body = (_source / f"{project_name}.txt").read_text(encoding="utf-8")
    header = (
        "# Sphinx inventory version 2\n"
        f"# Project: {project_name}\n# Version: \n"
        "# The remainder of this file is compressed using zlib.\n"
    )
    _built.mkdir(parents=True, exist_ok=True)
    path = _built / f"{project_name}.inv"
    path.write_bytes(header.encode() + zlib.compress(body.encode()))
    return str(path)


intersphinx_mapping = {
    name: (url, _compress(name)) for name, url in INVENTORIES.items()
}
