"""A conformance check every model family must pass, shipped with the package so a family
written outside this repository can be held to the same Model contract (assay.models.base).

`check_model(Family, "binary")` fits on a small generated table with NaN in numeric and
category columns and raises AssertionError, naming the family and the broken promise, if any of
these fail: prediction shapes and probabilities, determinism, seed reproducibility, save/load
round trip, a usable model under an already-expired deadline, and in-bounds search defaults.
"""

from __future__ import annotations

import tempfile
import time

import numpy as np
import pandas as pd

from assay.search.budget import Deadline
from assay.search.space import Choice, Float, Int
from assay.task import Task

_EXPIRED_SECONDS = 10.0  # an expired deadline must still give a model within this long


def make_frame(kind: str, n_rows: int = 200, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, Task]:
    """A small table with signal: 3 numeric columns (some NaN) and one category column (some NaN)."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f"num{i}": rng.normal(size=n_rows) for i in range(3)})
    X["cat"] = pd.Categorical(rng.choice(["a", "b", "c"], size=n_rows), categories=["a", "b", "c"])
    score = X["num0"] - 0.5 * X["num1"] + X["cat"].cat.codes.to_numpy() - 1
    X.loc[rng.random(n_rows) < 0.1, "num2"] = np.nan
    X.loc[rng.random(n_rows) < 0.05, "cat"] = np.nan
    if kind == "regression":
        return X, score.to_numpy() + 0.1 * rng.normal(size=n_rows), Task("regression")
    if kind == "binary":
        return X, (score > 0).to_numpy().astype(np.int64), Task("binary", (0, 1))
    y = np.digitize(score, np.quantile(score, [1 / 3, 2 / 3])).astype(np.int64)
    return X, y, Task("multiclass", (0, 1, 2))


def check_model(family_cls, task_kind: str, params: dict | None = None) -> None:
    """Check `family_cls` against the Model contract on a `task_kind` problem; raise AssertionError."""
    name = f"{family_cls.__name__} ({task_kind})"
    X, y, task = make_frame(task_kind)
    train, val = slice(0, 150), slice(150, None)
    X_tr, y_tr, X_va, y_va = X.iloc[train], y[train], X.iloc[val], y[val]

    _check_space(family_cls, task, X, name)

    def fit(**kwargs):
        return family_cls(task, params, seed=1, n_threads=1).fit(X_tr, y_tr, **kwargs)

    plain = fit()
    _check_output(plain, X, task, f"{name} without X_val")
    model = fit(X_val=X_va, y_val=y_va)
    pred = _check_output(model, X, task, f"{name} with X_val")
    assert np.array_equal(pred, model.predict_raw(X)), f"{name}: predict_raw is not deterministic"
    again = fit(X_val=X_va, y_val=y_va).predict_raw(X)
    assert np.array_equal(pred, again), f"{name}: refitting with the same seed changed predictions"

    with tempfile.TemporaryDirectory() as tmp:
        model.save(tmp)
        loaded = type(model).load(tmp)
        assert np.array_equal(pred, loaded.predict_raw(X)), f"{name}: predictions changed after save -> load"

    if family_cls.truncatable:
        start = time.perf_counter()
        rushed = family_cls(task, params, seed=1, n_threads=1)
        rushed.fit(X_tr, y_tr, X_val=X_va, y_val=y_va, deadline=Deadline(time.monotonic() - 1))
        took = time.perf_counter() - start
        assert took < _EXPIRED_SECONDS, f"{name}: fit took {took:.1f}s under an expired deadline"
        _check_output(rushed, X, task, f"{name} under an expired deadline")

    if task_kind == "multiclass":  # a fold that never saw the last class must still answer K columns
        seen = y_tr < task.n_classes - 1
        partial = family_cls(task, params, seed=1, n_threads=1).fit(X_tr[seen], y_tr[seen])
        _check_output(partial, X, task, f"{name} trained without class {task.n_classes - 1}")


def _check_output(model, X, task, name) -> np.ndarray:
    raw = model.predict_raw(X)
    if task.is_classification:
        assert raw.shape == (len(X), task.n_classes), f"{name}: predict_raw shape {raw.shape}"
        assert np.allclose(raw.sum(axis=1), 1.0), f"{name}: class probabilities do not sum to 1"
    else:
        assert raw.shape == (len(X),), f"{name}: predict_raw shape {raw.shape}, expected ({len(X)},)"
    assert np.all(np.isfinite(raw)), f"{name}: predict_raw has non-finite values"
    return raw


def _check_space(family_cls, task, X, name) -> None:
    space = family_cls.search_space(task, len(X), X.shape[1])
    assert isinstance(space, dict) and space, f"{name}: search_space must be a non-empty dict"
    for key, dim in space.items():
        if isinstance(dim, Choice):
            assert dim.default in dim.options, f"{name}: default of {key!r} is not one of its options"
        elif isinstance(dim, (Float, Int)):
            assert dim.low <= dim.default <= dim.high, f"{name}: default of {key!r} is outside [{dim.low}, {dim.high}]"
            assert not dim.log or dim.low > 0, f"{name}: log-scaled {key!r} needs a positive lower bound"
        else:
            raise AssertionError(f"{name}: {key!r} is not a Float, Int or Choice")
