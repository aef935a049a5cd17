"""Uniform random search over one family's space: the baseline any smarter tuner must beat.

It has TPE's per-family shape (`ask() -> params`, `tell(params, result)`, `_last`), so the scheduler
can swap one for the other and the benchmark can measure what model-based tuning buys. Log-scaled
dimensions are sampled uniformly in the log, as TPE's prior does, so the two differ in the model
of the objective only, not in the prior.
"""

from __future__ import annotations

import math
import zlib

import numpy as np

from assay.search.space import Choice, Float, Int, Space


class RandomStrategy:
    def __init__(self, family: str, space: Space, seed: int):
        self.family = family
        self.space = space
        self._rng = np.random.default_rng(seed + zlib.crc32(family.encode()) % 10_000)
        self._last = -1
        self._queue: list[dict] = []

    def ask(self) -> dict:
        self._last += 1
        return self._queue.pop(0) if self._queue else sample(self.space, self._rng)

    def enqueue(self, params: dict) -> None:
        """A configuration to try next (warm start); parts outside this space take their defaults."""
        self._queue.append({n: params.get(n, dim.default) for n, dim in self.space.items()})

    def tell(self, params: dict, result) -> None:
        """Nothing to learn: random search ignores what it is told."""


def sample(space: Space, rng: np.random.Generator) -> dict:
    params = {}
    for name, dim in space.items():
        if isinstance(dim, Choice):
            params[name] = dim.options[int(rng.integers(len(dim.options)))]
        elif isinstance(dim, Float):
            if dim.log:
                params[name] = float(math.exp(rng.uniform(math.log(dim.low), math.log(dim.high))))
            else:
                params[name] = float(rng.uniform(dim.low, dim.high))
        elif isinstance(dim, Int):
            if dim.log:
                value = math.exp(rng.uniform(math.log(dim.low), math.log(dim.high + 1)))
                params[name] = int(min(max(math.floor(value), dim.low), dim.high))
            else:
                params[name] = int(rng.integers(dim.low, dim.high + 1))
        else:  # a new kind of dimension must not be sampled silently wrong
            raise TypeError(f"unknown search dimension {type(dim).__name__} for {name!r}")
    return params
