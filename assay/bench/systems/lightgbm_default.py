"""The reference: LightGBM with its default parameters, as a careful user would call it in five lines.

Only verbose=-1 (quiet) and random_state=0 (repeatable) are set. Non-numeric columns become pandas
`category` with the categories seen in training (unseen test values become missing), which is
LightGBM's own way of taking categoricals; targets are label-encoded in sorted class order.
Columns are renamed to positions because LightGBM rejects some characters in feature names.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np
import pandas as pd

from assay.bench.suite import class_key


def run(
    train: pd.DataFrame,
    test: pd.DataFrame,
    target: str,
    task: str,
    budget: float,
    seed: int,
    config: dict | None = None,
) -> dict:
    """`budget`, `seed` and `config` are ignored: the reference is LightGBM as it comes."""
    from lightgbm import LGBMClassifier, LGBMRegressor

    started = time.perf_counter()
    X_train, X_test = encode_features(train.drop(columns=[target]), test.drop(columns=[target]))
    if task == "regression":
        model = LGBMRegressor(verbose=-1, random_state=0)
        model.fit(X_train, train[target].to_numpy(dtype=float))
    else:
        keys = train[target].map(class_key)
        classes = sorted(set(keys), key=lambda c: (str(type(c)), c))
        codes = keys.map({c: i for i, c in enumerate(classes)}).to_numpy(dtype=np.int64)
        model = LGBMClassifier(verbose=-1, random_state=0)
        model.fit(X_train, codes)
    fit_s = time.perf_counter() - started

    started = time.perf_counter()
    if task == "regression":
        output = {"pred": np.asarray(model.predict(X_test), dtype=float)}
    else:
        proba = np.asarray(model.predict_proba(X_test), dtype=float)
        output = {"proba": proba, "classes": [classes[int(i)] for i in model.classes_]}
    predict_s = time.perf_counter() - started
    return {"fit_s": fit_s, "predict_s": predict_s, **output, "info": {"n_estimators": model.n_estimators}}


def encode_features(X_train: pd.DataFrame, X_test: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Numeric and bool columns as they are; everything else as `category` with the train categories."""
    X_train, X_test = X_train.copy(), X_test.copy()
    for col in X_train.columns:
        if pd.api.types.is_numeric_dtype(X_train[col]):
            continue
        values = pd.unique(X_train[col].dropna())
        with contextlib.suppress(TypeError):  # mixed types: keep the order of first appearance
            values = sorted(values)
        dtype = pd.CategoricalDtype(categories=pd.Index(values, dtype=object))
        X_train[col] = X_train[col].astype(object).astype(dtype)
        X_test[col] = X_test[col].astype(object).astype(dtype)
    names = [f"f{i}" for i in range(X_train.shape[1])]
    X_train.columns, X_test.columns = names, names
    return X_train, X_test
