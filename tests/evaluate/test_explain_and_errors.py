"""Contributions add up to the model's own margin, permutation importance finds the signal,
expanded columns are explained under their own name, and error analysis finds the bad slice."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assay.ensemble import BaggedModel, EnsembleModel
from assay.evaluate import errors
from assay.evaluate.explain import explain_predictions, permutation_importance, source_groups
from assay.evaluate.metrics import get_metric
from assay.models.registry import get_family
from assay.preprocess.table import TablePreprocessor
from assay.task import Task, detect_task


def _frame(n=600, seed=0):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "signal": rng.normal(size=n),
            "noise": rng.normal(size=n),
            "colour": rng.choice(["red", "blue", "green"], n),
            "when": pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 600, n), unit="D"),
        }
    )
    score = 2 * frame.signal + (frame.colour == "red") + 0.3 * rng.normal(size=n)
    frame["y"] = np.where(score > 0.3, "yes", "no")
    return frame


def _fitted(family, frame, kind=None):
    y_raw = frame["y"]
    task = detect_task(y_raw, kind)
    X = frame.drop(columns="y")
    pre = TablePreprocessor().fit(X)
    Xp = pre.transform(X)
    model = get_family(family)(
        task, {"n_estimators": 60} if family != "catboost" else {"iterations": 60}, n_threads=1
    ).fit(Xp, task.encode(y_raw))
    ensemble = EnsembleModel(task, [BaggedModel(task, [model], f"{family}#0")], [1.0])
    return task, pre, X, Xp, ensemble, model


@pytest.mark.parametrize("family", ["lightgbm", "xgboost", "catboost"])
def test_contributions_add_up_to_the_models_log_odds(family):
    task, pre, X, Xp, ensemble, model = _fitted(family, _frame())
    out = explain_predictions(ensemble, pre, task, X.head(20))
    p = model.predict_raw(Xp.head(20))[:, 1]
    margin = out["baseline"] + out[["signal", "noise", "colour", "when"]].sum(axis=1)
    assert np.allclose(margin, np.log(p / (1 - p)), atol=1e-3)
    assert list(out.columns[:3]) == ["predicted", "explained_class", "baseline"]
    assert set(out["explained_class"]) == {"yes"}
    assert out[["signal"]].abs().mean().iloc[0] > out[["noise"]].abs().mean().iloc[0]


def test_multiclass_contributions_explain_the_predicted_class():
    frame = _frame()
    frame["y"] = pd.cut(frame.signal, [-np.inf, -0.5, 0.5, np.inf], labels=["lo", "mid", "hi"]).astype(str)
    task, pre, X, Xp, ensemble, model = _fitted("lightgbm", frame)
    out = explain_predictions(ensemble, pre, task, X.head(30))
    assert (out["explained_class"] == out["predicted"]).all()
    forced = explain_predictions(ensemble, pre, task, X.head(5), explain_class="hi")
    assert set(forced["explained_class"]) == {"hi"}


def test_date_parts_are_explained_under_the_date_column():
    task, pre, X, Xp, ensemble, _ = _fitted("lightgbm", _frame())
    groups = source_groups(pre, Xp.columns)
    assert len(groups["when"]) > 1 and all(c.startswith("when__") for c in groups["when"])
    assert set(groups) == {"signal", "noise", "colour", "when"}


def test_permutation_importance_ranks_the_signal_first():
    task, pre, X, Xp, ensemble, model = _fitted("lightgbm", _frame(seed=1))
    holdout = _frame(n=400, seed=2)
    Xh = pre.transform(holdout.drop(columns="y"))
    y = task.encode(holdout["y"])
    result = permutation_importance(
        model.predict_raw, Xh, y, task, get_metric("roc_auc", task), source_groups(pre, Xh.columns), n_repeats=2
    )
    ranked = [f["feature"] for f in result["features"]]
    assert ranked[0] == "signal" and ranked.index("colour") < ranked.index("noise")
    assert result["features"][0]["importance"] > 0.1 and not result["unmeasured"]


def test_error_analysis_finds_the_slice_the_model_gets_wrong():
    rng = np.random.default_rng(0)
    n = 2000
    X = pd.DataFrame({"age": rng.uniform(18, 80, n), "city": pd.Categorical(rng.choice(["a", "b", "c"], n))})
    task = Task("binary", ("no", "yes"))
    y = rng.integers(0, 2, n)
    p_right = np.where((X.city == "c").to_numpy(), 0.45, 0.9)  # the model is lost in city c
    raw = np.where(y == 1, p_right, 1 - p_right)
    raw = np.column_stack([1 - raw, raw])
    out = errors.analyse(task, X, y, raw)
    top = out["slices"][0]
    assert (top["column"], top["slice"]) == ("city", "= c") and top["error_rate"] > 0.5
    assert out["confusion"]["labels"] == ["no", "yes"] and np.sum(out["confusion"]["matrix"]) == n
    assert 0 <= out["calibration"]["brier"]["value"] <= 2 and len(out["worst_rows"]) == errors.WORST_ROWS


def test_regression_residuals():
    rng = np.random.default_rng(1)
    y = rng.normal(size=500) * 10
    pred = 0.8 * y  # shrunk towards the mean: a trend in the residuals
    out = errors.analyse(Task("regression"), pd.DataFrame({"x": y}), y, pred)
    deciles = out["residuals"]["deciles"]
    assert deciles[0]["mean_residual"] < 0 < deciles[-1]["mean_residual"]
    assert len(out["residuals"]["predicted"]) == 500
