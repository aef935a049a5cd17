"""What kind of problem a target column poses, and how its labels are encoded.

Models only ever see encoded labels (0..K-1 for classification, floats for regression); the
Task keeps the original class values so predictions are decoded back at the boundary.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from assay.errors import ConfigError, TargetError, problem

TASK_KINDS = ("binary", "multiclass", "regression")

# An integer target with at most this many distinct values is read as classes, not amounts.
_MAX_INTEGER_CLASSES = 20


@dataclass(frozen=True)
class Task:
    kind: str
    classes: tuple = ()

    @property
    def is_classification(self) -> bool:
        return self.kind != "regression"

    @property
    def n_classes(self) -> int:
        return len(self.classes)

    def encode(self, y: pd.Series) -> np.ndarray:
        """Labels as models see them: class indices, or float amounts."""
        if not self.is_classification:
            return y.to_numpy(dtype=float)
        index = {c: i for i, c in enumerate(self.classes)}
        keys = y.map(_class_key)
        codes = keys.map(index)
        if codes.isna().any():
            unseen = sorted(set(keys[codes.isna()].astype(str)))[:5]
            raise TargetError(
                problem(
                    f"target has classes the model never saw: {unseen}",
                    where="target column",
                    fix="evaluate on data whose classes appeared in training",
                )
            )
        return codes.to_numpy(dtype=np.int64)

    def decode(self, codes: np.ndarray) -> np.ndarray:
        return np.asarray(self.classes, dtype=object)[codes]

    def to_dict(self) -> dict:
        return {"kind": self.kind, "classes": [_jsonable(c) for c in self.classes]}

    @classmethod
    def from_dict(cls, d: dict) -> Task:
        return cls(kind=d["kind"], classes=tuple(d["classes"]))


def _class_key(value):
    """One spelling per class, so 1, 1.0 and np.int64(1) are the same label."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    return str(value)


def _jsonable(value):
    return value.item() if isinstance(value, np.generic) else value


def detect_task(y: pd.Series, kind: str | None = None) -> Task:
    """Read the task off the target column, or check the one the user asked for."""
    if kind is not None and kind not in TASK_KINDS:
        raise ConfigError(problem(f"unknown task {kind!r}", where="task", fix=f"use one of {', '.join(TASK_KINDS)}"))
    y = y.dropna()
    numeric = pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y)
    if kind is None:
        integer_like = numeric and np.all(np.mod(y.to_numpy(dtype=float), 1) == 0)
        if not numeric or (integer_like and y.nunique() <= _MAX_INTEGER_CLASSES):
            kind = "binary" if y.nunique() == 2 else "multiclass"
        else:
            kind = "regression"
    if kind == "regression":
        if not numeric:
            bad = y[pd.to_numeric(y, errors="coerce").isna()].astype(str).unique()[:3].tolist()
            raise TargetError(
                problem(
                    f"regression target is not numeric (values such as {bad})",
                    where="target column",
                    fix="clean the target to numbers, or pass task='multiclass' to treat it as classes",
                )
            )
        return Task("regression")
    classes = tuple(sorted({_class_key(v) for v in y}, key=lambda c: (str(type(c)), c)))
    if len(classes) < 2:
        raise TargetError(
            problem(
                f"target has a single class ({classes[0]!r}) so there is nothing to learn",
                where="target column",
                fix="check the target column, or supply rows of at least two classes",
            )
        )
    if kind == "binary" and len(classes) != 2:
        raise ConfigError(
            problem(
                f"task 'binary' needs exactly 2 classes, the target has {len(classes)}",
                where="task",
                fix="use task='multiclass' or leave the task to be detected",
            )
        )
    if kind == "multiclass" and len(classes) == 2:
        kind = "binary"
    return Task(kind, classes)
