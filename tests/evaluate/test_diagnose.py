"""Learning curves and their verdict on constructed cases: a model that cannot fit, one that
memorises noise, and one that is fine."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assay.evaluate.diagnose import Refitter, prior_error, rounds_curve, size_curve, verdict
from assay.evaluate.metrics import get_metric
from assay.models.registry import get_family
from assay.search.budget import Deadline
from assay.task import Task

BINARY = Task("binary", (0, 1))


def _data(n, seed, *, flip=0.0, circle=False):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 5)), columns=[f"x{i}" for i in range(5)])
    signal = (X.x0**2 + X.x1**2 - 1.4) if circle else (X.x0 + 0.5 * X.x1 + 0.3 * rng.normal(size=n))
    y = (signal > 0).to_numpy().astype(int)
    flips = rng.random(n) < flip
    y[flips] = 1 - y[flips]
    cut = int(0.8 * n)
    return X, y, (np.arange(cut), np.arange(cut, n))


def _diagnose(X, y, fold, params, metric_name):
    metric = get_metric(metric_name, BINARY)
    family = get_family("lightgbm")
    tr, va = fold
    model = family(BINARY, params, seed=0, metric=metric.name, n_threads=1)
    model.fit(X.iloc[tr], y[tr], X_val=X.iloc[va], y_val=y[va])
    rounds = rounds_curve(model, X, y, fold, BINARY, metric)
    refitter = Refitter("lightgbm", params, X, y, fold, BINARY, metric, 0, None, 1, model.fit_seconds_)
    size = size_curve(refitter, model, Deadline.never())
    base = prior_error(y[tr], y[refitter.valid_rows], BINARY, metric)
    return verdict(metric, base, size, rounds), size, rounds


def test_a_model_too_constrained_to_learn_is_under_fitting():
    X, y, fold = _data(1200, 0, circle=True)
    params = {"num_leaves": 2, "learning_rate": 0.01, "n_estimators": 20, "min_child_samples": 20}
    v, _, rounds = _diagnose(X, y, fold, params, "log_loss")
    assert v["label"] == "under-fitting", v
    assert rounds["extended_to"] and rounds["extended_to"] > rounds["trained"]  # trained on, as an experiment
    assert any("capacity" in a or "longer" in a for a in v["advice"])


def test_a_flexible_model_on_noisy_labels_is_over_fitting():
    X, y, fold = _data(500, 1, flip=0.35)
    params = {"num_leaves": 64, "min_child_samples": 2, "learning_rate": 0.3, "lambda_l2": 0.0}
    v, _, _ = _diagnose(X, y, fold, params, "roc_auc")
    assert v["label"] == "over-fitting", v
    assert v["gain_train"] - v["gain_valid"] > 0.2
    assert any("regularise" in a for a in v["advice"])


def test_a_sensible_model_on_clean_data_is_fine():
    X, y, fold = _data(1500, 2)
    v, size, rounds = _diagnose(X, y, fold, {"num_leaves": 8, "learning_rate": 0.1, "min_child_samples": 20}, "roc_auc")
    assert v["label"] == "fine", v
    assert [p["n"] for p in size["points"]] == sorted(p["n"] for p in size["points"])  # smallest first
    assert size["points"][-1]["n"] == len(fold[0])  # the last point is the search's own model
    assert rounds["best_round"] in rounds["rounds"]
    assert len(v["evidence"]) >= 3


@pytest.mark.parametrize("family", ["xgboost", "catboost"])
def test_rounds_curves_for_the_other_boosting_libraries(family):
    X, y, fold = _data(400, 3)
    metric = get_metric("roc_auc", BINARY)
    tr, va = fold
    model = get_family(family)(BINARY, {}, seed=0, metric="roc_auc", n_threads=1)
    model.fit(X.iloc[tr], y[tr], X_val=X.iloc[va], y_val=y[va])
    rounds = rounds_curve(model, X, y, fold, BINARY, metric, n_points=6)
    assert len(rounds["train_error"]) == len(rounds["rounds"]) >= 3
    assert rounds["valid_error"][-1] < rounds["valid_error"][0]  # more rounds helped on validation


def test_verdict_without_a_curve_says_so():
    assert verdict(get_metric("rmse", Task("regression")), 1.0, None, None)["label"] == "unknown"
