"""Where the model errs: slices of the data with the highest error, the worst-predicted rows, the
confusion matrix, residuals for regression, and calibration with the Brier score for classes.

Everything is computed from predictions on rows the model did not train on: out-of-fold
predictions at fit time, or the user's test rows when the report is regenerated with them. The
results are small plain dicts, so they go into the model folder and the report JSON as they are.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from assay.evaluate.uncertainty import mean_interval

_EPS = 1e-15
MAX_SLICES = 10
WORST_ROWS = 10
MAX_CONFUSION_CLASSES = 30
RESIDUAL_POINTS = 1_000


def row_loss(task, y: np.ndarray, raw: np.ndarray) -> np.ndarray:
    """Per-row error: -log p(true class) for classes, |residual| for amounts."""
    if task.is_classification:
        return -np.log(np.clip(raw[np.arange(len(y)), y.astype(int)], _EPS, 1.0))
    return np.abs(y - raw)


def analyse(task, X: pd.DataFrame, y: np.ndarray, raw: np.ndarray, *, columns=None, seed: int = 0) -> dict:
    """The whole error analysis of predictions `raw` for rows X with labels y."""
    loss = row_loss(task, y, raw)
    out = {
        "n_rows": len(y),
        "loss": "log loss per row" if task.is_classification else "absolute error per row",
        "slices": slices(X, loss, task, y, raw),
        "worst_rows": worst_rows(X, y, raw, loss, task, columns=columns),
    }
    if task.is_classification:
        out["confusion"] = confusion(task, y, raw)
        out["calibration"] = calibration(task, y, raw, seed=seed)
    else:
        out["residuals"] = residuals(y, raw, seed=seed)
    return out


def slices(X: pd.DataFrame, loss: np.ndarray, task, y, raw, *, max_slices: int = MAX_SLICES) -> list[dict]:
    """Feature ranges and categories whose rows err most, ranked by the excess loss they carry
    ((slice mean - overall mean) x rows): a small slice that is a little worse matters less than
    a large one that is much worse. Slices need enough rows to say anything."""
    n = len(loss)
    overall = float(loss.mean()) if n else math.nan
    min_rows = max(20, int(0.01 * n))
    wrong = (np.argmax(raw, axis=1) != y) if task.is_classification else None
    found = []
    for name, col in X.items():
        for label, mask in _groups(col, min_rows):
            k = int(mask.sum())
            if k < min_rows or k == n:
                continue
            mean = float(loss[mask].mean())
            excess = (mean - overall) * k
            if mean <= overall:
                continue
            sd = float(loss[mask].std()) or 1e-12
            z = (mean - overall) / (sd / math.sqrt(k))
            row = {
                "column": str(name),
                "slice": label,
                "n": k,
                "share": k / n,
                "mean_loss": mean,
                "overall_loss": overall,
                "ratio": mean / overall if overall > 0 else math.inf,
                "z": z,
                "excess": excess,
            }
            if wrong is not None:
                row["error_rate"] = float(wrong[mask].mean())
                row["overall_error_rate"] = float(wrong.mean())
            found.append(row)
    found = [s for s in found if s["z"] > 2]
    found.sort(key=lambda s: -s["excess"])
    return found[:max_slices]


def _groups(col: pd.Series, min_rows: int):
    """(words, mask) for each slice of a column: quintile ranges of numbers, frequent categories,
    and the missing values of either."""
    missing = col.isna().to_numpy()
    if missing.sum() >= min_rows:
        yield "is missing", missing
    if isinstance(col.dtype, pd.CategoricalDtype) or not pd.api.types.is_numeric_dtype(col):
        counts = col.astype(object)[~missing].value_counts()
        for value in counts.index[:20]:
            yield f"= {value}", (col.astype(object) == value).to_numpy() & ~missing
        return
    values = col.to_numpy(dtype=float, na_value=np.nan)
    present = values[~np.isnan(values)]
    if len(np.unique(present)) <= 5:
        for v in np.unique(present):
            yield f"= {_num(v)}", values == v
        return
    edges = np.unique(np.quantile(present, [0, 0.2, 0.4, 0.6, 0.8, 1.0]))
    for i, (lo, hi) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        last = i == len(edges) - 2
        mask = (values >= lo) & ((values <= hi) if last else (values < hi))
        yield f"in [{_num(lo)}, {_num(hi)}{']' if last else ')'}", mask


def worst_rows(X: pd.DataFrame, y, raw, loss, task, *, columns=None, k: int = WORST_ROWS) -> list[dict]:
    """The k rows with the highest loss, with their feature values (the most important columns
    first when `columns` gives an order) as strings, for display."""
    order = np.argsort(-loss, kind="stable")[:k]
    shown = [c for c in dict.fromkeys([*(columns or []), *X.columns]) if c in X.columns][:8]
    rows = []
    for i in order:
        label = X.index[i]  # the row's own label: its position in the training table, for fit-time rows
        row = {"row": int(label) if isinstance(label, (int, np.integer)) else str(label), "loss": float(loss[i])}
        if task.is_classification:
            row["actual"] = _label(task, int(y[i]))
            row["predicted"] = _label(task, int(np.argmax(raw[i])))
            row["p_actual"] = float(raw[i, int(y[i])])
        else:
            row["actual"] = float(y[i])
            row["predicted"] = float(raw[i])
        row["features"] = {str(c): _cell(X[c].iloc[i]) for c in shown}
        rows.append(row)
    return rows


def confusion(task, y, raw) -> dict | None:
    if task.n_classes > MAX_CONFUSION_CLASSES:
        return None
    pred = np.argmax(raw, axis=1)
    k = task.n_classes
    matrix = np.zeros((k, k), dtype=int)
    np.add.at(matrix, (y.astype(int), pred), 1)
    return {"labels": [_label(task, i) for i in range(k)], "matrix": matrix.tolist()}


def calibration(task, y, raw, *, bins: int = 10, seed: int = 0) -> dict:
    """Reliability curve (predicted probability against observed frequency, in equal-count bins)
    and the Brier score. Binary: the positive class; multiclass: the top class's confidence
    against how often it is right."""
    y = y.astype(int)
    onehot = np.eye(task.n_classes)[y]
    brier = mean_interval(((raw - onehot) ** 2).sum(axis=1), seed=seed)
    if task.kind == "binary":
        p, hit, what = raw[:, 1], (y == 1).astype(float), f"P({_label(task, 1)})"
    else:
        p, hit, what = raw.max(axis=1), (np.argmax(raw, axis=1) == y).astype(float), "top-class confidence"
    order = np.argsort(p, kind="stable")
    groups = [g for g in np.array_split(order, min(bins, max(1, len(p) // 20))) if len(g)]
    curve = [{"predicted": float(p[g].mean()), "observed": float(hit[g].mean()), "n": len(g)} for g in groups]
    ece = float(sum(c["n"] * abs(c["predicted"] - c["observed"]) for c in curve) / max(len(p), 1))
    prior = np.bincount(y, minlength=task.n_classes) / max(len(y), 1)
    return {
        "brier": brier.to_dict(),
        "brier_baseline": float(((prior - onehot) ** 2).sum(axis=1).mean()),
        "ece": ece,
        "of": what,
        "curve": curve,
    }


def residuals(y, pred, *, seed: int = 0) -> dict:
    """A sample of (predicted, actual) points, and the mean residual per decile of predictions:
    a slope there is a systematic bias a scatter of noise hides."""
    resid = y - pred
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(y), min(len(y), RESIDUAL_POINTS), replace=False))
    order = np.argsort(pred, kind="stable")
    deciles = [
        {"predicted": float(pred[g].mean()), "mean_residual": float(resid[g].mean()), "n": len(g)}
        for g in np.array_split(order, min(10, max(1, len(y) // 20)))
        if len(g)
    ]
    return {
        "predicted": pred[idx].round(6).tolist(),
        "actual": y[idx].round(6).tolist(),
        "deciles": deciles,
        "mean_residual": float(resid.mean()),
        "quantiles": {
            q: float(v)
            for q, v in zip(
                ("p5", "p25", "p50", "p75", "p95"), np.quantile(resid, [0.05, 0.25, 0.5, 0.75, 0.95]), strict=True
            )
        },
    }


def _label(task, code: int):
    value = task.classes[code]
    return value.item() if isinstance(value, np.generic) else value


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return ""
    if isinstance(v, (float, np.floating)):
        return _num(float(v))
    return str(v)


def _num(v: float) -> str:
    if float(v).is_integer() and abs(v) < 1e15:
        return f"{int(v)}"
    return f"{v:.4g}"
