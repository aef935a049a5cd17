"""Intervals cover the true value at about the stated rate, and the fast weighted bootstrap is the
same metric as the one the search uses."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from assay.evaluate.metrics import METRICS
from assay.evaluate.uncertainty import (
    Interval,
    bootstrap_scores,
    disagreement,
    fold_interval,
    mean_interval,
    metric_interval,
    metric_intervals,
    paired_difference,
)

SIMULATIONS = 200


def _binary(rng, n, d=1.0):
    """Scores from two normals d apart: the true ROC AUC is Phi(d / sqrt 2)."""
    y = (rng.random(n) < 0.4).astype(int)
    s = rng.normal(size=n) + d * y
    p = 1 / (1 + np.exp(-s))
    return y, np.column_stack([1 - p, p])


def _coverage(draw, metric, truth, n_classes=2, n=300):
    rng = np.random.default_rng(42)
    hits = 0
    for i in range(SIMULATIONS):
        y, raw = draw(rng, n)
        iv = metric_interval(METRICS[metric], y, raw, n_classes, n_boot=200, seed=i)
        hits += iv.contains(truth)
    return hits / SIMULATIONS


def test_auc_interval_covers_the_true_auc_about_95_percent_of_the_time():
    truth = stats.norm.cdf(1.0 / np.sqrt(2))
    assert 0.90 <= _coverage(_binary, "roc_auc", truth) <= 0.99


def test_accuracy_interval_covers_the_true_accuracy():
    def draw(rng, n):
        y = rng.integers(0, 3, n)
        right = rng.random(n) < 0.7  # the true accuracy
        pred = np.where(right, y, (y + 1 + rng.integers(0, 2, n)) % 3)
        raw = np.full((n, 3), 0.1)
        raw[np.arange(n), pred] = 0.8
        return y, raw

    assert 0.90 <= _coverage(draw, "accuracy", 0.7, 3) <= 0.99


def test_rmse_interval_covers_the_true_rmse():
    def draw(rng, n):
        y = rng.normal(size=n) * 5
        return y, y + rng.normal(size=n) * 2.0  # true RMSE 2

    assert 0.88 <= _coverage(draw, "rmse", 2.0, 0) <= 0.99


def test_mean_interval_covers_the_true_mean():
    rng = np.random.default_rng(0)
    hits = sum(mean_interval(rng.exponential(1.0, 200), seed=i).contains(1.0) for i in range(SIMULATIONS))
    assert 0.88 <= hits / SIMULATIONS <= 0.99


@pytest.mark.parametrize("k", [2, 3])
def test_the_weighted_metrics_equal_the_search_metrics(k):
    rng = np.random.default_rng(k)
    n = 500
    y = rng.integers(0, k, n)
    raw = rng.dirichlet(np.ones(k), n)
    raw[np.arange(n), y] += 0.4
    raw = np.round(raw / raw.sum(axis=1, keepdims=True), 2)  # ties, as real models produce
    raw[:, 0] = 1 - raw[:, 1:].sum(axis=1)
    for name in ("roc_auc", "log_loss", "accuracy", "balanced_accuracy", "f1"):
        iv = metric_interval(METRICS[name], y, raw, k, n_boot=50)
        assert iv.value == pytest.approx(METRICS[name].score(y, raw, k))
        assert iv.low <= iv.value <= iv.high, name
    # a replicate whose counts are all one is the plain metric
    from assay.evaluate.uncertainty import _weighted_scorer

    for name in ("roc_auc", "log_loss", "accuracy", "balanced_accuracy", "f1"):
        got = _weighted_scorer(name, y, raw, k)(np.ones((1, n)))[0]
        assert got == pytest.approx(METRICS[name].score(y, raw, k), abs=1e-9), name


def test_regression_metrics_and_one_call_for_many():
    rng = np.random.default_rng(1)
    y = rng.normal(size=400) * 3 + 100
    pred = y + rng.normal(size=400)
    got = metric_intervals([METRICS[m] for m in ("rmse", "mae", "r2")], y, pred, n_boot=50)
    for name, iv in got.items():
        assert iv.value == pytest.approx(METRICS[name].score(y, pred)) and iv.low < iv.value < iv.high


def test_paired_difference_sees_a_real_gap_that_two_separate_intervals_blur():
    rng = np.random.default_rng(3)
    y, good = _binary(rng, 600, d=1.2)
    worse = good.copy()
    worse[:, 1] = np.clip(good[:, 1] + rng.normal(scale=0.1, size=600), 0, 1)
    worse[:, 0] = 1 - worse[:, 1]
    diff = paired_difference(METRICS["roc_auc"], y, good, worse, 2)
    assert diff.value > 0 and diff.low > 0
    a, b = (metric_interval(METRICS["roc_auc"], y, raw, 2) for raw in (good, worse))
    assert a.low < b.high  # on their own, the two intervals overlap


def test_fold_interval_and_disagreement():
    iv = fold_interval([0.80, 0.82, 0.81, 0.79, 0.83])
    assert iv.low < 0.81 < iv.high and iv.method == "folds" and iv.n == 5
    a = Interval(0.80, 0.78, 0.82, 1000, "bootstrap")
    assert disagreement(a, Interval(0.81, 0.79, 0.83, 1000, "bootstrap")) < 1.96
    assert disagreement(a, Interval(0.90, 0.88, 0.92, 1000, "bootstrap")) > 1.96


def test_bootstrap_is_reproducible_and_chunked_for_large_tables():
    rng = np.random.default_rng(0)
    y, raw = _binary(rng, 30_000)
    a = bootstrap_scores("roc_auc", y, raw, 2, n_boot=20, seed=5)
    b = bootstrap_scores("roc_auc", y, raw, 2, n_boot=20, seed=5)
    assert np.array_equal(a, b) and np.std(a) > 0
