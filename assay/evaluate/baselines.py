"""Trivial baselines, so a score means something: the class frequencies (or the mean) and a plain
linear model, each measured on the same kind of rows as the model it stands beside.

An AUC of 0.85 is excellent where a linear model gets 0.60 and unremarkable where it gets 0.84;
without the baseline the reader cannot tell which.
"""

from __future__ import annotations

import numpy as np

from assay.models.base import Model
from assay.models.registry import get_family
from assay.search.budget import Deadline
from assay.task import Task

LINEAR_MAX_ROWS = 20_000  # rows the linear baseline trains on: more changes little, costs linearly


def fit_prior(y: np.ndarray, task: Task) -> list[float]:
    """Class frequencies (classification) or the mean (regression), as a JSON-able list."""
    if task.is_classification:
        counts = np.bincount(np.asarray(y, dtype=int), minlength=task.n_classes).astype(float)
        return (counts / max(counts.sum(), 1.0)).tolist()
    return [float(np.mean(y))]


def prior_raw(prior: list[float], n: int, task: Task) -> np.ndarray:
    """The constant prediction of a prior for n rows, in the model's raw output format."""
    if task.is_classification:
        return np.tile(np.asarray(prior, dtype=float), (n, 1))
    return np.full(n, prior[0], dtype=float)


def prior_oof(y: np.ndarray, folds, task: Task) -> np.ndarray:
    """Out-of-fold predictions of the prior: each fold's rows get their training part's
    frequencies, exactly as a model would; NaN where a row was never held out."""
    shape = (len(y), task.n_classes) if task.is_classification else (len(y),)
    total, count = np.zeros(shape), np.zeros(len(y))
    for tr, va in folds:
        total[va] += prior_raw(fit_prior(y[tr], task), len(va), task)
        count[va] += 1
    held = np.where(count > 0, count, np.nan)
    return total / (held[:, None] if total.ndim == 2 else held)


def fit_linear(X, y, fold, task: Task, metric, deadline: Deadline, seed: int = 0, n_threads=None):
    """A default linear model (logistic regression / ridge) on the fold's training rows, at most
    LINEAR_MAX_ROWS of them, or None with the reason when the time left cannot cover it."""
    tr, _ = fold
    if len(tr) > LINEAR_MAX_ROWS:
        tr = np.sort(np.random.default_rng(seed).choice(tr, LINEAR_MAX_ROWS, replace=False))
    family = get_family("linear")
    if not family.available():
        return None, "the linear family is not installed"
    guess = family.estimate_seconds(len(tr), 0, X.shape[1], task.n_classes)
    if deadline.at is not None and guess > deadline.remaining():
        return None, f"skipped: a linear fit would take about {guess:.1f} s, more than the time left"
    model: Model = family(task, {}, seed=seed, metric=metric.name, n_threads=n_threads)
    try:
        model.fit(X.iloc[tr], y[tr], deadline=deadline)
    except Exception as exc:  # a baseline failing must not fail the fit; the report says so
        return None, f"the linear model failed: {type(exc).__name__}: {str(exc)[:200]}"
    return model, f"default {'logistic regression' if task.is_classification else 'ridge'} on {len(tr):,} rows"
