"""The search loop: propose, run, record, until the budget says stop.

    spec = scheduler.propose(); output = executor.run(spec); scheduler.tell(result); record

Fold models are kept only for the trials that can still enter the ensemble, so memory stays
bounded however long the search runs.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, field, replace

import numpy as np
import psutil

from assay.errors import AssayError, problem
from assay.search.budget import Budget, Deadline
from assay.search.events import Events
from assay.search.executors import InlineExecutor, TrialContext, TrialOutput
from assay.search.scheduler import Scheduler
from assay.search.trial import TrialResult, TrialSpec

KEEP_MODELS = 12  # trials whose fold models are kept as ensemble candidates
MEMORY_SOFT_LIMIT = 2.5 * 2**30  # above this resident size, keep only the very best candidates


@dataclass
class SearchOutcome:
    results: list[TrialResult] = field(default_factory=list)
    outputs: dict[int, TrialOutput] = field(default_factory=dict)  # trial_id -> kept output

    def best(self) -> TrialResult | None:
        ok = [r for r in self.results if r.ok]
        return min(ok, key=lambda r: r.error) if ok else None


def run_search(
    ctx: TrialContext,
    budget: Budget,
    deadline: Deadline,
    scheduler: Scheduler,
    seed: int,
    events: Events,
    executor: InlineExecutor | None = None,
) -> SearchOutcome:
    executor = executor or InlineExecutor()
    outcome = SearchOutcome()
    while not deadline.expired() and (budget.trials is None or len(outcome.results) < budget.trials):
        proposal = scheduler.propose(outcome.results, deadline)
        if proposal is None:
            break
        family, params, origin, extra = proposal
        spec = TrialSpec(len(outcome.results), family, params, seed + len(outcome.results), origin)
        events.emit("on_trial_start", spec)
        trial_deadline = deadline.sooner(scheduler.allowance(origin, deadline))
        try:
            output = executor.run(
                spec,
                ctx,
                trial_deadline,
                lambda errs, o=origin: scheduler.should_prune(o, errs, outcome.results, ctx.metric),
            )
            result = output.result
        except AssayError:
            raise
        except Exception as exc:  # a family failing on this data must not end the search
            detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
            result = TrialResult(spec, "failed", float("nan"), float("nan"), message=detail[:500])
            output = TrialOutput(result, None, [])
        if extra:
            result = replace(result, extra={**result.extra, **extra})
            output.result = result
        scheduler.tell(result)
        outcome.results.append(result)
        if result.ok:
            outcome.outputs[spec.trial_id] = output
            _forget_weak(outcome)
        events.emit("on_trial_end", result, best=outcome.best())
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


def _forget_weak(outcome: SearchOutcome) -> None:
    """Keep the strongest trials plus each family's best, which ensembles profit from;
    under memory pressure, only the strongest few."""
    kept = sorted(outcome.outputs.values(), key=lambda o: o.result.error)
    if psutil.Process().memory_info().rss > MEMORY_SOFT_LIMIT:
        keep_ids = {o.result.spec.trial_id for o in kept[:3]}
    else:
        keep_ids = {o.result.spec.trial_id for o in kept[:KEEP_MODELS]}
        best_per_family: dict[str, int] = {}
        for o in kept:
            best_per_family.setdefault(o.result.spec.family, o.result.spec.trial_id)
        keep_ids |= set(best_per_family.values())
    for trial_id in [t for t in outcome.outputs if t not in keep_ids]:
        del outcome.outputs[trial_id]


def oof_matrix(outcome: SearchOutcome) -> tuple[list[int], list[np.ndarray]]:
    ids = sorted(outcome.outputs, key=lambda t: outcome.outputs[t].result.error)
    return ids, [outcome.outputs[t].oof for t in ids]
