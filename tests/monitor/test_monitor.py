"""A monitoring run end to end in Python, and performance over time with known answers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assay.errors import ConfigError, TargetError
from assay.evaluate.metrics import METRICS
from assay.monitor import PredictionLog, monitor, monitor_log, performance_over_time
from assay.monitor.performance import encode_labels
from assay.task import Task
from tests.conftest import make_frame


def test_rows_like_the_training_rows_fire_nothing(fitted, tables):
    result = monitor(fitted, tables["recent"])
    assert not result.fired and result.exit_code == 0
    roles = {f.role for f in result.drift.features}
    assert roles == {"input", "prediction", "target"}
    prediction = next(f for f in result.drift.features if f.role == "prediction")
    assert prediction.feature == "P(y=yes)" and prediction.psi < 0.1  # out-of-fold vs fold-routed: alike
    window = result.performance.windows[0]
    assert window.n == 600 and window.low < window.value < window.high and not window.worse
    assert result.to_dict()["performance"]["training"]["metric"] == "roc_auc"


def test_a_shifted_column_fires_with_its_reasons(model_folder, tables):
    result = monitor(model_folder, tables["shifted"])
    assert result.exit_code == 3
    fired = {(a.kind, a.subject) for a in result.alerts}
    assert ("drift", "a") in fired and ("prediction", "P(y=yes)") in fired
    assert ("multivariate", "rows") in fired
    assert not any(a.subject in ("b", "c", "d", "colour") for a in result.alerts)
    message = next(a.message for a in result.alerts if a.subject == "a")
    assert message.startswith("a: distribution shifted (PSI")


def test_a_labelled_window_worse_than_training_alerts(fitted):
    rows = make_frame(600, seed=21)
    rows["y"] = np.where(
        np.random.default_rng(0).random(600) < 0.3, rows["y"].map({"yes": "no", "no": "yes"}), rows["y"]
    )
    result = monitor(fitted, rows, multivariate=False)
    performance = [a for a in result.alerts if a.kind == "performance"]
    assert len(performance) == 1 and "worse than the training estimate" in performance[0].message


def test_monitor_a_logged_window(fitted, tmp_path):
    with PredictionLog(f"sqlite:///{tmp_path / 'r.db'}") as log:
        rows = make_frame(400, seed=31)
        X = rows.drop(columns="y")
        for start in range(0, 400, 100):
            part = X.iloc[start : start + 100]
            probs = fitted.predict_proba(part)
            rid = log.record("demo", 1, part, probs.idxmax(axis=1).tolist(), probs)
            log.feedback("demo", rid, rows["y"].iloc[start : start + 100].tolist())
        result = monitor_log(fitted, log, "demo", rows=100)
    assert not result.fired
    assert result.recent["n_rows"] == 400 and result.recent["n_labelled"] == 400 and result.recent["versions"] == ["1"]
    assert [w.n for w in result.performance.windows] == [100, 100, 100, 100]
    with PredictionLog(f"sqlite:///{tmp_path / 'r.db'}") as log, pytest.raises(Exception, match="no rows"):
        monitor_log(fitted, log, "unknown-name")


def test_performance_windows_by_rows_and_time_with_known_values():
    metric = METRICS["accuracy"]
    y = np.r_[np.zeros(100, dtype=int), np.ones(100, dtype=int)]
    right = np.c_[1 - y, y].astype(float)  # every prediction right
    raw = right.copy()
    raw[150:] = raw[150:, ::-1]  # the last 50 rows all wrong
    times = pd.date_range("2026-01-01", periods=200, freq="h", tz="UTC")
    report = performance_over_time(metric, y, raw, n_classes=2, rows=50, training={"value": 0.95})
    assert [w.value for w in report.windows] == [1.0, 1.0, 1.0, 0.0]
    assert [w.worse for w in report.windows] == [False, False, False, True]
    assert len(report.alerts) == 1 and report.alerts[0].values["window_start"] == "row 150"
    by_day = performance_over_time(metric, y, raw, n_classes=2, times=times, every="1D", threshold=0.9)
    assert [w.n for w in by_day.windows] == [24] * 8 + [8]  # windows under 30 rows are shown, not judged
    assert all(w.value is None for w in by_day.windows)
    assert by_day.alerts == [] and "not judged" in by_day.notes[0]
    early = performance_over_time(metric, y[:150], raw[:150], n_classes=2, rows=50, threshold=0.9)
    assert early.alerts == []


def test_only_the_latest_window_alerts_unless_asked():
    metric = METRICS["accuracy"]
    y = np.ones(120, dtype=int)
    raw = np.c_[np.zeros(120), np.ones(120)]
    raw[:40] = raw[:40, ::-1]  # the first window wrong, the later ones right
    assert performance_over_time(metric, y, raw, n_classes=2, rows=40, threshold=0.5).alerts == []
    every = performance_over_time(metric, y, raw, n_classes=2, rows=40, threshold=0.5, alert_on="all")
    assert len(every.alerts) == 1 and "below the threshold 0.5" in every.alerts[0].message
    with pytest.raises(ConfigError):
        performance_over_time(metric, y, raw, n_classes=2, every="1D")  # time windows need times


def test_labels_match_classes_by_spelling():
    task = Task("binary", (0, 1))
    assert list(encode_labels(task, pd.Series(["1", 0, 1.0, "0"]))) == [1, 0, 1, 0]
    with pytest.raises(TargetError, match="'2'"):
        encode_labels(task, pd.Series([2, 0]))
