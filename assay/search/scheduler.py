"""Who runs next, for how long, and when to give up on a trial.

- Order: optionally (`screen_metric`) every portfolio entry on one fold first, to rank the list
  (an entry's full trial then continues from its screened fold); the portfolio (a learnt entry
  skipped when its measured cost cannot fit); then Optuna TPE (or random search) per family, the
  family chosen by its estimated cost of improvement (how long its trials take, how stale it is,
  how far behind the leader); or, with "evolve", one evolutionary search over pipelines of every
  family.
- Time: each trial gets a share of what is left, so no single trial can eat the budget; a
  non-truncatable family only starts when its measured cost fits in the time left.
- Pruning: after each fold, a trial whose running error is clearly worse than the best
  trial's on the same folds stops (its fold models are discarded).

With a trial-count budget nothing here reads the clock, so runs replay exactly.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from dataclasses import replace

import numpy as np

from assay.models.registry import get_family
from assay.preprocess.steps import is_identity, split_genes
from assay.search.budget import Deadline
from assay.search.strategies import TUNERS, EvolveStrategy, PortfolioStrategy
from assay.search.trial import TrialResult

# Share of the remaining time one trial may take: portfolio trials are known-good and get more.
_SHARE = {"portfolio": 0.4, "tpe": 0.25}
# A trial is pruned when its regret exceeds the best trial's on the same folds by this factor.
_PRUNE_FACTOR = {"portfolio": 2.0, "tpe": 1.3}
# Screening stops after this share of the time left when it began; the entries not screened by then
# keep their turn after the ranked ones.
_SCREEN_SHARE = 0.35
_MAX_REPEATS = 10  # proposals of already-measured configurations before a family counts as exhausted
_MAX_EVOLVE_TRIES = 50  # evolved proposals that are known or do not fit before the search ends


class Scheduler:
    def __init__(
        self,
        portfolio: PortfolioStrategy,
        families: list[str],
        task,
        n_rows,
        n_cols,
        seed,
        timed: bool,
        n_folds: int = 1,
        tuner: str | None = "tpe",
        traits: dict | None = None,
        screen_metric=None,
    ):
        self.portfolio = portfolio
        self.timed = timed
        self.shape = (n_rows, n_cols, task.n_classes, n_folds)
        self.origin = tuner or "none"  # a trial's origin names the tuner that proposed it
        spaces = {f: get_family(f).search_space(task, n_rows, n_cols) for f in families}
        # evolution proposes across families itself, without per-family tuners; no tuner at all:
        # the search ends with the portfolio
        self.evolver = EvolveStrategy(spaces, seed, traits) if tuner == "evolve" else None
        make = TUNERS[tuner] if tuner and self.evolver is None else None
        self.tuners = {f: make(f, spaces[f], seed) for f in families if make}
        self._done: dict[str, object] = {}  # (family, params) -> first result, so nothing is fitted twice
        # Screening (a time budget, >= 3 folds): every portfolio entry on the first fold first, then
        # the entries in order of that fold's error, those the pruning rule would stop dropped.
        # The metric is set back to None once the list is ranked: screening is over.
        self.screen_metric = screen_metric if timed and n_folds >= 3 else None
        self._to_screen: list[tuple[str, dict]] | None = None  # None: not started
        self._screened: dict[str, TrialResult] = {}  # (family, params) -> its screening result, until continued

    def warm_start(self, configs: dict[str, list[dict]]) -> None:
        """Configurations that did well on similar past tasks, tried first by each family's tuner."""
        for family, params_list in configs.items():
            for params in params_list:
                if self.evolver is not None:
                    self.evolver.enqueue(family, params)
                elif family in self.tuners and hasattr(self.tuners[family], "enqueue"):
                    self.tuners[family].enqueue(params)

    # --- proposing -----------------------------------------------------------------------
    def propose(self, results, deadline: Deadline) -> tuple[str, dict, str, dict] | None:
        """(family, params, origin, extra) for the next trial, or None when nothing fits."""
        if self.screen_metric is not None:
            screen = self._next_screen(results, deadline)
            if screen is not None:
                return screen
        while len(self.portfolio):
            family, params = self.portfolio.ask()
            if not self._fits(family, results, deadline):
                continue
            if self._affordable(family, self.portfolio.last_cost, deadline) or (
                get_family(family).truncatable and self.portfolio.last_deferred  # it stops itself in time
            ):
                screened = self._screened.pop(_key(family, params), None)
                return family, params, "portfolio", {} if screened is None else {"continues": screened.spec.trial_id}
            self.portfolio.defer()
        if self.evolver is not None:
            return self._propose_evolved(results, deadline)
        while (family := self._pick_family(results, deadline)) is not None:
            tuner = self.tuners[family]
            for _ in range(_MAX_REPEATS):
                params = tuner.ask()
                earlier = self._done.get(_key(family, params))
                if earlier is None:
                    return family, params, self.origin, {f"{self.origin}_number": tuner._last}
                tuner.tell(params, replace(earlier, extra={f"{self.origin}_number": tuner._last}))  # known: no refit
            del self.tuners[family]  # its space is exhausted: the tuner keeps proposing what was measured
        return None

    def _next_screen(self, results, deadline: Deadline):
        if self._to_screen is None:
            self._to_screen = self.portfolio.pending()
            self._screen_ends = Deadline.after(deadline.remaining() * _SCREEN_SHARE)
        while self._to_screen and not self._screen_ends.expired():
            family, params = self._to_screen.pop(0)
            if self._fits(family, results, deadline):
                return family, params, "screen", {}
        self._rank_screened()
        self.screen_metric = None
        return None

    def _rank_screened(self) -> None:
        """Order the screened entries by their first-fold error; drop those whose regret is more
        than the portfolio's pruning factor times the best one's (they would be pruned after that
        fold anyway, and now there is a reference from the start)."""
        errors = {
            key: (r.fold_errors[0], (r.spec.family, r.spec.params))
            for key, r in self._screened.items()
            if r.fold_errors and math.isfinite(r.fold_errors[0])
        }
        if not errors:
            return
        regret = self.screen_metric.regret
        best = min(regret(e) for e, _ in errors.values())
        kept = sorted(
            ((e, entry) for e, entry in errors.values() if regret(e) <= _PRUNE_FACTOR["portfolio"] * best + 1e-12),
            key=lambda pair: pair[0],
        )
        self.portfolio.rank([entry for _, entry in kept], [entry for _, entry in errors.values()])

    def continuable(self) -> set[int]:
        """The screening trials whose entry is still queued: their fitted fold is worth keeping."""
        queued = {_key(*proposal) for proposal in self.portfolio.pending()}
        return {r.spec.trial_id for key, r in self._screened.items() if key in queued}

    def _propose_evolved(self, results, deadline):
        for _ in range(_MAX_EVOLVE_TRIES):
            family, params = self.evolver.ask()
            earlier = self._done.get(_key(family, params)) or self._done.get(_key(*_plain(family, params)))
            if earlier is not None:
                self.evolver.tell(family, params, earlier)  # known: no refit
                continue
            if self._fits(family, results, deadline):
                return family, params, "evolve", {}
        return None  # nothing new that fits: the search ends

    def _affordable(self, family: str, cost: float | None, deadline: Deadline) -> bool:
        """A learnt portfolio entry knows its cost (3 folds on 1,000 rows, scaled to these rows and
        folds). One that would take more than its share of what is left waits behind the cheaper
        entries (`propose`); when its turn comes again and it still does not fit, one that cannot
        stop early is skipped, and one that can is run within its time allowance: linear scaling
        overstates boosting with early stopping on large tables, and skipping it there would cost
        more than it saves."""
        if not self.timed or cost is None:
            return True
        folds = self.shape[3]
        return cost * max(folds, 1) / 3 <= deadline.remaining() * _SHARE["portfolio"]

    def tell(self, result) -> None:
        if result.spec.origin == "screen":
            if result.status != "failed":
                self._screened.setdefault(_key(result.spec.family, result.spec.params), result)
            return  # one fold: neither a measurement of the configuration nor news for the tuners
        self._done.setdefault(_key(result.spec.family, result.spec.params), result)
        if self.evolver is not None:
            self.evolver.tell(result.spec.family, result.spec.params, result)
        tuner = self.tuners.get(result.spec.family)
        if tuner is not None:
            tuner.tell(result.spec.params, result)

    def _pick_family(self, results, deadline) -> str | None:
        ok = [r for r in results if r.ok]
        if not ok:
            return next((f for f in self.tuners if self._fits(f, results, deadline)), None)
        by_family = defaultdict(list)
        for r in results:
            by_family[r.spec.family].append(r)
        best_overall = min(r.error for r in ok)
        worst_best = max(min((r.error for r in rs if r.ok), default=best_overall) for rs in by_family.values())
        spread = max(worst_best - best_overall, 1e-12)
        costs = {}
        for family in self.tuners:
            runs = by_family.get(family, [])
            if not self._fits(family, results, deadline):
                continue
            if not any(r.ok for r in runs):
                costs[family] = math.inf if runs else 0.0  # untried: try once; failing: never again
                continue
            best = min(r.error for r in runs if r.ok)
            gap = (best - best_overall) / spread
            stale = _trials_since_improvement(runs)
            cost = float(np.mean([_cost(r) for r in runs])) if self.timed else 1.0
            costs[family] = cost * (1 + stale) * (1 + 4 * gap)
        finite = {f: c for f, c in costs.items() if math.isfinite(c)}
        return min(finite, key=finite.get) if finite else None

    def _fits(self, family: str, results, deadline: Deadline) -> bool:
        if not self.timed:
            return True
        runs = [r for r in results if r.spec.family == family and r.status != "failed"]
        remaining = deadline.remaining()
        model = get_family(family)
        if not runs and not model.truncatable:
            n_rows, n_cols, n_classes, k = self.shape
            n_val = n_rows // k if k > 1 else n_rows // 5
            guess = k * model.estimate_seconds(n_rows - n_val, n_val, n_cols, n_classes)
            return guess < remaining * _SHARE["portfolio"]
        if not runs:
            return remaining > 2.0
        typical = float(np.median([_cost(r) for r in runs]))
        needed = typical * (1.2 if not model.truncatable else 0.3)
        return remaining > max(needed, 1.0)

    # --- time ------------------------------------------------------------------------------
    def allowance(self, origin: str, deadline: Deadline) -> float | None:
        """Seconds this trial may use; None when time is not the budget."""
        if not self.timed:
            return None
        if origin == "screen":  # one fold: that fold's part of a portfolio trial's share
            return max(deadline.remaining() * _SHARE["portfolio"] / self.shape[3], 0.5)
        return max(deadline.remaining() * _SHARE.get(origin, 0.25), 1.0)

    # --- pruning ---------------------------------------------------------------------------
    def should_prune(self, origin: str, fold_errors: list[float], results, metric) -> bool:
        complete = [r for r in results if r.ok and len(r.fold_errors) > len(fold_errors)]
        if not complete or len(fold_errors) == 0:
            return False
        n = len(fold_errors)
        references = [e for e in (_finite_mean(r.fold_errors[:n]) for r in complete) if math.isfinite(e)]
        mine = _finite_mean(fold_errors)
        if not references or not math.isfinite(mine):
            return False
        return metric.regret(mine) > _PRUNE_FACTOR.get(origin, 1.3) * metric.regret(min(references)) + 1e-12


def _finite_mean(errors) -> float:
    """Mean over the folds that have an error: a time-ordered validation block holding one class
    has no ROC AUC (NaN), the same block for every trial, so skipping it keeps comparisons fair."""
    finite = [e for e in errors if math.isfinite(e)]
    return float(np.mean(finite)) if finite else math.nan


def _key(family: str, params: dict) -> str:
    return json.dumps([family, params], sort_keys=True, default=str)


def _plain(family: str, params: dict) -> tuple[str, dict]:
    """A pipeline whose steps all do nothing is its bare family: measured once, not twice."""
    genes, own = split_genes(params)
    return (family.removeprefix("pipeline:"), own) if is_identity(genes) else (family, params)


def _cost(result) -> float:
    return result.fit_seconds + result.predict_seconds


def _trials_since_improvement(runs) -> int:
    best, since = math.inf, 0
    for r in runs:
        if r.ok and r.error < best:
            best, since = r.error, 0
        else:
            since += 1
    return since
