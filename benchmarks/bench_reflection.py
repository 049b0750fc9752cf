"""Reflection Lasso on 1-D data: convexnn against CVXPY + Clarabel.

The issue's targets: depth-2 ReLU networks on N = 100 000 points fitted to a
relative duality gap of 1e-6 in under 5 s and 1 GB, depth 3 on N = 2 000 in
under 30 s. Data: ``x ~ U(-2, 2)``, ``y = sin(3x) + 0.3 ε``, ``alpha = 1e-3``.

Each fit runs in a fresh process (so that peak memory is its own): the wall
time of ``fit``, the peak resident memory it added (``ru_maxrss`` after the
fit minus the resident memory before it), the relative duality gap reached,
the objective and the number of units. The baseline is the same Lasso over
the explicit dictionary (``A`` formed densely) solved by CVXPY with Clarabel,
at every size up to the largest it solves within ``--cvxpy-budget`` seconds;
ratios against convexnn are printed where both ran. A fit that exceeds its
time budget is reported as such, with no numbers.

Run ``python benchmarks/bench_reflection.py`` (``--quick`` for small sizes);
set ``OMP_NUM_THREADS=1`` on a shared machine.
"""

from __future__ import annotations

import argparse
import multiprocessing
import resource
import time
import warnings

import numpy as np

ALPHA = 1e-3


def data(n_samples: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.uniform(-2, 2, n_samples)
    return x, np.sin(3 * x) + 0.3 * rng.normal(size=n_samples)


def _resident_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 1e6


def _convexnn(n_samples, depth, max_iter):
    from convexnn import ReflectionLassoRegressor

    x, y = data(n_samples)
    model = ReflectionLassoRegressor(
        depth, "relu", ALPHA, tol=1e-6, max_iter=max_iter, device="cpu"
    )
    before = _resident_mb()
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(x, y)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3 - before
    return {
        "seconds": seconds,
        "memory_mb": max(peak, 0.0),
        "gap": model.dual_gap_,
        "objective": model.objective_,
        "units": model.n_neurons_,
    }


def _cvxpy(n_samples, depth):
    import cvxpy as cp

    from convexnn.dictionaries import build_dictionary

    x, y = data(n_samples)
    before = _resident_mb()
    start = time.perf_counter()
    A = build_dictionary(x, depth, "relu").evaluate(x)
    z, intercept = cp.Variable(A.shape[1]), cp.Variable()
    objective = cp.sum_squares(A @ z + intercept - y) / (2 * n_samples)
    problem = cp.Problem(cp.Minimize(objective + ALPHA * cp.norm1(z)))
    problem.solve(solver=cp.CLARABEL)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3 - before
    return {
        "seconds": seconds,
        "memory_mb": max(peak, 0.0),
        "objective": problem.value,
        "units": int((np.abs(z.value) > 1e-8 * np.abs(z.value).max()).sum()),
    }


def _child(queue, function, arguments):
    try:
        queue.put(function(*arguments))
    except MemoryError as error:  # reported as a result, not a traceback
        queue.put({"error": f"out of memory: {error}"})


def isolated(function, arguments, budget):
    """``function(*arguments)`` in a fresh process; None past ``budget`` seconds."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_child, args=(queue, function, arguments))
    process.start()
    try:
        return queue.get(timeout=budget)
    except Exception:  # the queue's Empty: over budget, or the child died
        return None
    finally:
        process.kill()
        process.join()


def report(name, result):
    if result is None:
        print(f"  {name:9s} did not finish within its time budget")
        return
    if "error" in result:
        print(f"  {name:9s} {result['error']}")
        return
    gap = f"  gap {result['gap']:.1e}" if "gap" in result else ""
    print(
        f"  {name:9s} {result['seconds']:8.2f} s  {result['memory_mb']:8.0f} MB"
        f"  objective {result['objective']:.10f}  units {result['units']:4d}{gap}"
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes only")
    parser.add_argument("--budget", type=float, default=120.0)
    parser.add_argument("--cvxpy-budget", type=float, default=120.0)
    parser.add_argument("--max-iter", type=int, default=20_000)
    args = parser.parse_args(argv)

    if args.quick:
        cases = [(2, [1_000, 2_000]), (3, [100, 200])]
    else:
        cases = [(2, [1_000, 10_000, 100_000]), (3, [200, 2_000])]
    targets = {(2, 100_000): (5.0, 1000.0), (3, 2_000): (30.0, None)}
    for depth, sizes in cases:
        cvxpy_alive = True
        for n_samples in sizes:
            print(f"depth {depth}, ReLU, N = {n_samples}")
            ours = isolated(_convexnn, (n_samples, depth, args.max_iter), args.budget)
            report("convexnn", ours)
            ours = None if ours is None or "error" in ours else ours
            theirs = None
            if cvxpy_alive:
                theirs = isolated(_cvxpy, (n_samples, depth), args.cvxpy_budget)
                report("cvxpy", theirs)
                theirs = None if theirs is None or "error" in theirs else theirs
                cvxpy_alive = theirs is not None
            if ours is not None and theirs is not None:
                print(
                    f"  ratios    time {theirs['seconds'] / ours['seconds']:.1f}x, "
                    f"memory {theirs['memory_mb'] / max(ours['memory_mb'], 1):.1f}x "
                    f"(cvxpy / convexnn); objective difference "
                    f"{ours['objective'] - theirs['objective']:+.2e}"
                )
            if (depth, n_samples) in targets:
                seconds, memory = targets[depth, n_samples]
                met = (
                    ours is not None
                    and ours["gap"] <= 1e-6
                    and ours["seconds"] < seconds
                    and (memory is None or ours["memory_mb"] < memory)
                )
                limits = f"{seconds} s" + ("" if memory is None else f", {memory} MB")
                print(f"  target    {limits}: {'met' if met else 'NOT met'}")


if __name__ == "__main__":
    main()
