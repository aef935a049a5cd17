"""Benchmark harness: the shared protocol, system adapters, an isolated runner and the aggregation.

It lives inside the package (not only under bench/) so the protocol split and metric can be
imported and unit-tested, and so the runner can be started as `python -m assay.bench.runner`
in a fresh process per (system, dataset): peak memory and timings then belong to one fit only.
bench/core.py drives the fixed assay-vs-LightGBM figure; harness.py drives `assay bench` (many
systems, peers in their own venvs, component ablations), with store.py, stats.py and report.py.
"""

from assay.bench.suite import BenchError, DatasetSpec, Score, load_suite, protocol_split, test_error

__all__ = ["BenchError", "DatasetSpec", "Score", "load_suite", "protocol_split", "test_error"]
