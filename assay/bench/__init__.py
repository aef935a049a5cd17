"""Benchmark harness: the shared protocol, system adapters, an isolated runner and the aggregation.

It lives inside the package (not only under bench/) so the protocol split and metric can be
imported and unit-tested, and so the runner can be started as `python -m assay.bench.runner`
in a fresh process per (system, dataset): peak memory and timings then belong to one fit only.
The script that drives a whole suite is bench/core.py.
"""

from assay.bench.suite import BenchError, DatasetSpec, Score, load_suite, protocol_split, test_error

__all__ = ["BenchError", "DatasetSpec", "Score", "load_suite", "protocol_split", "test_error"]
