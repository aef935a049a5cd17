"""A few rows through LightGBM's single-row C API: the same numbers as Booster.predict, bit for bit."""

from __future__ import annotations

import pickle
import threading

import numpy as np
import pandas as pd
import pytest

from assay.models import lightgbm_single_row as single_row
from assay.models.base import codes_matrix
from assay.models.lightgbm import LightGBMModel
from assay.preprocess.table import TablePreprocessor
from assay.task import Task


def _fitted(kind: str, seed: int = 0):
    rng = np.random.default_rng(seed)
    n = 400
    raw = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": np.where(rng.random(n) < 0.2, np.nan, rng.normal(size=n)),  # missing values
            "colour": rng.choice(["red", "green", "blue", None], n),  # a categorical with missing
        }
    )
    latent = raw["a"].to_numpy() + (raw["colour"] == "red").to_numpy() + rng.normal(0, 0.3, n)
    targets = {"binary": (latent > 0.5).astype(int), "multiclass": np.digitize(latent, [0.0, 1.0])}
    y = targets.get(kind, latent)
    task = Task(kind, tuple(range(len(np.unique(y))))) if kind != "regression" else Task("regression")
    X = TablePreprocessor(min_category_count=1).fit(raw).transform(raw)
    model = LightGBMModel(task, {"n_estimators": 40, "num_leaves": 8}, seed=0).fit(X, y)
    return model, X


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
def test_a_few_rows_score_exactly_as_a_batch(kind):
    model, X = _fitted(kind)
    whole = model.predict_raw(X)  # 400 rows: one Booster.predict call
    for start in range(0, 40, 3):
        for n in range(1, single_row.MAX_ROWS + 1):
            rows = X.iloc[start : start + n]
            np.testing.assert_array_equal(model.predict_raw(rows), whole[start : start + n])


def test_the_rounds_kept_are_the_rounds_scored():
    model, X = _fitted("binary")
    model.best_iteration_ = 7  # as early stopping would leave it
    expected = model.booster_.predict(codes_matrix(X.iloc[:1]), num_iteration=7)
    np.testing.assert_array_equal(model.predict_raw(X.iloc[:1])[:, 1], expected)


def test_a_model_that_scored_single_rows_still_pickles_and_scores():
    model, X = _fitted("multiclass")
    first = model.predict_raw(X.iloc[:1])
    copy = pickle.loads(pickle.dumps(model))  # Ray ships models between processes
    np.testing.assert_array_equal(copy.predict_raw(X.iloc[:1]), first)


def test_threads_scoring_at_once_get_their_own_rows_answer():
    model, X = _fitted("regression")
    whole = model.predict_raw(X)
    wrong: list[int] = []

    def score(offset: int) -> None:
        for i in range(offset, len(X), 4):
            if model.predict_raw(X.iloc[i : i + 1])[0] != whole[i]:
                wrong.append(i)

    threads = [threading.Thread(target=score, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_rows_of_the_wrong_width_are_refused_before_reaching_lightgbm():
    model, X = _fitted("binary")
    scorer = model._single_row_scorer()
    with pytest.raises(ValueError, match="expected rows of 3 features"):
        scorer.predict(np.zeros((1, 2), dtype=np.float32))


def test_without_the_c_entry_points_a_few_rows_still_score_through_booster_predict(monkeypatch):
    assert single_row.available()  # this LightGBM has them
    model, X = _fitted("binary")
    expected = model.predict_raw(X.iloc[:2])
    monkeypatch.setattr(single_row, "available", lambda: False)  # as with a LightGBM that moved them
    monkeypatch.setattr(single_row.SingleRowScorer, "predict", lambda *a: pytest.fail("the C path was used"))
    np.testing.assert_array_equal(model.predict_raw(X.iloc[:2]), expected)
