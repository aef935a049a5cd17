"""The systems a benchmark can run, by name.

Every adapter has the same shape, `run(train, test, target, task, budget, seed) -> dict`, with
keys fit_s, predict_s and either proba (n, K) plus classes (its column labels) or pred (n,), and
an optional info dict. Adapters are imported lazily by the runner, so a broken system cannot
stop the others from running.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

SYSTEMS: dict[str, str] = {
    "assay": "assay.bench.systems.assay_system",
    "lightgbm_default": "assay.bench.systems.lightgbm_default",
}

REFERENCE = "lightgbm_default"


def get_system(name: str) -> Callable[..., dict]:
    """The adapter's run function; KeyError names the known systems."""
    if name not in SYSTEMS:
        raise KeyError(f"unknown system {name!r}; known: {', '.join(SYSTEMS)}")
    return importlib.import_module(SYSTEMS[name]).run
