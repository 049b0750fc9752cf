"""Gated ReLU on a million samples, beside scikit-learn's linear classifiers.

One command builds a seeded ``make_classification`` problem (``--n`` training
samples, default one million, and ``--n-test`` test samples; ``--features``
features, standardised, stored in float32, so that ``X`` takes
``4 · n · d`` bytes), then fits, each in a fresh process of its own:

* **load only**: the worker that loads the data and imports torch and
  convexnn, and fits nothing (the floor of every row's memory);
* **convexnn**: :class:`~convexnn.GatedReLUClassifier` (logistic loss,
  ``--patterns`` gates, ``dtype="float32"``) to the relative duality gap
  ``--tol``;
* **LogisticRegression** and **SGDClassifier** (logistic loss) from
  scikit-learn, with their defaults, on the same data.

It prints a table: fit time, the ratio of convexnn's fit time to each
baseline's, convexnn's certified gap (and iterations), test accuracy, and the
peak resident memory of each process (``VmHWM`` of ``/proc/self/status``, read
after the fit, the high-water mark of that process alone; ``ru_maxrss`` where
``/proc`` is missing). Set ``OMP_NUM_THREADS`` to pin the threads; ``--n``
runs a smaller problem.

Run ``OMP_NUM_THREADS=1 python benchmarks/bench_million.py`` (``--help`` for
the knobs).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np

METHODS = ("load only", "convexnn", "LogisticRegression", "SGDClassifier")


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def make_data(folder: str, n: int, n_test: int, n_features: int, seed: int) -> None:
    """Write the standardised float32 train and test sets to ``folder``."""
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=n + n_test,
        n_features=n_features,
        n_informative=n_features // 2,
        n_redundant=n_features // 5,
        flip_y=0.05,
        random_state=seed,
    )
    X = X.astype(np.float32)
    X -= X[:n].mean(0)
    X /= X[:n].std(0)
    for name, array in (("X", X[:n]), ("y", y[:n]), ("Xt", X[n:]), ("yt", y[n:])):
        np.save(os.path.join(folder, f"{name}.npy"), array)


def fit(method: str, folder: str, args) -> dict:
    """Fit ``method`` on the data in ``folder``, in this process."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression, SGDClassifier

    from convexnn import GatedReLUClassifier

    X, y = (np.load(os.path.join(folder, f"{name}.npy")) for name in ("X", "y"))
    models = {
        "load only": None,
        "convexnn": GatedReLUClassifier(
            alpha=args.alpha,
            n_patterns=args.patterns,
            tol=args.tol,
            max_iter=args.max_iter,
            dtype="float32",
            device="cpu",
            random_state=args.seed,
            verbose=args.verbose,
        ),
        "LogisticRegression": LogisticRegression(),
        "SGDClassifier": SGDClassifier(loss="log_loss", random_state=args.seed),
    }
    model = models[method]
    start = time.perf_counter()
    if model is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y)
    elapsed = time.perf_counter() - start
    row = dict(time=elapsed, peak=peak_rss_mb())
    if model is None:
        return row
    Xt, yt = (np.load(os.path.join(folder, f"{name}.npy")) for name in ("Xt", "yt"))
    row["test_accuracy"] = float(model.score(Xt, yt))
    if method == "convexnn":
        row.update(
            gap=model.dual_gap_,
            converged=bool(model.converged_),
            n_iter=model.n_iter_,
            neurons=model.n_active_neurons_,
        )
    return row


def run_worker(method: str, folder: str, argv: list[str]) -> dict:
    """``fit(method)`` in a fresh Python process (its output passes through);
    the row it writes to ``folder``."""
    command = [sys.executable, __file__, *argv, "--worker", method, "--data", folder]
    subprocess.run(command, check=True)
    with open(os.path.join(folder, "row.json")) as answer:
        return json.load(answer)


def table(rows: dict[str, dict]) -> str:
    reference = rows.get("convexnn", {}).get("time", np.nan)
    lines = [
        f"{'method':<20}{'fit (s)':>10}{'ratio':>11}{'gap':>10}{'iter':>7}"
        f"{'test acc.':>11}{'peak RSS (MiB)':>15}"
    ]
    for method, row in rows.items():
        ratio = reference / row["time"] if method not in METHODS[:2] else None
        gap = f"{row['gap']:.1e}" if "gap" in row else "-"
        n_iter = str(row.get("n_iter", "-"))
        accuracy = f"{row['test_accuracy']:.4f}" if "test_accuracy" in row else "-"
        lines.append(
            f"{method:<20}{row['time']:>10.2f}"
            f"{'-' if ratio is None else f'{ratio:.1f}x':>11}{gap:>10}{n_iter:>7}"
            f"{accuracy:>11}{row['peak']:>15.0f}"
        )
    return "\n".join(lines)


def parse(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="training samples")
    parser.add_argument("--n-test", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=50)
    parser.add_argument("--patterns", type=int, default=200)
    parser.add_argument("--alpha", type=float, default=1e-2)
    parser.add_argument("--tol", type=float, default=1e-4)
    parser.add_argument("--max-iter", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--verbose", type=int, default=0, help="convexnn's verbose")
    parser.add_argument("--methods", default=",".join(METHODS), help="comma-separated")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    args = parse(argv)
    if args.worker:
        row = {}
        if args.worker == "data":
            make_data(args.data, args.n, args.n_test, args.features, args.seed)
        else:
            row = fit(args.worker, args.data, args)
        with open(os.path.join(args.data, "row.json"), "w") as answer:
            json.dump(row, answer)
        return
    print(
        f"n={args.n}, d={args.features}, {args.patterns} gates, alpha={args.alpha}, "
        f"tol={args.tol}, float32; OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}"
    )
    with tempfile.TemporaryDirectory() as folder:
        run_worker("data", folder, argv)  # in a worker too: this process stays small
        rows = {}
        for method in args.methods.split(","):
            rows[method] = run_worker(method, folder, argv)
            print(f"{method}: {rows[method]}", flush=True)
    print(table(rows))


if __name__ == "__main__":
    main()
