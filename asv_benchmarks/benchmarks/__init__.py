"""airspeed velocity benchmarks of convexnn.

Run ``asv run --python=same`` from ``asv_benchmarks/``.
"""
