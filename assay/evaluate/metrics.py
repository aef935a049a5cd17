"""Metrics, each oriented two ways: `score` as people read it, `error` (lower is better) for search.

Every metric takes encoded labels and the model's raw output: class probabilities of shape
(n, K) for classification, values of shape (n,) for regression. The search, the ensemble and
the leaderboard all use these same functions, so the number that drives the search is the
number the user asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from sklearn import metrics as skm

from assay.errors import ConfigError, problem
from assay.task import Task

_EPS = 1e-15


@dataclass(frozen=True)
class Metric:
    name: str
    tasks: tuple[str, ...]
    greater_is_better: bool
    _fn: Callable[[np.ndarray, np.ndarray, int], float]
    perfect: float  # the best possible score, so distances to it compare across datasets

    def score(self, y: np.ndarray, raw: np.ndarray, n_classes: int = 0) -> float:
        return float(self._fn(np.asarray(y), np.asarray(raw), n_classes))

    def error(self, y: np.ndarray, raw: np.ndarray, n_classes: int = 0) -> float:
        """Lower is better, whatever the metric, so search code never branches on direction."""
        s = self.score(y, raw, n_classes)
        return -s if self.greater_is_better else s

    def from_error(self, error: float) -> float:
        return -error if self.greater_is_better else error

    def regret(self, error: float) -> float:
        """How far an error is from perfect: >= 0, comparable as a ratio between trials."""
        return max(error - self.error_floor, 0.0)

    @property
    def error_floor(self) -> float:
        return -self.perfect if self.greater_is_better else self.perfect


def _roc_auc(y, p, k):
    if p.ndim == 2 and p.shape[1] == 2:
        return skm.roc_auc_score(y, p[:, 1])
    return skm.roc_auc_score(y, p, multi_class="ovr", labels=np.arange(k))


def _log_loss(y, p, k):
    p = np.clip(p, _EPS, 1 - _EPS)
    p = p / p.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(p[np.arange(len(y)), y])))


def _labels(p):
    return np.argmax(p, axis=1)


def _f1(y, p, k):
    return skm.f1_score(y, _labels(p), average="binary" if k == 2 else "macro")


METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("roc_auc", ("binary", "multiclass"), True, _roc_auc, 1.0),
        Metric("log_loss", ("binary", "multiclass"), False, _log_loss, 0.0),
        Metric("accuracy", ("binary", "multiclass"), True, lambda y, p, k: skm.accuracy_score(y, _labels(p)), 1.0),
        Metric(
            "balanced_accuracy",
            ("binary", "multiclass"),
            True,
            lambda y, p, k: skm.balanced_accuracy_score(y, _labels(p)),
            1.0,
        ),
        Metric("f1", ("binary", "multiclass"), True, _f1, 1.0),
        Metric("rmse", ("regression",), False, lambda y, p, k: float(np.sqrt(np.mean((y - p) ** 2))), 0.0),
        Metric("mae", ("regression",), False, lambda y, p, k: float(np.mean(np.abs(y - p))), 0.0),
        Metric("r2", ("regression",), True, lambda y, p, k: skm.r2_score(y, p), 1.0),
    ]
}

DEFAULT_METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}


def get_metric(name: str | None, task: Task) -> Metric:
    """The user's metric, checked against the task, or the task's default."""
    name = name or DEFAULT_METRIC[task.kind]
    key = name.lower().replace("-", "_")
    if key not in METRICS:
        raise ConfigError(problem(f"unknown metric {name!r}", where="metric", fix=f"use one of {', '.join(METRICS)}"))
    metric = METRICS[key]
    if task.kind not in metric.tasks:
        usable = [m.name for m in METRICS.values() if task.kind in m.tasks]
        raise ConfigError(
            problem(
                f"metric {name!r} does not apply to a {task.kind} task",
                where="metric",
                fix=f"use one of {', '.join(usable)}",
            )
        )
    return metric


def evaluate_all(task: Task, y: np.ndarray, raw: np.ndarray) -> dict[str, float]:
    """Every metric that applies to the task, for evaluation reports."""
    out = {}
    for m in METRICS.values():
        if task.kind in m.tasks:
            try:
                out[m.name] = m.score(y, raw, task.n_classes)
            except ValueError:  # e.g. ROC AUC when the evaluation rows hold one class only
                out[m.name] = float("nan")
    return out
