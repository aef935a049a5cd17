"""Run a trial in this process: one model per fold, out-of-fold predictions, fold errors.

Each fold gets an equal share of what is left of the trial's time, so a slow first fold
cannot starve the last ones. The pruning decision is the scheduler's; this only asks.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.exceptions import UndefinedMetricWarning

from assay.models.registry import get_family
from assay.search.budget import Deadline
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


@dataclass
class TrialOutput:
    result: TrialResult
    oof: np.ndarray | None  # out-of-fold predictions (NaN rows were never held out)
    models: list  # fitted fold models, in fold order


class InlineExecutor:
    def run(
        self, spec: TrialSpec, ctx: TrialContext, deadline: Deadline, should_prune: Callable[[list[float]], bool]
    ) -> TrialOutput:
        family = get_family(spec.family)
        shape = (len(ctx.y), ctx.task.n_classes) if ctx.task.is_classification else (len(ctx.y),)
        oof = np.zeros(shape)
        held_count = np.zeros(len(ctx.y))
        models, fold_errors, iterations = [], [], []
        fit_s = predict_s = 0.0
        k = len(ctx.folds)
        for i, (tr, va) in enumerate(ctx.folds):
            fold_deadline = deadline.sooner(None if deadline.at is None else deadline.remaining() / (k - i))
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
            if i + 1 < k and should_prune(fold_errors):
                return TrialOutput(
                    TrialResult(
                        spec,
                        "pruned",
                        float(np.mean(fold_errors)),
                        ctx.metric.from_error(np.mean(fold_errors)),
                        tuple(fold_errors),
                        fit_s,
                        predict_s,
                        tuple(iterations),
                        message=f"pruned after fold {i + 1} of {k}",
                    ),
                    None,
                    [],
                )
        held = held_count > 0
        oof = oof / np.where(held, held_count, np.nan).reshape(-1, *([1] * (oof.ndim - 1)))  # NaN: never held out
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
        )
        return TrialOutput(result, oof, models)
