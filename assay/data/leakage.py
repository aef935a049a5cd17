"""Leakage guards: columns and rows that make a model look better than it will ever be.

A leak is information the model would not have at prediction time. It makes validation scores
excellent and production predictions worthless, and nothing downstream can notice it, so it is
checked here, once, before the search. :func:`find_leaks` returns one :class:`Leak` per finding;
the fit reports every one, drops those of severity "exclude" with a loud warning, and keeps them
only with ``--allow-leaky``. Findings of severity "warn" are reported and left to the user.

The guards, why they exist, and when they fire:

  target_copy        exclude  The target under another name or spelling ("yes"/"no" for 1/0, a
                              label column next to its code, ``y * 2 + 3``): a column whose values
                              map one-to-one onto the target's, on >= 50 % of the rows (its
                              non-missing ones). A one-to-one map is only evidence when values
                              repeat (distinct values <= half the rows) or, for numbers, when the
                              column rises or falls strictly with the target; otherwise any column
                              of distinct values (an id) would pair off with a continuous target.
  perfect_predictor  exclude  A column recorded after the outcome (a refund date for churn, a
                              diagnosis code for the disease): one column alone predicts held-out
                              rows (near) perfectly. Scored with 3-fold cross-validation on a
                              sample of ``sample_rows`` rows (missing values are a value of their
                              own): categories and numbers with <= 64 distinct values by the
                              majority class (mean, for regression) per value; other numbers by
                              the same on 128 quantile bins, and, when that comes close, by a
                              decision tree of depth 6 (10 for regression) and, for regression, a
                              straight line. Classification fires when accuracy >= 0.99 *and* the
                              errors are <= 2 % of those of always guessing the majority class
                              (so a 99 %-majority target is not flagged by a useless column);
                              regression fires when out-of-fold R² >= 0.99. A strong but honest
                              column (85 % or even 97 % accurate) stays.
  identifier         warn     A row id carries no signal that generalises (at best the row order,
                              itself a leak). Columns the schema types "identifier"; without a
                              schema, integer or text columns (>= 20 rows) whose values are all
                              distinct. The fit drops identifier columns anyway; the warning says
                              why and how to keep one (``--types col=kind``).
  look_ahead         warn     In time-ordered data a timestamp later than the row's own time
                              ("closed_at" next to "created_at") is not known when the prediction
                              is made. With ``time_column``, every datetime column (by schema,
                              or without one by dtype) that is the same as or later than it in
                              >= 90 % of rows (and strictly later in some) is flagged. A warning
                              only: a due date set in advance is later too, and fine. A numeric
                              time column (a period number) is not compared: nothing says which
                              numbers are times. The time column itself is never excluded.
  shared_rows        warn     Rows of evaluation data that also appear in the training data score
                              as memorised, not predicted. :func:`shared_rows` counts exact matches
                              on the shared columns; :func:`row_hashes` lets a fitted model keep a
                              sorted uint64 hash per training row and check evaluation data later
                              without keeping the data.

Cost: everything is vectorised over a sample of ``sample_rows`` rows (one ``np.bincount`` per
column for the mapping scores); trees run only on the few numeric columns whose binned score
removes >= 80 % of the error. About 0.3 s for 50 columns x 20,000 rows on one core. Verdicts are
about the sample: a copy that differs from the target in a few unsampled rows is still reported.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from assay.data.schema import Schema, as_text, parse_dates, parse_numbers
from assay.errors import ConfigError, DataError, problem

KINDS = ("target_copy", "perfect_predictor", "identifier", "shared_rows", "look_ahead")
SEVERITIES = ("exclude", "warn")
FOLDS = 3
MIN_ACCURACY = 0.99  # classification: held-out accuracy of the column alone ...
MIN_ERROR_CUT = 0.98  # ... and the share of the majority guess's errors it removes
MIN_R2 = 0.99  # regression: out-of-fold R² of the column alone
MIN_COPY_COVERAGE = 0.5  # a copy must cover at least this share of the rows
LOOK_AHEAD_SHARE = 0.9  # share of rows where a timestamp is at or after the row's time
_MIN_ROWS = 30  # fewer labelled rows: the predictor checks are skipped (nothing to hold out)
_MAX_LEVELS = 64  # numbers with more distinct values are binned (and maybe tree-checked)
_BINS = 128
_DENSE_CELLS = 2_000_000  # above this many (fold, level, class) cells, count only the pairs seen
_SCREEN = 0.8  # a binned score this close to the bar earns the (slower) tree check
_TREE_DEPTH = {"classification": 6, "regression": 10}
_EXAMPLES = 5


@dataclass(frozen=True)
class Leak:
    """One finding: which column (None for rows), what kind, what assay does, and why."""

    column: str | None
    kind: str
    severity: str  # "exclude" | "warn"
    evidence: str

    def describe(self) -> str:
        """One plain line: what was found, the evidence, and what assay does about it."""
        name = repr(self.column)
        if self.kind == "target_copy":
            head = f"{name} is a copy or recoding of the target ({self.evidence})"
        elif self.kind == "perfect_predictor":
            head = (
                f"{name} alone predicts the target almost perfectly ({self.evidence}); it is "
                "probably recorded after the outcome and will not be known when predicting"
            )
        elif self.kind == "identifier":
            head = (
                f"{name} looks like a row identifier ({self.evidence}); ids do not generalise, so the "
                "fit drops identifier columns anyway (type it with --types if it is not an id)"
            )
        elif self.kind == "look_ahead":
            head = (
                f"{name} may look ahead in time ({self.evidence}); drop it if it is not known when "
                "the prediction is made"
            )
        elif self.kind == "shared_rows":
            head = (
                f"evaluation rows also in the training data ({self.evidence}); scores on them "
                "overstate performance, remove them for an honest estimate"
            )
        else:
            head = f"{name}: {self.kind} ({self.evidence})"
        if self.severity == "exclude":
            return f"LEAK: {head}. Excluded from the fit; --allow-leaky keeps it."
        return f"Possible leak: {head}."


def excluded_columns(leaks: list[Leak]) -> list[str]:
    """Columns the fit drops unless ``--allow-leaky``: those of severity "exclude", in order."""
    return list(dict.fromkeys(leak.column for leak in leaks if leak.severity == "exclude" and leak.column))


# ---- find_leaks ---------------------------------------------------------------------------------


def find_leaks(
    X: pd.DataFrame,
    y: pd.Series,
    task_kind: str,
    schema: Schema | None = None,
    *,
    time_column: str | None = None,
    sample_rows: int = 20_000,
    seed: int = 0,
) -> list[Leak]:
    """Leaky columns of ``X`` for predicting ``y`` (rows matched by position), in column order.

    ``task_kind`` is "binary", "multiclass" or "regression"; ``schema`` (from ``infer_schema``)
    supplies column kinds, datetime formats and numbers written as text; without one, dtypes
    decide. See the module docstring for each guard and its thresholds. Shared rows between
    training and evaluation data are checked by :func:`shared_rows`, not here.
    """
    if task_kind not in ("binary", "multiclass", "regression"):
        raise ConfigError(
            problem(f"unknown task {task_kind!r}", where="task", fix="use binary, multiclass or regression")
        )
    if len(X) != len(y):
        raise DataError(
            problem(
                f"features have {len(X):,} rows but the target has {len(y):,}",
                where="find_leaks",
                fix="pass the target of the same rows",
            )
        )
    if time_column is not None and time_column not in X.columns:
        raise ConfigError(problem(f"no column named {time_column!r}", where="time column", fix="name a column of X"))
    regression = task_kind == "regression"
    n = len(X)
    rows = np.arange(n)
    if n > sample_rows:
        rows = np.sort(np.random.default_rng(seed).choice(n, sample_rows, replace=False))
    Xs = X.iloc[rows]
    ys = pd.Series(np.asarray(y)[rows])
    if regression:
        yv = pd.to_numeric(ys, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        labelled = np.isfinite(yv)
    else:
        labelled = ys.notna().to_numpy()
    target = _Target(ys[labelled], regression, seed) if labelled.sum() >= _MIN_ROWS else None
    times = None
    if time_column is not None and _is_datetime(Xs[time_column], _ctype(schema, time_column)):
        times = _times(Xs[time_column], _ctype(schema, time_column))
    elif time_column is not None and not pd.api.types.is_numeric_dtype(Xs[time_column].dtype):
        times = _times(Xs[time_column], None)  # text: read as dates where it can be
        times = times if times.notna().mean() >= 0.9 else None

    leaks: list[Leak] = []
    for i, name in enumerate(X.columns):
        col, ctype = Xs.iloc[:, i], _ctype(schema, name)
        kind = ctype.kind if ctype is not None else None
        ident = _identifier(col, ctype) if name != time_column else None
        if ident:
            leaks.append(Leak(name, "identifier", "warn", ident))
        elif target is not None and kind not in ("constant", "identifier") and name != time_column:
            leak = _predictor_leak(name, col[labelled], ctype, target)
            if leak:
                leaks.append(leak)
        if times is not None and name != time_column and _is_datetime(col, ctype):
            ahead = _look_ahead(_times(col, ctype), times, time_column)
            if ahead:
                leaks.append(Leak(name, "look_ahead", "warn", ahead))
    return leaks


class _Target:
    """The sampled labelled target, factorised once, with its fold assignment."""

    def __init__(self, y: pd.Series, regression: bool, seed: int):
        self.regression, self.n = regression, len(y)
        try:
            self.codes, self.values = pd.factorize(y, sort=True)
        except TypeError:  # labels of mixed types
            self.codes, self.values = pd.factorize(y)
        self.k = len(self.values)
        self.folds = np.random.default_rng(seed + 1).permutation(self.n) % FOLDS
        if regression:
            self.y = pd.to_numeric(y, errors="coerce").to_numpy(dtype="float64")
            self.sst = float(((self.y - self.y.mean()) ** 2).sum())
            self.order = np.argsort(self.y, kind="stable")
        else:
            self.base_acc = float(np.bincount(self.codes).max() / self.n)


def _predictor_leak(name, col: pd.Series, ctype, t: _Target) -> Leak | None:
    """A target_copy or perfect_predictor Leak for one column, or None."""
    xc, levels = pd.factorize(col, sort=False)
    present = xc >= 0
    if len(levels) + (not present.all()) <= 1 or t.k <= 1:
        return None
    copy = _copy_evidence(xc, present, levels, col, t)
    if copy:
        return Leak(name, "target_copy", "exclude", copy)
    if t.regression and t.sst == 0:
        return None
    codes = np.where(present, xc, len(levels))  # missing: a level of its own
    x = _numbers(col, ctype)
    how = "one value at a time"
    if x is not None and len(levels) > _MAX_LEVELS:
        codes, how = _bin_codes(x), f"in {_BINS} quantile bins"
    score = _mapping_score(codes, t)
    if x is not None and len(levels) > _MAX_LEVELS and _close(score, t):
        for other, what in ((_tree_score(x, t), "a decision tree"), (_line_score(x, t), "a straight line")):
            if other is not None and other > score:
                score, how = other, what
    if not _flags(score, t):
        return None
    where = f"3-fold cross-validation on {t.n:,} rows, {how}"
    if t.regression:
        return Leak(name, "perfect_predictor", "exclude", f"R² {score:.3f} on held-out rows by itself; {where}")
    evidence = (
        f"accuracy {score:.3f} on held-out rows by itself vs {t.base_acc:.3f} for always guessing the "
        f"majority class; {where}"
    )
    return Leak(name, "perfect_predictor", "exclude", evidence)


def _copy_evidence(xc, present, levels, col: pd.Series, t: _Target) -> str | None:
    """Evidence that the column maps one-to-one onto the target, or None."""
    m = int(present.sum())
    if m < 2 or m < MIN_COPY_COVERAGE * t.n:
        return None
    nx = len(levels)  # every level occurs in a present row
    ny = t.k if m == t.n else int(np.count_nonzero(np.bincount(t.codes[present], minlength=t.k)))
    if not nx == ny >= 2:
        return None
    rows = "in every row" if m == t.n else f"in all {m:,} rows that have a value (of {t.n:,})"
    if nx > m / 2:  # values barely repeat: only a strictly monotone number counts
        return _monotone_evidence(col, present, t, rows) if t.regression else None
    pairs = np.unique(xc[present].astype(np.int64) * t.k + t.codes[present])
    if len(pairs) != nx:
        return None
    xs, ys = levels[pairs // t.k], t.values[pairs % t.k]
    if all(_same(a, b) for a, b in zip(xs, ys, strict=True)):
        return f"equal to the target {rows}"
    shown = ", ".join(f"{_show(a)} -> {_show(b)}" for a, b in zip(xs[:3], ys[:3], strict=True))
    more = f" and {nx - 3} more" if nx > 3 else ""
    return f"each of its {nx} values is one target value: {shown}{more}, {rows}"


def _monotone_evidence(col: pd.Series, present, t: _Target, rows: str) -> str | None:
    """Evidence that a numeric column rises or falls strictly with a numeric target, or None."""
    if pd.api.types.is_bool_dtype(col.dtype) or not pd.api.types.is_numeric_dtype(col.dtype):
        return None
    order = t.order[present[t.order]]
    x = col.to_numpy(dtype="float64", na_value=np.nan)[order]
    dx, dy = np.diff(x), np.diff(t.y[order])
    moves = dy > 0
    if not moves.any() or ((dx == 0) != ~moves).any():  # equal targets, equal values, and only then
        return None
    up, down = (dx[moves] > 0).all(), (dx[moves] < 0).all()
    if not (up or down):
        return None
    if np.array_equal(x, t.y[order]):
        return f"equal to the target {rows}"
    way = "rises" if up else "falls"
    return f"{way} strictly with the target: {int(moves.sum()) + 1:,} distinct values, one per target value, {rows}"


def _show(value) -> str:
    """A value as a user wrote it: 1 not np.int64(1) or 1.0, 'yes' with quotes."""
    value = value.item() if isinstance(value, np.generic) else value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return repr(value)


def _same(a, b) -> bool:
    try:
        return bool(a == b)
    except (TypeError, ValueError):
        return False


def _mapping_score(codes: np.ndarray, t: _Target) -> float:
    """Out-of-fold accuracy (or R²) of predicting each code's majority class (or mean), learned
    on the other folds; codes unseen there get the other folds' majority (or mean)."""
    m = int(codes.max()) + 1
    cell = t.folds * m + codes
    if not t.regression and FOLDS * m * t.k > _DENSE_CELLS:
        return _sparse_accuracy(codes, t)
    if not t.regression:
        per = np.bincount(cell * t.k + t.codes, minlength=FOLDS * m * t.k).reshape(FOLDS, m, t.k)
        train = per.sum(axis=0, keepdims=True) - per  # counts learned without each fold
        guess = train.argmax(axis=2)
        unseen = train.sum(axis=2) == 0
        fallback = train.sum(axis=1).argmax(axis=1)[:, None]
        guess = np.where(unseen, fallback, guess)
        correct = np.take_along_axis(per, guess[:, :, None], axis=2).sum()
        return float(correct / t.n)
    size = FOLDS * m
    cnt = np.bincount(cell, minlength=size).reshape(FOLDS, m).astype("float64")
    s1 = np.bincount(cell, weights=t.y, minlength=size).reshape(FOLDS, m)
    s2 = np.bincount(cell, weights=t.y * t.y, minlength=size).reshape(FOLDS, m)
    tc, ts = cnt.sum(axis=0) - cnt, s1.sum(axis=0) - s1
    fold_mean = ts.sum(axis=1, keepdims=True) / np.maximum(tc.sum(axis=1, keepdims=True), 1)
    pred = np.where(tc > 0, ts / np.maximum(tc, 1), fold_mean)
    sse = float((s2 - 2 * pred * s1 + cnt * pred * pred).sum())
    return 1.0 - max(sse, 0.0) / t.sst


def _sparse_accuracy(codes: np.ndarray, t: _Target) -> float:
    """What the dense count table in _mapping_score gives, for many levels x many classes: only
    the (level, class) pairs that occur are counted."""
    pair, inv = np.unique(codes.astype(np.int64) * t.k + t.codes, return_inverse=True)
    per = np.bincount(inv * FOLDS + t.folds, minlength=len(pair) * FOLDS).reshape(len(pair), FOLDS)
    train = per.sum(axis=1, keepdims=True) - per
    level, cls = pair // t.k, pair % t.k
    correct = 0
    for f in range(FOLDS):
        fallback = np.bincount(cls, weights=train[:, f], minlength=t.k).argmax()
        order = np.lexsort((-train[:, f], level))  # per level, the pair seen most often first
        best = order[np.r_[True, level[order][1:] != level[order][:-1]]]
        seen = train[best, f] > 0
        correct += per[best[seen], f].sum()
        unseen = np.isin(level, level[best[~seen]]) & (cls == fallback)
        correct += per[unseen, f].sum()
    return float(correct / t.n)


def _tree_score(x: np.ndarray, t: _Target) -> float | None:
    """Out-of-fold accuracy (or R²) of a depth-limited tree on the one column."""
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    X = x.reshape(-1, 1)
    if t.regression:
        model, target = DecisionTreeRegressor(max_depth=_TREE_DEPTH["regression"], random_state=0), t.y
    else:
        model, target = DecisionTreeClassifier(max_depth=_TREE_DEPTH["classification"], random_state=0), t.codes
    pred = np.empty(t.n, dtype="float64")
    for f in range(FOLDS):
        test = t.folds == f
        if test.all() or not test.any():
            return None
        pred[test] = model.fit(X[~test], target[~test]).predict(X[test])
    if t.regression:
        return 1.0 - float(((t.y - pred) ** 2).sum()) / t.sst
    return float((pred == t.codes).mean())


def _line_score(x: np.ndarray, t: _Target) -> float | None:
    """Out-of-fold R² of a straight line through the one column (missing x: the fold mean)."""
    if not t.regression:
        return None
    ok = np.isfinite(x)
    xs = np.where(ok, x, 0.0)
    parts = [np.bincount(t.folds, weights=w, minlength=FOLDS) for w in (ok * 1.0, xs, t.y * ok, xs * xs, xs * t.y * ok)]
    n, sx, sy, sxx, sxy = (p.sum() - p for p in parts)  # sums without each fold
    var = sxx - sx * sx / np.maximum(n, 1)
    slope = np.where(var > 0, (sxy - sx * sy / np.maximum(n, 1)) / np.where(var > 0, var, 1), 0.0)
    icpt = sy / np.maximum(n, 1) - slope * sx / np.maximum(n, 1)
    all_mean = np.array([t.y[t.folds != f].mean() for f in range(FOLDS)])
    pred = np.where(ok, icpt[t.folds] + slope[t.folds] * xs, all_mean[t.folds])
    return 1.0 - float(((t.y - pred) ** 2).sum()) / t.sst


def _flags(score: float, t: _Target) -> bool:
    if t.regression:
        return score >= MIN_R2
    base_err = 1.0 - t.base_acc
    return score >= MIN_ACCURACY and (1.0 - score) <= (1.0 - MIN_ERROR_CUT) * base_err


def _close(score: float, t: _Target) -> bool:
    """Worth a closer (tree) look: the binned score already removes most of the error."""
    if t.regression:
        return score >= _SCREEN
    return score - t.base_acc >= _SCREEN * (1.0 - t.base_acc)


def _bin_codes(x: np.ndarray) -> np.ndarray:
    """Quantile-bin codes 0..B-1 (ties share a bin), missing -> B."""
    ok = np.isfinite(x)
    edges = np.unique(np.quantile(x[ok], np.linspace(0, 1, _BINS + 1)[1:-1])) if ok.any() else np.array([])
    return np.where(ok, np.searchsorted(edges, np.where(ok, x, 0.0), side="right"), len(edges) + 1)


# ---- column views -------------------------------------------------------------------------------


def _ctype(schema: Schema | None, name):
    return schema[name] if schema is not None and name in schema else None


def _numbers(col: pd.Series, ctype) -> np.ndarray | None:
    """The column as floats (datetimes as their integer time, non-finite as NaN), or None when it
    holds neither numbers nor times."""
    kind = ctype.kind if ctype is not None else None
    details = ctype.details if ctype is not None else {}
    if pd.api.types.is_bool_dtype(col.dtype) or kind in ("categorical", "boolean", "text", "identifier"):
        return None
    if pd.api.types.is_numeric_dtype(col.dtype):
        x = col.to_numpy(dtype="float64", na_value=np.nan)
    elif pd.api.types.is_datetime64_any_dtype(col.dtype) or kind == "datetime":
        x = _as_float_time(_times(col, ctype))
    elif kind == "numeric" and details.get("from_text"):
        x = parse_numbers(as_text(col)).to_numpy(dtype="float64")
    else:
        return None
    return np.where(np.isfinite(x), x, np.nan)


def _is_datetime(col: pd.Series, ctype) -> bool:
    return pd.api.types.is_datetime64_any_dtype(col.dtype) or (ctype is not None and ctype.kind == "datetime")


def _times(col: pd.Series, ctype) -> pd.Series:
    """The column as naive datetimes (NaT where unreadable)."""
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        out = col
    elif ctype is not None and ctype.kind == "datetime" and ctype.details:
        text = col if pd.api.types.is_numeric_dtype(col.dtype) else as_text(col)
        out = parse_dates(text, ctype.details)
    else:
        out = pd.to_datetime(col, errors="coerce", format="mixed", utc=True)
    if getattr(out.dt, "tz", None) is not None:
        out = out.dt.tz_convert("UTC").dt.tz_localize(None)
    return out.dt.as_unit("us")  # one unit, so columns compare and hash alike (and 2300 AD fits)


def _as_float_time(times: pd.Series) -> np.ndarray:
    ok = times.notna().to_numpy()
    return np.where(ok, times.to_numpy().astype("int64").astype("float64"), np.nan)


def _identifier(col: pd.Series, ctype) -> str | None:
    if ctype is not None:
        return f"schema: {ctype.reason}" if ctype.kind == "identifier" else None
    kind = col.dtype
    if pd.api.types.is_bool_dtype(kind) or pd.api.types.is_float_dtype(kind) or not len(col):
        return None
    if not (
        pd.api.types.is_integer_dtype(kind) or pd.api.types.is_string_dtype(kind) or pd.api.types.is_object_dtype(kind)
    ):
        return None
    valid = col.dropna()
    if len(valid) < 20 or valid.nunique() < len(valid):
        return None
    if not pd.api.types.is_integer_dtype(kind):  # as the schema: ids are single words, not sentences
        probe = as_text(valid.head(200))
        if probe.str.count(r"\S+").mean() >= 2 or _times(probe, None).notna().mean() >= 0.9:
            return None
    return f"all {len(valid):,} values distinct"


def _look_ahead(other: pd.Series, times: pd.Series, time_column) -> str | None:
    both = (other.notna() & times.notna()).to_numpy()
    if both.sum() < 2:
        return None
    a, b = other.to_numpy()[both], times.to_numpy()[both]
    later_eq, later = float((a >= b).mean()), float((a > b).mean())
    if later_eq < LOOK_AHEAD_SHARE or later == 0:
        return None
    return (
        f"later than the row time {time_column!r} in {later:.0%} of {int(both.sum()):,} rows, "
        f"the same or later in {later_eq:.0%}"
    )


# ---- shared rows --------------------------------------------------------------------------------


def row_hashes(frame: pd.DataFrame, columns: list[str] | None = None) -> np.ndarray:
    """Sorted distinct uint64 hashes of the rows of ``frame[columns]`` (all columns by default).

    Columns are hashed in name order, and values are normalised first (numbers and booleans as
    floats, times as UTC nanoseconds, everything else as text; every missing value alike), so
    the same row hashes the same in a training frame and in evaluation data read separately. A
    fitted model keeps these (8 bytes a row) with the column list to check evaluation data later
    with :func:`shared_rows`.
    """
    return np.unique(_hash_rows(frame, list(frame.columns) if columns is None else list(columns)))


def shared_rows(train: pd.DataFrame | np.ndarray, other: pd.DataFrame, columns: list[str] | None = None) -> Leak | None:
    """Rows of ``other`` that also appear in the training data, as a "warn" Leak, or None.

    ``train`` is the training frame or its :func:`row_hashes` (then ``columns`` must be the
    columns those were computed on). Rows match when every value of ``columns`` agrees; by
    default the columns the two frames share. The evidence gives the count and up to five
    0-based row positions in ``other``.
    """
    if columns is None:
        if not isinstance(train, pd.DataFrame):
            raise ConfigError(
                problem(
                    "row hashes given without the columns they were computed on",
                    where="shared_rows",
                    fix="pass columns= as when calling row_hashes",
                )
            )
        columns = [c for c in train.columns if c in set(other.columns)]
    missing = [c for c in columns if c not in other.columns or (isinstance(train, pd.DataFrame) and c not in train)]
    if not columns or missing:
        what = f"columns {missing[:5]} are missing" if missing else "the two frames share no columns"
        raise ConfigError(
            problem(what, where="shared_rows", fix="compare frames with the same feature columns, or pass columns=")
        )
    known = row_hashes(train, columns) if isinstance(train, pd.DataFrame) else np.asarray(train, dtype="uint64")
    mine = _hash_rows(other, list(columns))
    pos = np.searchsorted(known, mine)
    hit = (pos < len(known)) & (known[np.minimum(pos, len(known) - 1)] == mine) if len(known) else mine != mine
    count = int(hit.sum())
    if not count:
        return None
    where = ", ".join(str(i) for i in np.flatnonzero(hit)[:_EXAMPLES])
    evidence = (
        f"{count:,} of {len(other):,} rows also appear in the training data, matching on "
        f"{len(columns)} columns (e.g. rows {where})"
    )
    return Leak(None, "shared_rows", "warn", evidence)


def _hash_rows(frame: pd.DataFrame, columns: list) -> np.ndarray:
    order = sorted(columns, key=str)
    norm = pd.DataFrame({str(c): _normal(frame[c]) for c in order}, index=pd.RangeIndex(len(frame)))
    return pd.util.hash_pandas_object(norm, index=False).to_numpy(dtype="uint64")


def _normal(col: pd.Series) -> np.ndarray:
    """Values that hash alike whatever the frame's dtypes: 3 == 3.0 == True-ish 1.0, "a" == "a"."""
    dtype = col.dtype
    if pd.api.types.is_bool_dtype(dtype) or (
        pd.api.types.is_numeric_dtype(dtype) and not isinstance(dtype, pd.CategoricalDtype)
    ):
        x = col.to_numpy(dtype="float64", na_value=np.nan)
        return np.where(np.isnan(x), np.nan, x + 0.0)  # one NaN, and -0.0 -> 0.0
    if pd.api.types.is_datetime64_any_dtype(dtype):
        t = _times(col, None)
        return np.where(t.notna(), t.to_numpy().astype("int64").astype(str), None).astype(object)
    values = col.astype(object).to_numpy()
    missing = pd.isna(values)
    return np.where(missing, None, values.astype(str)).astype(object)
