"""Every example runs to completion and draws a figure (off-screen, in a scratch
folder), as the documentation's gallery runs it; the scripts for ``torchrun``,
which the gallery shows without running, run under it."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = sorted((Path(__file__).parents[1] / "examples").glob("plot_*.py"))
TORCHRUN = sorted((Path(__file__).parents[1] / "examples").glob("torchrun_*.py"))
#: ``torchrun --standalone --nproc_per_node=2`` with this interpreter
TORCHRUN_COMMAND = (
    sys.executable,
    "-m",
    "torch.distributed.run",
    "--standalone",
    "--nproc_per_node=2",
)

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
    """sphinx-gallery runs the scripts named plot_*.py and shows those named
    torchrun_*.py; nothing else is an example."""
    scripts = sorted((Path(__file__).parents[1] / "examples").glob("*.py"))
    assert scripts == sorted(EXAMPLES + TORCHRUN)


@pytest.mark.slow
@pytest.mark.parametrize("script", TORCHRUN, ids=lambda path: path.stem)
def test_torchrun_script_runs_on_two_processes(script):
    """As its docstring says to run it: ``torchrun --standalone
    --nproc_per_node=2`` (CPU processes here, with gloo)."""
    root = Path(__file__).parents[1]
    completed = subprocess.run(
        [*TORCHRUN_COMMAND, str(script)],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root), "CUDA_VISIBLE_DEVICES": ""},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "2 processes: objective" in completed.stdout
