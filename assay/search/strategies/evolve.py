"""Evolutionary pipeline search: pipelines (preprocessing genes + family + hyperparameters) as
programs, improved by mutation and crossover under the same budget and validation as TPE.

In the manner of TPOT and regularised evolution, kept small: a steady-state population of the
best POPULATION pipelines measured so far (portfolio trials included, as pipelines with default
steps); each proposal is a child of two tournament winners. Crossover is uniform within one
family; across families only the preprocessing genes mix, since hyperparameters of different
families do not correspond. Mutation perturbs each gene with probability 1/n (at least one):
floats and integers by a Gaussian step in their (log) range, choices by another option; now and
then the family itself changes, keeping the steps and starting the new family from its defaults.
`repair` then makes every child valid for the task and the data: each family's dimensions present,
in range and of the right type, nothing foreign, and genes that cannot act on this data (one-hot
without categories, missing flags without missing values) set to their no-op so that equal
pipelines are spelt equally.

Everything draws from one seeded generator in ask/tell order, so a trial-count budget replays.
Proposals are "pipeline:FAMILY" keys: assay.models.pipeline runs and saves the steps.
"""

from __future__ import annotations

import math

import numpy as np

from assay.preprocess.steps import GENES
from assay.search.space import Choice, Float, Int, Space, defaults
from assay.search.strategies.random import sample

POPULATION = 12
TOURNAMENT = 3
CROSSOVER_RATE = 0.5
FAMILY_SWITCH_RATE = 0.1
SIGMA = 0.15  # Gaussian step as a share of a dimension's (log) range
PREFIX = "pipeline:"


class EvolveStrategy:
    def __init__(self, spaces: dict[str, Space], seed: int, traits: dict | None = None, population: int = POPULATION):
        """`spaces`: family -> its model search space (without genes); `traits`: facts about the
        data that repair needs (has_categorical, has_missing, n_cols)."""
        self.spaces = dict(spaces)
        self.families = list(spaces)
        self.traits = traits or {}
        self.size = population
        self.rng = np.random.default_rng(seed + 7_919)
        self.population: list[tuple[float, str, dict]] = []  # (error, family, params), best first
        self._started = 0  # initial pipelines proposed
        self._queue: list[tuple[str, dict]] = []  # warm-start pipelines, proposed before anything else

    # --- the strategy contract ------------------------------------------------------------------
    def ask(self) -> tuple[str, dict]:
        if self._queue:
            family, params = self._queue.pop(0)
        else:
            family, params = self._child() if len(self.population) >= 2 else self._initial()
        return PREFIX + family, params

    def enqueue(self, family: str, params: dict) -> None:
        family = family.removeprefix(PREFIX)
        if family in self.spaces:
            self._queue.append((family, self.repair(family, params)))

    def tell(self, family: str, params: dict, result) -> None:
        """Any measured trial joins the population, including portfolio and warm-start trials."""
        if not result.ok:
            return
        family = family.removeprefix(PREFIX)
        if family not in self.spaces:
            return
        genome = self.repair(family, params)
        if any(f == family and p == genome for _, f, p in self.population):
            return
        self.population.append((float(result.error), family, genome))
        self.population.sort(key=lambda g: g[0])  # stable: earlier wins ties
        del self.population[self.size :]

    # --- the operators --------------------------------------------------------------------------
    def _initial(self) -> tuple[str, dict]:
        """Each family's defaults first (with default steps), then random pipelines."""
        i = self._started
        self._started += 1
        if i < len(self.families):
            family = self.families[i]
            return family, self.repair(family, defaults(self.spaces[family]))
        family = self.families[int(self.rng.integers(len(self.families)))]
        return family, self.repair(family, {**sample(GENES, self.rng), **sample(self.spaces[family], self.rng)})

    def _child(self) -> tuple[str, dict]:
        a = self._tournament()
        family, params = a
        if self.rng.random() < CROSSOVER_RATE:
            family, params = self.crossover(a, self._tournament())
        return self.mutate(family, params)

    def _tournament(self) -> tuple[str, dict]:
        k = min(TOURNAMENT, len(self.population))
        picks = sorted(self.rng.choice(len(self.population), size=k, replace=False).tolist())
        _, family, params = self.population[picks[0]]  # best first, so the lowest index wins
        return family, dict(params)

    def crossover(self, a: tuple[str, dict], b: tuple[str, dict]) -> tuple[str, dict]:
        (fa, pa), (fb, pb) = a, b
        names = list(self.space_of(fa)) if fa == fb else list(GENES)
        child = dict(pa)
        for name in names:
            if self.rng.random() < 0.5 and name in pb:
                child[name] = pb[name]
        return fa, self.repair(fa, child)

    def mutate(self, family: str, params: dict) -> tuple[str, dict]:
        if len(self.families) > 1 and self.rng.random() < FAMILY_SWITCH_RATE:
            others = [f for f in self.families if f != family]
            new = others[int(self.rng.integers(len(others)))]
            genes = {k: params[k] for k in GENES if k in params}
            return new, self.repair(new, {**defaults(self.spaces[new]), **genes})
        space = self.space_of(family)
        names = list(space)
        rate = 1.0 / len(names)
        hit = [n for n in names if self.rng.random() < rate] or [names[int(self.rng.integers(len(names)))]]
        child = dict(params)
        for name in hit:
            child[name] = _perturb(space[name], child.get(name, space[name].default), self.rng)
        return family, self.repair(family, child)

    def space_of(self, family: str) -> Space:
        return {**GENES, **self.spaces[family]}

    def repair(self, family: str, params: dict) -> dict:
        """The same pipeline, made valid: every dimension of the family's space, in range, typed,
        nothing else; genes with no effect on this data set to their no-op."""
        out = {}
        for name, dim in self.space_of(family).items():
            out[name] = _clip(dim, params.get(name, dim.default))
        if self.traits.get("has_categorical") is False:
            out["pre_categorical"] = "native"
        if self.traits.get("has_missing") is False:
            out["pre_missing"] = False
        n_cols = self.traits.get("n_cols")
        if n_cols is not None and math.ceil(out["pre_select"] * n_cols) >= n_cols:
            out["pre_select"] = 1.0  # keeps every column anyway
        return out


def _perturb(dim, value, rng: np.random.Generator):
    if isinstance(dim, Choice):
        others = [o for o in dim.options if o != value]
        return others[int(rng.integers(len(others)))] if others else value
    lo, hi = (math.log(dim.low), math.log(dim.high)) if dim.log else (dim.low, dim.high)
    x = math.log(max(value, dim.low)) if dim.log else float(value)
    x = x + rng.normal(0.0, SIGMA * (hi - lo))
    x = math.exp(x) if dim.log else x
    if isinstance(dim, Int):
        stepped = int(round(x))
        if stepped == value:  # a step that rounds back to the same integer is no mutation
            stepped = value + (1 if x >= value else -1)
        x = stepped
    return _clip(dim, x)


def _clip(dim, value):
    if isinstance(dim, Choice):
        return value if value in dim.options else dim.default
    if isinstance(dim, Int):
        try:
            return int(min(max(int(round(float(value))), dim.low), dim.high))
        except (TypeError, ValueError):
            return dim.default
    if isinstance(dim, Float):
        try:
            v = float(value)
        except (TypeError, ValueError):
            return dim.default
        return float(min(max(v, dim.low), dim.high)) if math.isfinite(v) else dim.default
    raise TypeError(f"unknown search dimension {type(dim).__name__}")
