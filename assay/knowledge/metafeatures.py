"""Meta-features: a task described by a short fixed-order vector, so past tasks can be compared.

Why these: warm starting and portfolio studies (auto-sklearn, TabRepo) find that size, column
kinds, class balance and a few "landmarkers" (the score of a tiny model) say most of what
predicts which configurations do well. Everything here is deterministic for a given table and
cheap: the landmarkers run on a seeded subsample of at most LANDMARK_ROWS rows, each with a
time cap, so describing a million-row table costs about as much as a thousand-row one.

Input is the preprocessed frame the models see (categories as `category` dtype) plus, optionally,
the schema, which alone still knows which columns were text or dates before preprocessing.
"""

from __future__ import annotations

import math
import time
import warnings

import numpy as np
import pandas as pd

LANDMARK_ROWS = 1_000
LANDMARK_SECONDS = 1.0  # per landmarker; a slower one reports NaN rather than hold up the fit

NAMES: tuple[str, ...] = (
    "n_rows",
    "n_cols",
    "log_rows",
    "log_cols",
    "log_rows_per_col",
    "share_numeric",
    "share_categorical",
    "share_text",
    "share_datetime",
    "n_classes",
    "class_entropy",
    "class_imbalance",
    "missing_share",
    "rows_with_missing_share",
    "mean_cardinality",
    "target_skew",
    "landmark_stump",
    "landmark_1nn",
    "landmark_naive_bayes",
)


def meta_features(X: pd.DataFrame, y, task, schema=None, seed: int = 0) -> dict[str, float]:
    """NAMES -> value (NaN where a feature does not apply, e.g. class entropy for regression)."""
    y = np.asarray(y)
    n, d = X.shape
    cats = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
    kinds = _kind_shares(X, cats, schema)
    out: dict[str, float] = {
        "n_rows": float(n),
        "n_cols": float(d),
        "log_rows": math.log1p(n),
        "log_cols": math.log1p(d),
        "log_rows_per_col": math.log1p(n) - math.log1p(d),
        **kinds,
        "missing_share": float(X.isna().to_numpy().mean()) if n and d else 0.0,
        "rows_with_missing_share": float(X.isna().any(axis=1).mean()) if n and d else 0.0,
        "mean_cardinality": float(np.mean([len(X[c].cat.categories) for c in cats])) if cats else 0.0,
    }
    if task.is_classification:
        counts = np.bincount(y.astype(int), minlength=task.n_classes).astype(float)
        p = counts[counts > 0] / counts.sum()
        out["n_classes"] = float(task.n_classes)
        out["class_entropy"] = float(-(p * np.log2(p)).sum())
        out["class_imbalance"] = float(p.max() / p.min())
        out["target_skew"] = math.nan
    else:
        out["n_classes"] = 0.0
        out["class_entropy"] = out["class_imbalance"] = math.nan
        std = float(np.std(y))
        out["target_skew"] = float(np.mean(((y - y.mean()) / std) ** 3)) if std > 0 else 0.0
    out.update(landmarkers(X, y, task, seed))
    return {name: out[name] for name in NAMES}


def as_vector(features: dict[str, float]) -> np.ndarray:
    return np.array([features.get(name, math.nan) for name in NAMES], dtype=float)


def _kind_shares(X: pd.DataFrame, cats: list, schema) -> dict[str, float]:
    if schema is not None:
        kinds = [c.kind for c in schema.columns if c.name != schema.target]
        kinds = [k for k in kinds if k not in ("identifier", "constant", "empty")] or ["numeric"]
        total = len(kinds)
        share = {k: sum(1 for x in kinds if x == k) / total for k in ("numeric", "categorical", "text", "datetime")}
        share["numeric"] += sum(1 for x in kinds if x == "boolean") / total  # booleans reach models as 0/1
    else:
        total = max(X.shape[1], 1)
        share = {"numeric": (X.shape[1] - len(cats)) / total, "categorical": len(cats) / total}
        share.update(text=0.0, datetime=0.0)
    return {f"share_{k}": float(v) for k, v in share.items()}


def landmarkers(X: pd.DataFrame, y: np.ndarray, task, seed: int = 0) -> dict[str, float]:
    """Cross-validated scores of three tiny models (accuracy for classes, R² for amounts):
    how far a single split, the nearest neighbour and a naive independence model get tells
    apart tables where trees, distances or linear models shine."""
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    names = ("landmark_stump", "landmark_1nn", "landmark_naive_bayes")
    rng = np.random.default_rng(seed)
    rows = np.arange(len(y)) if len(y) <= LANDMARK_ROWS else np.sort(rng.choice(len(y), LANDMARK_ROWS, replace=False))
    matrix = _numeric_matrix(X.iloc[rows])
    target = y[rows]
    if task.is_classification:
        _, counts = np.unique(target, return_counts=True)
        if len(counts) < 2 or counts.min() < 2:
            return dict.fromkeys(names, math.nan)
        folds = StratifiedKFold(min(3, int(counts.min())), shuffle=True, random_state=seed)
        models = [DecisionTreeClassifier(max_depth=1, random_state=seed), KNeighborsClassifier(1), GaussianNB()]
        scoring = "accuracy"
    else:
        if len(target) < 6:
            return dict.fromkeys(names, math.nan)
        folds = KFold(3, shuffle=True, random_state=seed)
        models = [DecisionTreeRegressor(max_depth=1, random_state=seed), KNeighborsRegressor(1), None]
        scoring = "r2"
    scaled = (matrix - matrix.mean(axis=0)) / np.where(matrix.std(axis=0) > 0, matrix.std(axis=0), 1.0)
    out = {}
    for name, model in zip(names, models, strict=True):
        if model is None:  # no naive Bayes for amounts: a linear fit plays the same "simple model" part
            from sklearn.linear_model import Ridge

            model = Ridge(1.0)
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                data = scaled if name == "landmark_1nn" else matrix
                score = float(np.mean(cross_val_score(model, data, target, cv=folds, scoring=scoring)))
            except ValueError:
                score = math.nan
        out[name] = score if time.perf_counter() - start < LANDMARK_SECONDS * 3 else math.nan
    return out


def _numeric_matrix(X: pd.DataFrame) -> np.ndarray:
    """Categories as their codes, missing as the column median: enough for landmarkers."""
    cols = []
    for c in X.columns:
        col = X[c]
        values = col.cat.codes.to_numpy(dtype=float) if isinstance(col.dtype, pd.CategoricalDtype) else None
        if values is None:
            values = col.to_numpy(dtype=float, na_value=np.nan)
        else:
            values[values < 0] = np.nan
        median = np.nanmedian(values) if np.isfinite(values).any() else 0.0
        cols.append(np.where(np.isfinite(values), values, median))
    return np.column_stack(cols) if cols else np.zeros((len(X), 1))


def describe_table(
    frame: pd.DataFrame, target: str, *, hints: dict | None = None, task: str | None = None, seed: int = 0
):
    """Meta-features of a raw table, prepared the way a fit prepares it (schema, cleaning,
    preprocessing), so a table described here and the same table fitted compare equal."""
    from assay.data.clean import clean_frame
    from assay.data.schema import infer_schema
    from assay.preprocess.table import TablePreprocessor
    from assay.task import detect_task

    frame = frame[frame[target].notna()].reset_index(drop=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = infer_schema(frame, target=target, hints=hints)
        frame, _ = clean_frame(frame, schema, target=target)
    X, y_raw = frame.drop(columns=[target]), frame[target]
    detected = detect_task(y_raw, task)
    Xp = TablePreprocessor().fit(X, schema).transform(X)
    return meta_features(Xp, detected.encode(y_raw), detected, schema, seed=seed)
