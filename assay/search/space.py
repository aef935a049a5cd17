"""Search-space dimensions that model families declare and strategies sample.

A leaf module (no assay imports): families declare their space here, strategies read it, and
neither needs to know about the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Float:
    low: float
    high: float
    default: float
    log: bool = False


@dataclass(frozen=True)
class Int:
    low: int
    high: int
    default: int
    log: bool = False


@dataclass(frozen=True)
class Choice:
    options: tuple
    default: Any


Dim = Float | Int | Choice
Space = dict[str, Dim]


def defaults(space: Space) -> dict[str, Any]:
    return {name: dim.default for name, dim in space.items()}


def suggest(trial, space: Space) -> dict[str, Any]:
    """Sample a configuration from an Optuna trial."""
    params = {}
    for name, dim in space.items():
        if isinstance(dim, Float):
            params[name] = trial.suggest_float(name, dim.low, dim.high, log=dim.log)
        elif isinstance(dim, Int):
            params[name] = trial.suggest_int(name, dim.low, dim.high, log=dim.log)
        else:
            params[name] = trial.suggest_categorical(name, list(dim.options))
    return params
