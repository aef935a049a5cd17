"""Run a trial in this process: one model per fold, out-of-fold predictions, fold errors.

Each fold gets an equal share of what is left of the trial's time, so a slow first fold
cannot starve the last ones. The pruning decision is the scheduler's; this only asks.

`run_folds` is the unit of work every executor runs, wherever it runs. The inline executor is
the default although two 1-thread workers ran 1.7x the trials per minute of one inline trial on
the 2-core machine (1.2-1.4x under load; bench/results/scale.md): a pool takes 3-3.5 s to start
(5 % of the protocol's 60 s budget), pickles every fold model on the way back, holds the data once
per worker, and every quality figure so far was measured inline. `--workers 2` is the switch;
making it the default waits for a benchmark of final quality with it (docs/scale.md).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from sklearn.exceptions import UndefinedMetricWarning

from assay.errors import AssayError
from assay.models.registry import get_family
from assay.search.budget import Deadline
from assay.search.executors.base import (
    Executor,
    Prune,
    TrialOutput,
    describe_exception,
    failed_output,
    trial_deadline,
)
from assay.search.trial import TrialResult, TrialSpec


@dataclass
class TrialContext:
    X: pd.DataFrame
    y: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]
    task: object
    metric: object
    n_threads: int | None = None
    device: str = "cpu"


class InlineExecutor(Executor):
    """Trials run here, one at a time, when collected: submitting only queues, so with
    `parallelism` > 1 the engine proposes exactly as it would for a pool of that size, which
    is how results stay identical whichever executor runs them."""

    name = "inline"

    def __init__(self, parallelism: int = 1):
        self.parallelism = max(1, int(parallelism))
        self._ctx: TrialContext | None = None
        self._queue: list[tuple[TrialSpec, float | None, Prune, TrialOutput | None]] = []

    def start(self, ctx: TrialContext) -> None:
        self._ctx = ctx

    def submit(self, spec: TrialSpec, seconds: float | None, prune: Prune, earlier: TrialOutput | None = None) -> None:
        self._queue.append((spec, seconds, prune, earlier))

    def in_flight(self) -> int:
        return len(self._queue)

    def collect(self, timeout: float | None = None) -> list[TrialOutput]:
        if not self._queue:
            return []
        spec, seconds, prune, earlier = self._queue.pop(0)
        try:
            return [self.run(spec, self._ctx, trial_deadline(spec, seconds), prune, earlier)]
        except AssayError:
            raise
        except Exception as exc:  # a family failing on this data must not end the search
            return [failed_output(spec, describe_exception(exc))]

    def run(
        self,
        spec: TrialSpec,
        ctx: TrialContext,
        deadline: Deadline,
        should_prune: Callable[[list[float]], bool],
        earlier: TrialOutput | None = None,
    ) -> TrialOutput:
        return run_folds(spec, ctx, deadline, should_prune, earlier)


def run_folds(
    spec: TrialSpec,
    ctx: TrialContext,
    deadline: Deadline,
    should_prune: Callable[[list[float]], bool],
    earlier: TrialOutput | None = None,
) -> TrialOutput:
    """Fit the trial's folds in order; with `earlier` (a screening trial of the same configuration,
    its first fold fitted), start after the folds it holds and keep its models and predictions."""
    family = get_family(spec.family)
    shape = (len(ctx.y), ctx.task.n_classes) if ctx.task.is_classification else (len(ctx.y),)
    oof = np.zeros(shape)
    held_count = np.zeros(len(ctx.y))
    models, fold_errors, iterations = [], [], []
    fit_s = predict_s = 0.0
    k = len(ctx.folds)
    screened = spec.origin == "screen"  # a screening trial measures the first fold only, in all its time
    if earlier is not None and earlier.models and earlier.oof is not None:
        models = list(earlier.models)
        done = len(models)
        fold_errors = list(earlier.result.fold_errors[:done])
        iterations = list(earlier.result.best_iterations[:done])
        fit_s, predict_s = earlier.result.fit_seconds, earlier.result.predict_seconds
        held = _held_rows(earlier.oof)
        oof[held] = earlier.oof[held]
        held_count[held] = 1
    for i, (tr, va) in enumerate(ctx.folds):
        if i < len(models):
            continue  # fitted by the screening trial this one continues
        fold_deadline = deadline.sooner(
            None if deadline.at is None else deadline.remaining() / (1 if screened else k - i)
        )
        model = family(
            ctx.task,
            spec.params,
            seed=spec.seed,
            metric=ctx.metric.name,
            n_threads=ctx.n_threads,
            device=ctx.device,
        )
        X_tr, X_va = ctx.X.iloc[tr], ctx.X.iloc[va]
        model.fit(X_tr, ctx.y[tr], X_val=X_va, y_val=ctx.y[va], deadline=fold_deadline)
        start = time.perf_counter()
        fold_pred = model.predict_raw(X_va)
        predict_s += time.perf_counter() - start
        oof[va] += fold_pred
        held_count[va] += 1
        fit_s += model.fit_seconds_
        models.append(model)
        iterations.append(model.best_iteration_)
        with warnings.catch_warnings():  # a block of one class (time-ordered folds) has no ROC AUC: NaN
            warnings.simplefilter("ignore", UndefinedMetricWarning)
            fold_errors.append(ctx.metric.error(ctx.y[va], fold_pred, ctx.task.n_classes))
        if i + 1 < k and (screened or should_prune(fold_errors)):
            result = TrialResult(
                spec,
                "pruned",
                float(np.mean(fold_errors)),
                ctx.metric.from_error(np.mean(fold_errors)),
                tuple(fold_errors),
                fit_s,
                predict_s,
                tuple(iterations),
                message=f"screened on fold 1 of {k}" if screened else f"pruned after fold {i + 1} of {k}",
            )
            if screened and not model.cut_short_:  # its fold is kept, for the full trial that may continue it
                return TrialOutput(result, _mask_unheld(oof, held_count), models)
            if screened:  # stopped by its short allowance: the full trial, with more time, fits it again
                result = replace(result, message=f"{result.message}; cut short by its time, so not kept")
            return TrialOutput(result, None, [])
    held = held_count > 0
    oof = _mask_unheld(oof, held_count)
    error = ctx.metric.error(ctx.y[held], oof[held], ctx.task.n_classes)
    result = TrialResult(
        spec,
        "ok",
        float(error),
        ctx.metric.from_error(error),
        tuple(fold_errors),
        fit_s,
        predict_s,
        tuple(iterations),
        message="" if earlier is None or not earlier.models else f"fold 1 from {earlier.result.spec.name}",
    )
    return TrialOutput(result, oof, models)


def _mask_unheld(oof: np.ndarray, held_count: np.ndarray) -> np.ndarray:
    """Mean prediction per row over the folds that held it out; NaN for rows never held out."""
    held = held_count > 0
    return oof / np.where(held, held_count, np.nan).reshape(-1, *([1] * (oof.ndim - 1)))


def _held_rows(oof: np.ndarray) -> np.ndarray:
    return ~np.isnan(oof.reshape(len(oof), -1)).any(axis=1)
