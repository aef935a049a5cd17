"""How training rows are divided for validation: k-fold with out-of-fold predictions, or a
holdout when the data is too large for k fits within the budget. The choice and its reason are
reported, because a validation score means little without knowing how it was measured.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

from assay.search.budget import Budget
from assay.task import Task

# Above this many cells per second of budget, k fits of every configuration cannot pay off.
_KFOLD_MAX_CELLS_PER_SECOND = 60_000
_KFOLD_MAX_ROWS = 200_000
_REPEAT_BELOW_ROWS = 500
_REPEATS = 3


@dataclass(frozen=True)
class ValidationPlan:
    kind: str  # "kfold" | "holdout"
    n_folds: int
    holdout_fraction: float
    reason: str
    n_repeats: int = 1

    def to_dict(self) -> dict:
        return asdict(self)


def choose_validation(n_rows: int, n_cols: int, task: Task, budget: Budget) -> ValidationPlan:
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
        return ValidationPlan("kfold", n_folds, 0.0, f"{n_rows:,} rows: {n_folds}-fold cross-validation repeated "
                              f"{_REPEATS} times, with bagging", _REPEATS)
    return ValidationPlan("kfold", n_folds, 0.0, f"{n_rows:,} rows: {n_folds}-fold cross-validation with bagging")


def make_folds(y: np.ndarray, task: Task, plan: ValidationPlan, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train_idx, valid_idx) pairs; stratified for classification whenever the classes allow it.
    With repeats, every row is held out once per repeat."""
    idx = np.arange(len(y))
    stratify = task.is_classification and np.bincount(y).min(initial=len(y)) >= 2
    if plan.kind == "holdout":
        tr, va = train_test_split(
            idx, test_size=plan.holdout_fraction, random_state=seed, stratify=y if stratify else None
        )
        return [(np.sort(tr), np.sort(va))]
    kind = StratifiedKFold if task.is_classification else KFold
    folds = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # a rare class with fewer members than folds
        for repeat in range(plan.n_repeats):
            folds += list(kind(plan.n_folds, shuffle=True, random_state=seed + repeat).split(idx, y))
    return folds
