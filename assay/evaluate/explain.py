"""Explanations: permutation importance for any model, and per-prediction contributions from the
gradient-boosting libraries' own exact tree explainers.

- Permutation importance asks how much worse the model gets when one column's values are
  shuffled among the rows, on rows it did not train on. It works for any model, the whole
  ensemble included, and measures what the model uses, not what correlates with the target.
- Contributions split one prediction into a baseline plus one amount per column (TreeSHAP:
  LightGBM `pred_contrib`, XGBoost `pred_contribs`, CatBoost `ShapValues`). They are exact for a
  tree model in its margin space (log-odds, or the value for regression). The ensemble blends
  probabilities, so its contributions are the weight-averaged margins of its boosted members;
  members of other families are left out and the share they carry is reported.

Columns the preprocessor expanded (date parts, text statistics) are summed back to the column
the user knows: contributions add, and permuting a source column moves all its parts together.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import pandas as pd

from assay.ensemble.calibrate import apply_temperature
from assay.errors import ConfigError, problem
from assay.models.base import categorical_columns, codes_matrix
from assay.search.budget import Deadline

GBDT_FAMILIES = ("lightgbm", "xgboost", "catboost")
IMPORTANCE_ROWS = 1_000


def source_groups(preprocessor, columns) -> dict[str, list[str]]:
    """{column the user gave: the model columns made from it}."""
    expanded = {p.name for p in getattr(preprocessor, "plans_", []) if p.kind in ("datetime", "text")}
    groups: dict[str, list[str]] = {}
    for col in columns:
        base = col.split("__")[0] if "__" in col and col.split("__")[0] in expanded else col
        groups.setdefault(base, []).append(col)
    return groups


# ---- permutation importance ------------------------------------------------------------------


def permutation_importance(
    predict_raw: Callable[[pd.DataFrame], np.ndarray],
    X: pd.DataFrame,
    y: np.ndarray,
    task,
    metric,
    groups: dict[str, list[str]],
    *,
    n_repeats: int = 3,
    seed: int = 0,
    deadline: Deadline | None = None,
    max_rows: int = IMPORTANCE_ROWS,
) -> dict:
    """Error increase when each group's columns are permuted (together), averaged over repeats.
    Permuted copies go through the model in batches (one call per batch: the per-call overhead
    of an ensemble of fold models dominates on small tables); the measured cost of each batch
    sizes the next, and columns the deadline leaves unmeasured are listed."""
    deadline = deadline or Deadline.never()
    rng = np.random.default_rng(seed)
    if len(X) > max_rows:
        keep = np.sort(rng.choice(len(X), max_rows, replace=False))
        X, y = X.iloc[keep], y[keep]
    start = time.perf_counter()
    base = metric.error(y, predict_raw(X), task.n_classes)
    per_group = (time.perf_counter() - start) * n_repeats  # first guess; measured from the first batch on
    if per_group > 0.9 * deadline.remaining():
        n_repeats, per_group = 1, per_group / n_repeats
        if per_group > 0.9 * deadline.remaining():
            return {"status": "skipped", "reason": "not enough time left"}
    names, results, size = list(groups), [], 1
    while len(results) < len(names):
        left = deadline.remaining()
        fits = len(names) if math.isinf(left) else int(0.9 * left / max(per_group, 1e-6))
        batch = names[len(results) : len(results) + max(0, min(size, fits))]
        if not batch:
            break
        start = time.perf_counter()
        results += _permuted_errors(predict_raw, X, y, task, metric, groups, batch, n_repeats, base, rng)
        per_group = (time.perf_counter() - start) / len(batch)
        size = 8
    results.sort(key=lambda r: -r["importance"])
    n = len(X)
    unmeasured = names[len(results) :]
    return {
        "status": "ok",
        "metric": metric.name,
        "base_score": metric.from_error(base),
        "n_rows": n,
        "n_repeats": n_repeats,
        "features": results,
        "unmeasured": unmeasured,
        "words": f"{n:,} held-out rows, {n_repeats} shuffle(s) per column"
        + (f"; {len(unmeasured)} column(s) not measured (time)" if unmeasured else ""),
    }


def _permuted_errors(predict_raw, X, y, task, metric, groups, batch, n_repeats, base, rng) -> list[dict]:
    copies = []
    for name in batch:
        for _ in range(n_repeats):
            Xc = X.copy()
            order = rng.permutation(len(X))
            for col in groups[name]:
                values = X[col]
                if isinstance(values.dtype, pd.CategoricalDtype):
                    Xc[col] = pd.Categorical.from_codes(values.cat.codes.to_numpy()[order], dtype=values.dtype)
                else:
                    Xc[col] = values.to_numpy()[order]
            copies.append(Xc)
    raw = predict_raw(pd.concat(copies))  # the index is kept: a routed predictor reads it
    n, out = len(X), []
    for i, name in enumerate(batch):
        drops = [
            metric.error(y, raw[(i * n_repeats + r) * n : (i * n_repeats + r + 1) * n], task.n_classes) - base
            for r in range(n_repeats)
        ]
        out.append(
            {
                "feature": name,
                "importance": float(np.mean(drops)),
                "std": float(np.std(drops, ddof=1)) if n_repeats > 1 else None,
            }
        )
    return out


# ---- the ensemble, model by model -------------------------------------------------------------


def leaf_models(ensemble) -> list[tuple[float, object]]:
    """(weight in the blend, fitted model) for every model inside the ensemble's bags."""
    from assay.ensemble.bagging import FULL_WEIGHT

    out = []
    for w, bag in zip(ensemble.weights, ensemble.members, strict=True):
        full = getattr(bag, "full", None)
        share = FULL_WEIGHT if full is not None else 0.0
        out += [(w * (1 - share) / len(bag.members), m) for m in bag.members]
        if full is not None:
            out.append((w * share, full))
    return out


def fold_predictor(ensemble, fold: int) -> Callable[[pd.DataFrame], np.ndarray]:
    """The ensemble as it stood on fold `fold`: each member's model for that fold, blended with
    the ensemble's weights; it never saw that fold's held-out rows."""

    def predict(X):
        blend = sum(
            w * bag.members[fold].predict_raw(X) for w, bag in zip(ensemble.weights, ensemble.members, strict=True)
        )
        return apply_temperature(blend, ensemble.temperature) if ensemble.task.is_classification else blend

    return predict


def routed_predictor(ensemble, fold_of: np.ndarray) -> Callable[[pd.DataFrame], np.ndarray]:
    """Predictions for training rows (X's index = row position), each row by the fold models that
    held it out: out-of-fold predictions for any perturbed copy of the rows."""

    def predict(X):
        folds = fold_of[X.index.to_numpy()]
        out = None
        for f in np.unique(folds):
            at = np.flatnonzero(folds == f)
            raw = fold_predictor(ensemble, int(f))(X.iloc[at])
            if out is None:
                out = np.zeros((len(X), *raw.shape[1:]))
            out[at] = raw
        return out

    return predict


def fold_assignment(folds, n: int) -> np.ndarray:
    """The first fold that holds each row out (-1: never held out)."""
    fold_of = np.full(n, -1)
    for f, (_, va) in reversed(list(enumerate(folds))):
        fold_of[va] = f
    return fold_of


# ---- contributions ---------------------------------------------------------------------------


def contributions(
    models: list[tuple[float, object]],
    X: pd.DataFrame,
    task,
    groups: dict[str, list[str]],
    explain_class: np.ndarray | None = None,
) -> dict:
    """Per-row contributions by source column, the baseline, and what they explain.

    `explain_class` is one class code per row (classification); binary defaults to the second
    class, multiclass to the predicted one, which the caller passes.
    """
    boosted = [(w, m) for w, m in models if m.family in GBDT_FAMILIES]
    if not boosted:
        families = sorted({m.family for _, m in models})
        raise ConfigError(
            problem(
                f"per-row contributions need a gradient-boosting member; this model has only {families}",
                where="explain",
                fix="refit with families including lightgbm, xgboost or catboost, or use permutation importance "
                "in the report",
            )
        )
    total = sum(w for w, _ in models)
    weight = sum(w for w, _ in boosted)
    if task.kind == "binary":
        explain_class = np.ones(len(X), dtype=int)
    acc = None
    for w, m in boosted:
        c = native_contributions(m, X, task, explain_class)
        acc = c * (w / weight) if acc is None else acc + c * (w / weight)
    position = {col: i for i, col in enumerate(X.columns)}
    by_source = {name: acc[:, [position[c] for c in cols]].sum(axis=1) for name, cols in groups.items()}
    space = {
        "binary": f"log-odds of {task.classes[1]!r}" if task.is_classification else "",
        "multiclass": "raw score (softmax logit) of the explained class",
        "regression": "predicted value",
    }[task.kind]
    return {
        "features": pd.DataFrame(by_source, index=X.index),
        "baseline": acc[:, -1],
        "space": space,
        "explained_share": weight / total if total else 0.0,
        "members": sorted({getattr(m, "family", "") for _, m in boosted}),
    }


def native_contributions(model, X: pd.DataFrame, task, explain_class=None) -> np.ndarray:
    """(n, columns + 1) contributions of one tree model, the last column its baseline, for the
    class `explain_class[i]` of each row (classification) or the value (regression)."""
    k = task.n_classes
    if model.family == "lightgbm":
        c = model.booster_.predict(codes_matrix(X), pred_contrib=True, num_iteration=model.best_iteration_)
        if task.kind == "multiclass":
            c = c.reshape(len(X), k, -1)
    elif model.family == "xgboost":
        c = model.booster_.predict(model._matrix(X), pred_contribs=True, iteration_range=(0, model.best_iteration_))
    elif model.family == "catboost":
        import catboost

        from assay.models.catboost import _frame

        pool = catboost.Pool(_frame(X), cat_features=categorical_columns(X))
        c = model.model_.get_feature_importance(pool, type="ShapValues")
        if task.kind == "multiclass" and c.ndim == 3 and c.shape[1] != k:  # a fold that missed a class
            full = np.zeros((len(X), k, c.shape[2]))
            full[:, np.asarray(model.model_.classes_, dtype=int)] = c
            c = full
    else:
        raise ValueError(f"no native contributions for family {model.family!r}")
    c = np.asarray(c, dtype=float)
    if c.ndim == 3:
        return c[np.arange(len(X)), np.asarray(explain_class, dtype=int)]
    return c


def mean_abs(contrib: dict) -> list[dict]:
    """Global view: mean |contribution| per column, largest first."""
    frame = contrib["features"]
    values = frame.abs().mean(axis=0).sort_values(ascending=False)
    return [{"feature": str(k), "mean_abs": float(v)} for k, v in values.items()]


def row_explanations(contrib: dict, rows, top: int = 8) -> list[dict]:
    """The largest contributions of each row in `rows` (positions), for display."""
    frame = contrib["features"]
    out = []
    for i in rows:
        values = frame.iloc[i]
        order = values.abs().sort_values(ascending=False).index[:top]
        rest = float(values.drop(order).sum())
        out.append(
            {
                "row": int(frame.index[i]) if isinstance(frame.index[i], (int, np.integer)) else str(frame.index[i]),
                "baseline": float(contrib["baseline"][i]),
                "contributions": [{"feature": str(f), "value": float(values[f])} for f in order],
                "rest": rest,
                "total": float(contrib["baseline"][i] + values.sum()),
            }
        )
    return out


def explain_predictions(ensemble, preprocessor, task, X: pd.DataFrame, explain_class=None) -> pd.DataFrame:
    """One row per input row: the prediction, the class explained, the baseline, and each input
    column's contribution; baseline + contributions = the boosted members' blended margin.
    `explain_class`: a class label to explain for every row (default: the predicted class, or
    the second class of a binary task)."""
    Xp = preprocessor.transform(X)
    raw = ensemble.predict_raw(Xp)
    codes = None
    if task.is_classification:
        codes = np.argmax(raw, axis=1)
        if explain_class is not None:
            keys = [str(c) for c in task.classes]
            if str(explain_class) not in keys:
                raise ConfigError(
                    problem(
                        f"class {explain_class!r} is not one of {list(task.classes)}",
                        where="explain",
                        fix="name one of the model's classes",
                    )
                )
            codes = np.full(len(Xp), keys.index(str(explain_class)))
    contrib = contributions(leaf_models(ensemble), Xp, task, source_groups(preprocessor, Xp.columns), codes)
    out = pd.DataFrame(index=X.index)
    if task.is_classification:
        out["predicted"] = task.decode(np.argmax(raw, axis=1))
        explained = np.ones(len(Xp), dtype=int) if task.kind == "binary" else codes
        out["explained_class"] = task.decode(explained)
    else:
        out["predicted"] = raw
    out["baseline"] = contrib["baseline"]
    features = contrib["features"]
    features.index = X.index
    out = pd.concat([out, features], axis=1)
    out.attrs.update(space=contrib["space"], explained_share=contrib["explained_share"], members=contrib["members"])
    return out
