"""The shared protocol split and metric on small generated frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assay.bench import suite
from assay.bench.suite import BenchError, load_suite, protocol_split


def frame_with_rare_class(n=200, seed=0):
    rng = np.random.default_rng(seed)
    y = np.where(rng.random(n) < 0.3, "b", "a").astype(object)
    y[:5] = None  # missing target
    y[5] = "singleton"  # one member: stratification cannot keep it
    return pd.DataFrame({"x": rng.normal(size=n), "c": rng.choice(["u", "v"], size=n), "y": y})


def test_classification_split_drops_missing_and_singletons():
    frame = frame_with_rare_class()
    train, test = protocol_split(frame, "y", "multiclass")
    assert len(train) + len(test) == 200 - 5 - 1
    assert len(test) == int(np.ceil(0.2 * 194))
    for part in (train, test):
        assert part["y"].notna().all()
        assert "singleton" not in set(part["y"])
        assert list(part.index) == list(range(len(part)))
    kept = frame[frame["y"].isin(["a", "b"])]
    overall = (kept["y"] == "b").mean()
    assert abs((test["y"] == "b").mean() - overall) < 0.02  # stratified
    assert abs((train["y"] == "b").mean() - overall) < 0.02


def test_split_is_fixed():
    a, _ = protocol_split(frame_with_rare_class(), "y", "multiclass")
    b, _ = protocol_split(frame_with_rare_class(), "y", "multiclass")
    pd.testing.assert_frame_equal(a, b)


def test_regression_split_sizes():
    frame = pd.DataFrame({"x": np.arange(100.0), "y": np.r_[np.nan, np.arange(99.0)]})
    train, test = protocol_split(frame, "y", "regression")
    assert (len(train), len(test)) == (79, 20)


def test_single_usable_class_is_refused():
    frame = pd.DataFrame({"x": range(10), "y": ["a"] * 9 + ["b"]})
    with pytest.raises(BenchError):
        protocol_split(frame, "y", "binary")


def test_metric_matches_classes_by_label_not_position():
    y = pd.Series([1, 0, 1, 0])
    proba = np.array([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7], [0.6, 0.4]])  # columns: class 0, class 1
    straight = suite.test_error("binary", y, proba, [0, 1])
    flipped = suite.test_error("binary", y, proba[:, ::-1], [1.0, 0.0])  # floats match ints
    assert straight.value == flipped.value == 1.0
    assert straight.error == suite.ERROR_FLOOR


def test_multiclass_log_loss_and_unseen_class():
    y = pd.Series(["a", "b", "c"])
    proba = np.array([[0.5, 0.5], [0.25, 0.75], [0.5, 0.5]])
    score = suite.test_error("multiclass", y, proba, ["a", "b"])  # "c" never seen: probability 0
    expected = -np.mean(np.log([0.5, 0.75, 1e-15 / (1 + 1e-15)]))
    assert score.value == pytest.approx(expected)
    assert score.extra_value == pytest.approx(2 / 3)


def test_regression_metric():
    score = suite.test_error("regression", [1.0, 2.0, 3.0], [1.0, 2.0, 5.0])
    assert score.metric == "rmse" and score.value == pytest.approx(np.sqrt(4 / 3))
    assert score.extra_metric == "r2"


def test_load_suite_resolves_paths(tmp_path):
    (tmp_path / "suites").mkdir()
    path = tmp_path / "suites" / "s.yaml"
    path.write_text("datasets:\n  - {name: d, path: pmlb/d/d.tsv.gz, target: target, task: binary}\n")
    [spec] = load_suite(path)
    assert spec.path == tmp_path.resolve() / "pmlb/d/d.tsv.gz" and spec.task == "binary"
    path.write_text("datasets:\n  - {name: d, path: x.csv, target: t, task: ranking}\n")
    with pytest.raises(BenchError):
        load_suite(path)
