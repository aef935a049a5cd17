"""Optuna's TPE over one family's space, warmed with what the portfolio already measured and,
through `enqueue`, with the best configurations of similar past tasks (assay.knowledge.warmstart)."""

from __future__ import annotations

import zlib

import optuna

from assay.search.space import Choice, Float, Int, Space, suggest
from assay.search.space import defaults as _defaults

optuna.logging.set_verbosity(optuna.logging.WARNING)


class TPEStrategy:
    def __init__(self, family: str, space: Space, seed: int):
        self.family = family
        self.space = space
        sampler = optuna.samplers.TPESampler(
            seed=seed + zlib.crc32(family.encode()) % 10_000, n_startup_trials=4, multivariate=True
        )
        self.study = optuna.create_study(direction="minimize", sampler=sampler)
        self._pending: dict[int, optuna.trial.Trial] = {}

    def ask(self) -> dict:
        trial = self.study.ask()
        self._pending[trial.number] = trial
        self._last = trial.number
        return suggest(trial, self.space)

    def enqueue(self, params: dict) -> None:
        """A configuration to try next (warm start); parts outside this space take their defaults."""
        fixed = {
            n: params[n] if n in params and self._inside({**_defaults(self.space), n: params[n]}) else d
            for n, d in _defaults(self.space).items()
        }
        self.study.enqueue_trial(fixed, skip_if_exists=True)

    def tell(self, params: dict, result) -> None:
        """Feed back a result, whether it came from this strategy or from elsewhere (warm start)."""
        number = result.extra.get("tpe_number")
        if number is not None and number in self._pending:
            trial = self._pending.pop(number)
            if result.ok:
                self.study.tell(trial, result.error)
            else:
                state = optuna.trial.TrialState.PRUNED if result.status == "pruned" else optuna.trial.TrialState.FAIL
                self.study.tell(trial, state=state)
            return
        if result.ok and self._inside(params):
            dists = _distributions(self.space)
            self.study.add_trial(
                optuna.trial.create_trial(params={k: params[k] for k in dists}, distributions=dists, value=result.error)
            )

    def _inside(self, params: dict) -> bool:
        for name, dim in self.space.items():
            v = params.get(name)
            if v is None:
                return False
            if isinstance(dim, Choice):
                if v not in dim.options:
                    return False
            elif not (dim.low <= v <= dim.high):
                return False
        return True


def _distributions(space: Space) -> dict:
    out = {}
    for name, dim in space.items():
        if isinstance(dim, Float):
            out[name] = optuna.distributions.FloatDistribution(dim.low, dim.high, log=dim.log)
        elif isinstance(dim, Int):
            out[name] = optuna.distributions.IntDistribution(dim.low, dim.high, log=dim.log)
        else:
            out[name] = optuna.distributions.CategoricalDistribution(list(dim.options))
    return out
