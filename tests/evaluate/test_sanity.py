"""The label-shuffle check fires on a constructed leak and stays quiet without one; seed spread;
validation against test."""

from __future__ import annotations

import numpy as np
import pandas as pd

from assay.evaluate.diagnose import Refitter
from assay.evaluate.metrics import get_metric
from assay.evaluate.sanity import label_shuffle, seed_spread, validation_vs_test
from assay.evaluate.uncertainty import Interval
from assay.search.budget import Deadline
from assay.task import Task

BINARY = Task("binary", (0, 1))
AUC = get_metric("roc_auc", BINARY)


def _table(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"])
    X["group"] = rng.integers(0, n // 8, n)  # about 8 rows per group
    y = ((X.a + 0.5 * X.b + 0.5 * rng.normal(size=n)) > 0).to_numpy().astype(int)
    cut = int(0.8 * n)
    return X, y, (np.arange(cut), np.arange(cut, n))


def _refitter(X, y, fold):
    params = {"num_leaves": 15, "learning_rate": 0.1, "min_child_samples": 10}
    return Refitter("lightgbm", params, X, y, fold, BINARY, AUC, seed=0, n_threads=1)


def test_label_shuffle_fires_when_the_target_is_encoded_on_all_rows():
    X, y, fold = _table()

    def leaky_features(labels):
        """The classic mistake: a target encoding fitted on every row, validation rows included."""
        out = X.copy()
        out["group_rate"] = pd.Series(labels).groupby(X["group"]).transform("mean").to_numpy()
        return out

    result = label_shuffle(_refitter(leaky_features(y), y, fold), Deadline.never(), 0.3, features=leaky_features)
    assert result["status"] == "leak" and result["fired"], result
    assert result["shuffled_score"] > result["chance_score"] + 0.03
    assert "leak" in result["words"]


def test_label_shuffle_stays_quiet_on_an_honest_pipeline():
    X, y, fold = _table(seed=1)
    result = label_shuffle(_refitter(X, y, fold), Deadline.never(), 0.3)
    assert result["status"] == "ok" and not result["fired"], result
    assert abs(result["shuffled_score"] - 0.5) < 0.1


def test_label_shuffle_fires_when_validation_rows_are_also_training_rows():
    X, y, (tr, va) = _table(seed=2)
    overlapping = (np.concatenate([tr, va]), va)  # a split bug: the held-out rows were trained on too
    params = {"num_leaves": 64, "learning_rate": 0.3, "min_child_samples": 2, "lambda_l2": 0.0}
    refitter = Refitter("lightgbm", params, X.drop(columns="group"), y, overlapping, BINARY, AUC, n_threads=1)
    assert label_shuffle(refitter, Deadline.never(), 0.3)["fired"]


def test_label_shuffle_is_skipped_when_there_is_no_time():
    X, y, fold = _table(seed=3)
    refitter = _refitter(X, y, fold)
    refitter.reference_seconds = 100.0
    assert label_shuffle(refitter, Deadline.after(0.5), 0.3)["status"] == "skipped"


def test_seed_spread_reports_the_noise_floor():
    X, y, fold = _table(seed=4)
    refitter = _refitter(X, y, fold)
    refitter.params = {**refitter.params, "feature_fraction": 0.5, "bagging_fraction": 0.7}
    result = seed_spread(refitter, Deadline.never(), 600, None, n_seeds=3)
    assert result["status"] == "ok" and len(result["scores"]) == 3
    assert result["std"] >= 0 and "seeds" in result["words"]


def test_validation_and_test_disagreeing_beyond_their_intervals_is_flagged():
    val = Interval(0.90, 0.88, 0.92, 5000, "bootstrap")
    assert not validation_vs_test("roc_auc", val, Interval(0.895, 0.875, 0.915, 2000, "bootstrap"))["disagree"]
    far = validation_vs_test("roc_auc", val, Interval(0.80, 0.78, 0.82, 2000, "bootstrap"))
    assert far["disagree"] and "different population" in far["words"]
