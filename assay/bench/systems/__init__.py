"""The systems a benchmark can run, by name.

Every adapter has the same shape, `run(train, test, target, task, budget, seed, config=None) -> dict`,
with keys fit_s, predict_s and either proba (n, K) plus classes (its column labels) or pred (n,),
and an optional info dict. `config` carries a system's fixed options (a peer's preset) and, for
assay, the component choices of an ablation. Adapters are imported lazily by the runner, so a
broken system cannot stop the others from running; peers run in their own environments
(assay.bench.peers) and are reported as unavailable when those are missing.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class System:
    name: str
    module: str
    options: dict = field(default_factory=dict)
    takes_budget: bool = True  # False: one run per dataset and seed serves every budget
    peer: str | None = None  # the peer environment it needs, if any


_PEER = "assay.bench.systems.peer"
SYSTEMS: dict[str, System] = {
    s.name: s
    for s in (
        System("assay", "assay.bench.systems.assay_system"),
        System("lightgbm_default", "assay.bench.systems.lightgbm_default", takes_budget=False),
        System("flaml", _PEER, {"peer": "flaml"}, peer="flaml"),
        System("autogluon-best", _PEER, {"peer": "autogluon", "preset": "best_quality"}, peer="autogluon"),
        System("autogluon-medium", _PEER, {"peer": "autogluon", "preset": "medium_quality"}, peer="autogluon"),
    )
}
ALIASES = {
    "lightgbm-default": "lightgbm_default",
    "lgbm": "lightgbm_default",
    "autogluon_best": "autogluon-best",
    "autogluon-best_quality": "autogluon-best",
    "autogluon_medium": "autogluon-medium",
    "autogluon-medium_quality": "autogluon-medium",
}

REFERENCE = "lightgbm_default"


def canonical(name: str) -> str:
    """The registry's spelling of a system name; KeyError names the known systems."""
    key = ALIASES.get(name.strip().lower(), name.strip().lower())
    if key not in SYSTEMS:
        raise KeyError(f"unknown system {name!r}; known: {', '.join(SYSTEMS)}")
    return key


def get_system(name: str, config: dict | None = None) -> Callable[..., dict]:
    """The adapter's run function, with the system's fixed options and `config` bound."""
    system = SYSTEMS[canonical(name)]
    run = importlib.import_module(system.module).run
    options = {**system.options, **(config or {})}
    return functools.partial(run, config=options) if options else run
