"""The search loop: propose, run, record, until the budget says stop.

    executor.submit(spec) while fewer than `parallelism` trials are in flight;
    output = executor.collect(); scheduler.tell(result); record

With one trial in flight this is the plain propose/run/record loop. With more, results come back
in any order; to keep `--trials N` runs reproducible whatever runs them (inline, a process pool,
a Ray cluster), a trial-count budget follows a fixed schedule: trial k is proposed once the
results of trials 0..k-P are told (P = parallelism), they are told in trial order, and its
pruning rule sees exactly those results. Only P, never timing, shapes the search. A time budget
instead tells results as they arrive and keeps every worker busy.

Fold models are kept only for the trials that can still enter the ensemble, so memory stays
bounded however long the search runs. A screening trial's one fold is kept while the scheduler may
still propose its entry's full trial, which continues from it instead of fitting it again.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import psutil

from assay.errors import AssayError, problem
from assay.search.budget import Budget, Deadline
from assay.search.events import Events
from assay.search.executors import Executor, InlineExecutor, TrialContext, TrialOutput
from assay.search.scheduler import Scheduler
from assay.search.trial import TrialResult, TrialSpec

KEEP_MODELS = 12  # trials whose fold models are kept as ensemble candidates
MEMORY_SOFT_LIMIT = 2.5 * 2**30  # above this resident size, keep only the very best candidates


@dataclass
class SearchOutcome:
    results: list[TrialResult] = field(default_factory=list)
    outputs: dict[int, TrialOutput] = field(default_factory=dict)  # trial_id -> kept output
    notes: list[str] = field(default_factory=list)  # what the executor reports (retries, lost workers)

    def best(self) -> TrialResult | None:
        ok = [r for r in self.results if r.ok]
        return min(ok, key=lambda r: r.error) if ok else None


class _Prune:
    """The scheduler's pruning rule over a fixed set of earlier results (those told when the
    trial was proposed), so the decision does not depend on when other trials finish."""

    def __init__(self, scheduler: Scheduler, origin: str, results: list[TrialResult], metric):
        self.scheduler, self.origin, self.results, self.metric = scheduler, origin, results, metric

    def __call__(self, fold_errors: list[float]) -> bool:
        return self.scheduler.should_prune(self.origin, fold_errors, self.results, self.metric)


def run_search(
    ctx: TrialContext,
    budget: Budget,
    deadline: Deadline,
    scheduler: Scheduler,
    seed: int,
    events: Events,
    executor: Executor | None = None,
) -> SearchOutcome:
    """Start `executor` (default: inline) with this search's data and run the search on it; the
    caller owns the executor and shuts it down, so a failure here still releases its workers."""
    executor = executor or InlineExecutor()
    executor.start(ctx)
    outcome = SearchOutcome()
    ordered = not budget.timed  # a trial-count budget: the fixed schedule described above
    width = max(1, executor.parallelism)
    pending: dict[int, TrialOutput] = {}  # finished, not yet told (ordered mode)
    screens: dict[int, TrialOutput] = {}  # screening trials a full trial may continue
    extras: dict[int, dict] = {}
    told = submitted = 0
    exhausted = False

    def want_more() -> bool:
        if exhausted or deadline.expired() or (budget.trials is not None and submitted >= budget.trials):
            return False
        if executor.in_flight() + len(pending) >= width:
            return False
        return not ordered or submitted - told < width

    def record(output: TrialOutput) -> None:
        result = output.result
        extra = extras.pop(result.spec.trial_id, None)
        if extra:
            result = replace(result, extra={**result.extra, **extra})
            output.result = result
        scheduler.tell(result)
        outcome.results.append(result)
        if result.spec.origin == "screen" and output.models:
            screens[result.spec.trial_id] = output
        if result.ok:
            outcome.outputs[result.spec.trial_id] = output
            executor.discard(_forget_weak(outcome))
        events.emit("on_trial_end", result, best=outcome.best())

    def fill() -> None:
        """Propose and submit while the schedule allows."""
        nonlocal submitted, exhausted
        while want_more():
            proposal = scheduler.propose(outcome.results, deadline)
            if proposal is None:
                exhausted = True
                return
            family, params, origin, extra = proposal
            spec = TrialSpec(submitted, family, params, seed + submitted, origin)
            extras[spec.trial_id] = extra
            events.emit("on_trial_start", spec)
            allowance = scheduler.allowance(origin, deadline)
            seconds = (
                None if deadline.at is None and allowance is None else min(deadline.remaining(), allowance or np.inf)
            )
            earlier = screens.pop(extra.get("continues"), None)
            executor.submit(spec, seconds, _Prune(scheduler, origin, list(outcome.results), ctx.metric), earlier)
            submitted += 1
        for trial_id in set(screens) - scheduler.continuable():  # dropped by the ranking, or skipped
            del screens[trial_id]

    while True:
        fill()
        if executor.in_flight() == 0 and not pending:
            break
        for output in executor.collect(None if deadline.at is None else max(deadline.remaining(), 0.0) + 1.0):
            pending[output.result.spec.trial_id] = output
        if ordered:  # tell one, then propose: trial k sees exactly the results of trials 0..k-P
            while told in pending:
                record(pending.pop(told))
                told += 1
                fill()
        else:
            for trial_id in sorted(pending):
                record(pending.pop(trial_id))
            told = len(outcome.results)
    outcome.notes = executor.notes()
    events.emit("on_search_end", results=outcome.results)
    if outcome.best() is None:
        failures = [r.message for r in outcome.results if r.status == "failed"]
        raise AssayError(
            problem(
                "no model could be fitted" + (f"; first failure: {failures[0]}" if failures else " within the budget"),
                where="search",
                fix="raise the budget, or check the data (the message above says what the models rejected)",
            )
        )
    return outcome


def _forget_weak(outcome: SearchOutcome) -> list[int]:
    """Keep the strongest trials plus each family's best, which ensembles profit from;
    under memory pressure, only the strongest few. Returns the trials let go."""
    kept = sorted(outcome.outputs.values(), key=lambda o: o.result.error)
    if psutil.Process().memory_info().rss > MEMORY_SOFT_LIMIT:
        keep_ids = {o.result.spec.trial_id for o in kept[:3]}
    else:
        keep_ids = {o.result.spec.trial_id for o in kept[:KEEP_MODELS]}
        best_per_family: dict[str, int] = {}
        for o in kept:
            best_per_family.setdefault(o.result.spec.family, o.result.spec.trial_id)
        keep_ids |= set(best_per_family.values())
    dropped = [t for t in outcome.outputs if t not in keep_ids]
    for trial_id in dropped:
        del outcome.outputs[trial_id]
    return dropped


def oof_matrix(outcome: SearchOutcome) -> tuple[list[int], list[np.ndarray]]:
    ids = sorted(outcome.outputs, key=lambda t: outcome.outputs[t].result.error)
    return ids, [outcome.outputs[t].oof for t in ids]
