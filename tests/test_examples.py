"""Every example runs to completion and draws a figure (off-screen, in a scratch
folder), as the documentation's gallery runs it."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("plot_*.py"))

pytest.importorskip("matplotlib")

# Runs the example as a script with the non-interactive backend (plt.show()
# then shows nothing) and fails when it leaves no figure open.
RUNNER = """
import runpy, sys
import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt
plt.show = lambda *args, **kwargs: None
runpy.run_path(sys.argv[1], run_name="__main__")
sys.exit(0 if plt.get_fignums() else "the example drew no figure")
"""


@pytest.mark.slow
@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_example_runs(example, tmp_path):
    script = shutil.copy(example, tmp_path)
    completed = subprocess.run(
        [sys.executable, "-c", RUNNER, script],
        cwd=tmp_path,
        env={**os.environ, "MPLBACKEND": "Agg"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]


def test_every_example_is_in_the_gallery():
    """sphinx-gallery runs the scripts named plot_*.py; nothing else is an example."""
    scripts = sorted((Path(__file__).parents[1] / "examples").glob("*.py"))
    assert scripts == EXAMPLES
