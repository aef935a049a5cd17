"""How training rows are divided for validation: k-fold with out-of-fold predictions, or a
holdout when the data is too large for k fits within the budget. The choice and its reason are
reported, because a validation score means little without knowing how it was measured.

Shuffled folds assume rows are independent. Two common cases break that, and each gets a split
that keeps what the model will face in use:

- grouped (a group column: customer, patient, site): rows of one group are alike, so a model
  validated on other rows of the same group looks better than it will on a new group. Every group
  lies wholly in one part of every fold.
- time-ordered (a time column, given or detected): a model is used on later rows than it was
  trained on, so it is validated that way: an expanding window, each validation block later
  than all of its training rows. The earliest block is only ever trained on, so its rows have no
  out-of-fold prediction (NaN), which the search and the ensemble skip.
"""

from __future__ import annotations

import difflib
import warnings
from dataclasses import asdict, dataclass, replace

import numpy as np
import pandas as pd
from sklearn.model_selection import (
    GroupKFold,
    GroupShuffleSplit,
    KFold,
    StratifiedGroupKFold,
    StratifiedKFold,
    train_test_split,
)

from assay.errors import ConfigError, problem
from assay.search.budget import Budget
from assay.task import Task

# Above this many cells per second of budget, k fits of every configuration cannot pay off.
_KFOLD_MAX_CELLS_PER_SECOND = 60_000
_KFOLD_MAX_ROWS = 200_000
_REPEAT_BELOW_ROWS = 500
_REPEATS = 3
_MIN_TIME_BLOCK = 5  # rows: a smaller time block (or first training window) gives a score of noise
# Detection must never turn a shuffled table into a time split by accident: the column has to be
# a datetime that rises with the row order almost everywhere, over enough rows and distinct times.
_DETECT_SORTED_SHARE = 0.99
_DETECT_KNOWN_SHARE = 0.95
_DETECT_MIN_ROWS = 50
_DETECT_MIN_DISTINCT = 10
_OFF = "pass time_column=False (--no-time-split) for shuffled folds"


@dataclass(frozen=True)
class ValidationPlan:
    kind: str  # "kfold" | "holdout"
    n_folds: int
    holdout_fraction: float
    reason: str
    n_repeats: int = 1
    split: str = "random"  # "random" | "grouped" | "time"
    column: str | None = None  # the group or time column

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, eq=False)
class SplitBy:
    """The column that constrains the split, with its values in row order: group codes, or times
    as float keys (NaN where unknown)."""

    kind: str  # "grouped" | "time"
    column: object  # the column's label in the frame
    values: np.ndarray
    detected: bool = False


def choose_validation(
    n_rows: int, n_cols: int, task: Task, budget: Budget, by: SplitBy | None = None, y: np.ndarray | None = None
) -> ValidationPlan:
    """The plan for this data; `y` (the encoded target) lets a time split of classes start once
    its first training window holds two classes, where a classifier can learn anything."""
    plan = _size_plan(n_rows, n_cols, task, budget)
    if by is None:
        return plan
    if by.kind == "grouped":
        return _grouped_plan(plan, by, n_rows)
    try:
        return _time_plan(plan, by, n_rows, y if task.is_classification else None)
    except ConfigError:
        if not by.detected:
            raise
        return replace(
            plan,
            reason=f"{plan.reason} (detected time column {by.column!r} has too few distinct times "
            "for time-ordered folds)",
        )


def _size_plan(n_rows: int, n_cols: int, task: Task, budget: Budget) -> ValidationPlan:
    cells = n_rows * max(n_cols, 1) * max(1.0, np.sqrt(task.n_classes))
    if n_rows > _KFOLD_MAX_ROWS:
        return ValidationPlan("holdout", 1, 0.1, f"{n_rows:,} rows: one holdout of 10% is precise enough")
    if budget.timed and cells / budget.seconds > _KFOLD_MAX_CELLS_PER_SECOND:
        return ValidationPlan(
            "holdout", 1, 0.2, f"{n_rows:,} rows x {n_cols} columns is too much for k-fold in {budget.seconds:g} s"
        )
    n_folds = 8 if n_rows < 1000 else 5
    if n_rows < _REPEAT_BELOW_ROWS:
        # On a few hundred rows one k-fold split is noisy enough that a long search would chase
        # its noise; averaging repeats steadies the estimate and bags more models.
        return ValidationPlan(
            "kfold",
            n_folds,
            0.0,
            f"{n_rows:,} rows: {n_folds}-fold cross-validation repeated {_REPEATS} times, with bagging",
            _REPEATS,
        )
    return ValidationPlan("kfold", n_folds, 0.0, f"{n_rows:,} rows: {n_folds}-fold cross-validation with bagging")


def _grouped_plan(plan: ValidationPlan, by: SplitBy, n_rows: int) -> ValidationPlan:
    n_groups = len(np.unique(by.values))
    if n_groups < 2:
        raise ConfigError(
            problem(
                f"group column {by.column!r} holds {n_groups} group; grouped validation needs at least 2",
                where="group column",
                fix="name a column with several groups (a customer or patient id), or leave the group column out",
            )
        )
    head = f"{n_rows:,} rows in {n_groups:,} groups of {by.column!r}"
    if plan.kind == "holdout":
        reason = f"{head}: grouped holdout of {plan.holdout_fraction:.0%} by {by.column!r}, no group in both parts"
        return replace(plan, reason=reason, split="grouped", column=str(by.column))
    k = min(plan.n_folds, n_groups)
    repeats = f", repeated {plan.n_repeats} times" if plan.n_repeats > 1 else ""
    reason = f"{head}: grouped {k}-fold by {by.column!r}{repeats}, no group in two parts of a fold, with bagging"
    return replace(plan, n_folds=k, reason=reason, split="grouped", column=str(by.column))


def _time_plan(plan: ValidationPlan, by: SplitBy, n_rows: int, classes) -> ValidationPlan:
    how = " (detected: its values rise with the row order)" if by.detected else ""
    if plan.kind == "holdout":
        ((train, valid),) = _time_folds(by, plan, classes)
        reason = f"{n_rows:,} rows: time-ordered holdout of the latest {len(valid) / n_rows:.0%} by {by.column!r}{how}"
        return replace(plan, reason=reason, n_repeats=1, split="time", column=str(by.column))
    for k in range(plan.n_folds, 0, -1):  # as many folds as the distinct times allow
        try:
            folds = _time_folds(by, replace(plan, n_folds=k), classes)
        except ConfigError:
            if k == 1:
                raise
            continue
        if len(folds) == k:
            break
    never = folds[0][0].size / n_rows
    reason = (
        f"{n_rows:,} rows: time-ordered {k} fold{'s' if k > 1 else ''} on {by.column!r}{how}, an expanding window: "
        f"each block is validated by models trained on earlier rows only (the earliest {never:.0%} are never "
        "validated)"
    )
    return replace(plan, n_folds=k, n_repeats=1, reason=reason, split="time", column=str(by.column))


def make_folds(
    y: np.ndarray, task: Task, plan: ValidationPlan, seed: int, by: SplitBy | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train_idx, valid_idx) pairs; stratified for classification whenever the classes allow it.
    With repeats, every row is held out once per repeat (in time splits some rows never are)."""
    if plan.split != "random" and (by is None or by.kind != plan.split or str(by.column) != plan.column):
        raise ValueError(f"a {plan.split} plan needs the SplitBy of column {plan.column!r}")
    if plan.split == "time":
        return _time_folds(by, plan, y if task.is_classification else None)
    idx = np.arange(len(y))
    stratify = task.is_classification and np.bincount(y).min(initial=len(y)) >= 2
    groups = by.values if plan.split == "grouped" else None
    if plan.kind == "holdout":
        if groups is not None:
            tr, va = next(
                GroupShuffleSplit(1, test_size=plan.holdout_fraction, random_state=seed).split(idx, y, groups)
            )
        else:
            tr, va = train_test_split(
                idx, test_size=plan.holdout_fraction, random_state=seed, stratify=y if stratify else None
            )
        return [(np.sort(tr), np.sort(va))]
    folds = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a rare class with fewer members than folds
        for repeat in range(plan.n_repeats):
            if groups is not None:
                splitter = _group_splitter(plan.n_folds, stratify, seed + repeat)
                folds += [(tr, va) for tr, va in splitter.split(idx, y, groups) if len(tr) and len(va)]
            else:
                kind = StratifiedKFold if task.is_classification else KFold
                folds += list(kind(plan.n_folds, shuffle=True, random_state=seed + repeat).split(idx, y))
    return folds


def _group_splitter(k: int, stratify: bool, seed: int):
    if stratify:
        return StratifiedGroupKFold(k, shuffle=True, random_state=seed)
    try:
        return GroupKFold(k, shuffle=True, random_state=seed)
    except TypeError:  # scikit-learn < 1.6: groups go to folds by size alone
        return GroupKFold(k)


def _time_folds(by: SplitBy, plan: ValidationPlan, classes=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """Expanding-window folds. Rows are ordered by time (unknown times first: they are only ever
    trained on); a block edge moves to the first row of its time (or past the last), so rows of
    the same time never straddle training and validation. With `classes`, the first training
    window reaches at least two classes: on one, most classifiers refuse to fit at all."""
    key = np.asarray(by.values, dtype="float64")
    known = np.isfinite(key)
    n, n_unknown = len(key), int((~known).sum())
    order = np.argsort(np.where(known, key, -np.inf), kind="stable")
    ordered = np.where(known, key, -np.inf)[order]
    n_known = n - n_unknown
    start = n_unknown + _MIN_TIME_BLOCK
    if classes is not None:
        second = np.flatnonzero(np.asarray(classes)[order] != classes[order[0]])
        start = max(start, int(second[0]) + 1 if len(second) else n + 1)
    if plan.kind == "holdout":
        wanted = [n_unknown + int(round((1.0 - plan.holdout_fraction) * n_known))]
    else:  # the first training window as in TimeSeriesSplit, then k equal blocks after it
        first = max(n_unknown + int(round(n_known / (plan.n_folds + 1))), start)
        wanted = [first + int(round(j * (n - first) / plan.n_folds)) for j in range(plan.n_folds)]
    edges: list[int] = []
    for p in wanted:
        low = max(start, edges[-1] + _MIN_TIME_BLOCK if edges else start)
        p = min(p, n - 1)
        edge = int(np.searchsorted(ordered, ordered[p], side="left"))
        if edge < low:  # the tie run starts too early: cut after it instead
            edge = int(np.searchsorted(ordered, ordered[p], side="right"))
        if edge >= low and n - edge >= _MIN_TIME_BLOCK:
            edges.append(edge)
    if not edges:
        distinct = len(np.unique(key[known]))
        need = f"each block needs {_MIN_TIME_BLOCK}+ rows" + (
            ", and the first training block two classes" if classes is not None else ""
        )
        raise ConfigError(
            problem(
                f"too few time-ordered rows to validate on later data: {n_known:,} rows with a known time, "
                f"{distinct:,} distinct times; {need}",
                where=f"time column {by.column!r}",
                fix=f"use more rows or a finer time column, or {_OFF}",
            )
        )
    bounds = [*edges, n]
    return [(np.sort(order[:a]), np.sort(order[a:b])) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


# ---- the split column ---------------------------------------------------------------------------


def check_split_columns(columns, target, group_column, time_column) -> None:
    """Fail early, naming the column, when a group or time column cannot be used."""
    if time_column is not None and not isinstance(time_column, (str, bool)):
        raise ConfigError(
            problem(
                f"time_column must be a column name, True or False, got {time_column!r}",
                where="time_column",
                fix="name the time column, or pass False for shuffled folds",
            )
        )
    if group_column is not None and not isinstance(group_column, str):
        raise ConfigError(
            problem(
                f"group_column must be a column name, got {group_column!r}",
                where="group_column",
                fix="name the column that holds each row's group",
            )
        )
    if group_column is not None and isinstance(time_column, str):
        raise ConfigError(
            problem(
                f"both a group column ({group_column!r}) and a time column ({time_column!r}) given",
                where="group_column, time_column",
                fix="choose one: grouped folds for repeated entities, time-ordered folds for forecasting",
            )
        )
    names = [str(c) for c in columns]
    for what, name in (("group", group_column), ("time", time_column)):
        if name is None or isinstance(name, bool):
            continue
        if name not in names:
            close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
            close += [c for c in names if c.lower() == name.lower() and c not in close]
            hint = f"did you mean {', '.join(map(repr, close))}?" if close else f"columns are: {names[:20]}"
            raise ConfigError(problem(f"{what} column {name!r} not found", where="data", fix=f"name a column; {hint}"))
        if name == str(target):
            raise ConfigError(
                problem(
                    f"the {what} column {name!r} is the target",
                    where=f"{what} column",
                    fix=f"name another column as the {what} column",
                )
            )


def split_by(X: pd.DataFrame, schema, group_column, time_column) -> tuple[SplitBy | None, list[str]]:
    """What constrains the split, and notes saying so. ``time_column``: a name; None to detect one;
    True to require detection; False for no time split."""
    notes: list[str] = []
    columns = {str(c): c for c in X.columns}
    if group_column is not None:
        name = columns[str(group_column)]
        col = X[name]
        codes, _ = pd.factorize(col, use_na_sentinel=False)
        ctype = schema[name] if schema is not None and name in schema else None
        role = (
            "as an identifier it is not a feature"
            if ctype is not None and ctype.kind == "identifier"
            else ("it stays a feature")
        )
        notes.append(f"group column {name!r}: each group's rows stay in one part of every fold; {role}")
        if col.isna().any():
            notes.append(f"group column {name!r}: the {int(col.isna().sum()):,} rows without a group form one group")
        return SplitBy("grouped", name, codes), notes
    if isinstance(time_column, str):
        name = columns[time_column]
        return SplitBy("time", name, time_key(X[name], name)), notes
    if time_column is False:
        return None, notes
    found = detect_time_column(X, schema)
    if found is None:
        if time_column is True:
            raise ConfigError(
                problem(
                    "no time column found: no datetime column rises with the row order",
                    where="time_column",
                    fix="name the time column, or sort the rows by time first",
                )
            )
        return None, notes
    name, evidence = found
    notes.append(f"time column {name!r} detected ({evidence}), so validation is time-ordered; {_OFF}")
    return SplitBy("time", name, time_key(X[name], name), detected=True), notes


def detect_time_column(X: pd.DataFrame, schema) -> tuple[object, str] | None:
    """(name, evidence) of a datetime column that rises with the row order, or None."""
    best = None
    for name in X.columns:
        ctype = schema[name] if schema is not None and name in schema else None
        if ctype is None or ctype.kind != "datetime" or not pd.api.types.is_datetime64_any_dtype(X[name].dtype):
            continue
        key = time_key(X[name], name)
        known = key[np.isfinite(key)]
        if len(known) < max(_DETECT_MIN_ROWS, _DETECT_KNOWN_SHARE * len(key)):
            continue
        if len(np.unique(known)) < _DETECT_MIN_DISTINCT:
            continue
        share = float((np.diff(known) >= 0).mean())
        if share >= _DETECT_SORTED_SHARE and (best is None or share > best[1]):
            best = (name, share, len(known))
    if best is None:
        return None
    name, share, n = best
    return name, f"non-decreasing in row order over {share:.1%} of {n:,} rows"


def time_key(col: pd.Series, name) -> np.ndarray:
    """Times as float keys that order rows (NaN where unknown): datetimes, numbers (a period
    number) or text that reads as dates."""
    if pd.api.types.is_bool_dtype(col.dtype):
        raise _unreadable(name, "it holds true/false values")
    if pd.api.types.is_datetime64_any_dtype(col.dtype):
        times = col
    elif pd.api.types.is_numeric_dtype(col.dtype):
        return col.to_numpy(dtype="float64", na_value=np.nan)
    else:
        present = col.notna()
        times = pd.to_datetime(col.astype("string"), errors="coerce", format="mixed", utc=True)
        if present.any() and times[present].notna().mean() < 0.9:
            raise _unreadable(name, f"values such as {col[present].iloc[0]!r} do not read as dates")
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    times = times.dt.as_unit("us")
    ok = times.notna().to_numpy()
    return np.where(ok, times.to_numpy().astype("int64").astype("float64"), np.nan)


def _unreadable(name, why: str) -> ConfigError:
    return ConfigError(
        problem(
            f"the time column {name!r} cannot order rows: {why}",
            where="time column",
            fix=f"name a date, timestamp or period-number column, or {_OFF}",
        )
    )
