import numpy as np
import pandas as pd
import pytest

from assay import ConfigError, TargetError
from assay.evaluate.metrics import METRICS, get_metric
from assay.task import detect_task


@pytest.mark.parametrize(
    ("values", "kind"),
    [
        (["a", "b", "a", "b"], "binary"),
        (["a", "b", "c", "a"], "multiclass"),
        ([0, 1, 1, 0], "binary"),
        ([1, 2, 3, 4, 5, 1], "multiclass"),
        ([0.5, 1.25, 3.0, 2.0], "regression"),
        (list(range(100)), "regression"),
        ([True, False, True], "binary"),
    ],
)
def test_task_detection(values, kind):
    assert detect_task(pd.Series(values)).kind == kind


def test_task_override_and_encoding_round_trip():
    y = pd.Series([3, 1, 2, 3, 1])
    task = detect_task(y, "multiclass")
    codes = task.encode(y)
    assert list(task.decode(codes)) == [3, 1, 2, 3, 1]
    assert detect_task(pd.Series([1.0, 2.0, 3.0]), "regression").kind == "regression"


def test_task_errors():
    with pytest.raises(TargetError, match="single class"):
        detect_task(pd.Series(["a", "a", None]))
    with pytest.raises(TargetError, match="not numeric"):
        detect_task(pd.Series(["x", "y", "z"]), "regression")
    with pytest.raises(ConfigError, match="unknown task"):
        detect_task(pd.Series([1, 2]), "ranking")


def test_metric_orientation_and_choice():
    task = detect_task(pd.Series(["a", "b"]))
    y = np.array([0, 1, 1, 0])
    good = np.array([[0.9, 0.1], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
    bad = good[:, ::-1]
    for name in ("roc_auc", "log_loss", "accuracy", "balanced_accuracy", "f1"):
        m = get_metric(name, task)
        assert m.error(y, good, 2) < m.error(y, bad, 2), name
    assert get_metric(None, task).name == "roc_auc"
    with pytest.raises(ConfigError, match="does not apply"):
        get_metric("rmse", task)
    with pytest.raises(ConfigError, match="unknown metric"):
        get_metric("auc-pr", task)


def test_regression_metrics_match_definitions():
    y, p = np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, 5.0])
    assert METRICS["rmse"].score(y, p) == pytest.approx(np.sqrt(4 / 3))
    assert METRICS["mae"].score(y, p) == pytest.approx(2 / 3)
    assert METRICS["r2"].score(y, y) == 1.0
