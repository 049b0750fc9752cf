"""The GPU check: CUDA tests, host synchronisations and the GPU rows, in one run.

One command for a machine with a CUDA device (``python benchmarks/gpu_check.py``,
under 8 minutes on one H100) that prints one table:

1. **tests**: the tests marked ``cuda`` (``tests/test_cuda.py``,
   ``tests/test_convex_relu_cuda.py``), passed / failed / skipped;
2. **host synchronisations**: small fits of every formulation on the device,
   run under ``torch.cuda.set_sync_debug_mode("warn")``; each synchronising
   operation (a ``.item()``, a ``float(tensor)``, a device-to-host copy) warns
   once, and the table gives their number per solver iteration;
3. **the GPU rows**: gated ReLU with ``n = 10⁶``, ``d = 100``, 1 000 patterns
   to relative gap 1e-4, and convex ReLU with ``n = 10⁵``, ``d = 50``,
   500 patterns to KKT residuals 1e-4 (each within ``--max-time`` seconds),
   with the time per iteration beside the time of the two operator products
   an iteration needs, measured alone on the same problem;
4. **the quick benchmark matrix** on the device beside the CPU
   (``benchmarks/matrix.py``'s quick problems).

Without a CUDA device it says so and exits with status 0; ``--device cpu``
runs the same measurements (without the synchronisation counts) on the CPU
at ``--scale`` of the sizes, which is how the test suite keeps this script
from rotting.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import matrix  # noqa: E402

CUDA_TESTS = ["tests/test_cuda.py", "tests/test_convex_relu_cuda.py"]


def cuda_tests(device: str) -> dict:
    """Run the tests marked ``cuda`` in a subprocess; their counts."""
    if device != "cuda":
        return {"check": "cuda tests", "result": "not run (no CUDA device)"}
    command = [sys.executable, "-m", "pytest", "-q", "-m", "cuda", *CUDA_TESTS]
    done = subprocess.run(
        command, cwd=HERE.parent, capture_output=True, text=True, timeout=240
    )
    summary = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    return {"check": "cuda tests", "result": summary or done.stderr[-200:]}


def synthetic(n: int, d: int, classes: int | None, seed: int = 0):
    """Standardised Gaussian features with a nonlinear target (regression) or
    its quantile classes."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    signal = np.sin(X[:, 0]) + np.abs(X[:, 1]) + 0.1 * rng.standard_normal(n)
    if classes is None:
        return X, signal
    edges = np.quantile(signal, np.linspace(0, 1, classes + 1)[1:-1])
    return X, np.searchsorted(edges, signal)


def estimator(formulation: str, classes: int | None, **params):
    """The convexnn estimator of ``formulation`` for a target with
    ``classes`` classes (``None``: regression)."""
    import convexnn

    kind = "Regressor" if classes is None else "Classifier"
    name = {"gated": "GatedReLU", "convex": "ConvexReLU"}[formulation] + kind
    return getattr(convexnn, name)(**params)


def synchronisations(device: str, n_samples: int) -> list[dict]:
    """Synchronising operations per iteration of small fits (``n_samples``
    samples) on ``device``."""
    fits = [
        ("gated", None),
        ("gated", 2),
        ("gated", 10),
        ("convex", None),
        ("convex", 2),
    ]
    rows = []
    for formulation, classes in fits:
        X, y = synthetic(n_samples, 20, classes)
        model = estimator(
            formulation, classes, n_patterns=50, device=device, random_state=0
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if device == "cuda":
                torch.cuda.set_sync_debug_mode("warn")
            try:
                model.fit(X, y)
            finally:
                if device == "cuda":
                    torch.cuda.set_sync_debug_mode("default")
        syncs = sum("synchroniz" in str(w.message) for w in caught)
        per_iteration = syncs / max(model.n_iter_, 1) if device == "cuda" else None
        rows.append(
            {
                "check": f"syncs {formulation} {_target(classes)}",
                "result": (
                    "not counted on the CPU"
                    if per_iteration is None
                    else f"{syncs} in {model.n_iter_} iterations "
                    f"({per_iteration:.1f} per iteration)"
                ),
            }
        )
    return rows


def _target(classes: int | None) -> str:
    return "regression" if classes is None else f"{classes} classes"


def _synchronise(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def product_seconds(model, X, device: str, repeats: int = 5) -> float:
    """Seconds of one product with the gated operator of ``model``'s gates and
    one with its adjoint, alone (the two products an iteration needs)."""
    from convexnn.patterns import lift
    from convexnn.problems import GatedOperator

    X_lifted = torch.as_tensor(lift(X, model.hidden_bias), device=device)
    gates = torch.as_tensor(model.gates_, device=device, dtype=X_lifted.dtype)
    operator = GatedOperator.from_gates(X_lifted, gates)
    coef = torch.randn(operator.n_coefs, 1, dtype=X_lifted.dtype, device=device)
    residual = torch.randn(operator.n_samples, 1, dtype=X_lifted.dtype, device=device)
    operator.rmatvec(operator.matvec(coef))  # warm-up
    _synchronise(device)
    start = time.perf_counter()
    for _ in range(repeats):
        operator.matvec(coef)
        operator.rmatvec(residual)
    _synchronise(device)
    return (time.perf_counter() - start) / repeats


def gpu_rows(device: str, scale: float, max_time: float) -> list[dict]:
    """The two large fits of the GPU targets (at ``scale`` of their sizes)."""
    rows = []
    problems = [
        ("gated", 1_000_000, 100, 1_000, 1e-4),
        ("convex", 100_000, 50, 500, 1e-4),
    ]
    for formulation, n, d, n_patterns, tol in problems:
        n, n_patterns = max(int(n * scale), 200), max(int(n_patterns * scale), 8)
        X, y = synthetic(n, d, 2)
        model = estimator(
            formulation,
            2,
            n_patterns=n_patterns,
            tol=tol,
            alpha=1e-3,
            device=device,
            dtype="float32",
            max_time=max_time,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            _synchronise(device)
            start = time.perf_counter()
            model.fit(X, y)
            _synchronise(device)
            seconds = time.perf_counter() - start
        per_iteration = seconds / max(model.n_iter_, 1)
        line = (
            f"{seconds:.1f} s, {model.n_iter_} iterations, "
            f"{'certified' if model.converged_ else 'NOT certified'} "
            f"({matrix.certificate(model):.1e})"
        )
        if formulation == "gated":
            products = product_seconds(model, X, device)
            line += (
                f"; {1e3 * per_iteration:.1f} ms per iteration against "
                f"{1e3 * products:.1f} ms for the two products "
                f"({100 * products / per_iteration:.0f}%)"
            )
        rows.append(
            {"check": f"{formulation} n={n} d={d} p={n_patterns}", "result": line}
        )
    return rows


def matrix_rows(device: str, timeout: float) -> list[dict]:
    """The quick matrix problems fitted on ``device`` and on the CPU."""
    rows = []
    for case in matrix.quick_cases():
        times = {}
        for where in dict.fromkeys([device, "cpu"]):
            X_train, _, y_train, _ = matrix.load_data(case)
            model = matrix.make_estimator(case, "convexnn")
            model.set_params(device=where, max_time=timeout)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                start = time.perf_counter()
                model.fit(X_train, y_train)
                times[where] = (time.perf_counter() - start, bool(model.converged_))
        seconds, certified = times[device]
        line = f"{seconds:.2f} s {'certified' if certified else 'NOT certified'}"
        if device != "cpu":
            line += f", CPU {times['cpu'][0]:.2f} s"
        rows.append({"check": f"matrix {case.name}", "result": line})
    return rows


def table(rows: list[dict]) -> str:
    width = max(len(row["check"]) for row in rows)
    return "\n".join(f"{row['check']:<{width}}  {row['result']}" for row in rows)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument(
        "--scale", type=float, default=1.0, help="fraction of the GPU rows' sizes"
    )
    parser.add_argument(
        "--max-time", type=float, default=90.0, help="seconds per large fit"
    )
    parser.add_argument(
        "--sync-samples", type=int, default=2_000, help="samples of the small fits"
    )
    parser.add_argument("--skip-matrix", action="store_true")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA device: nothing to check (run with --device cpu to try it)")
        return 0
    device = args.device
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    print(f"device: {name}; torch {torch.__version__}")
    rows = [cuda_tests(device), *synchronisations(device, args.sync_samples)]
    rows += gpu_rows(device, args.scale, args.max_time)
    if not args.skip_matrix:
        rows += matrix_rows(device, args.max_time)
    print(table(rows))
    failed = re.search(r"(\d+) failed", rows[0]["result"])
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
