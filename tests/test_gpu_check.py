"""benchmarks/gpu_check.py runs end to end on the CPU at a tiny scale, so that
it cannot rot before a GPU runs it; on this machine without CUDA its default
run says so and succeeds."""

import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))
import gpu_check


def test_every_check_runs_on_the_cpu_and_the_large_fits_are_certified(capsys):
    argv = ["--device", "cpu", "--scale", "0.0005", "--max-time", "60"]
    status = gpu_check.main([*argv, "--sync-samples", "100", "--skip-matrix"])
    assert status == 0
    printed = capsys.readouterr().out
    assert "cuda tests" in printed and "not run (no CUDA device)" in printed
    assert printed.count("not counted on the CPU") == 5
    large = [line for line in printed.splitlines() if " n=" in line]
    assert [line.split()[0] for line in large] == ["gated", "convex"]
    assert all("NOT certified" not in line and "certified" in line for line in large)
    assert "per iteration against" in large[0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is present")
def test_without_cuda_the_default_run_says_so(capsys):
    assert gpu_check.main([]) == 0
    assert "no CUDA device" in capsys.readouterr().out
