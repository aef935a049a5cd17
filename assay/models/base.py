"""The Model contract every family implements.

A family writes `_fit`, `_predict_raw`, `_save`, `_load` and `search_space`; this base does the
timing, the deadline plumbing and the bookkeeping, so those live in one place.

- The constructor is a config: it stores arguments and nothing else, so a trial is
  (family, params, seed) and can be cloned, hashed and replayed.
- Input X is a pandas DataFrame whose categorical columns have a `category` dtype with fixed
  categories (see assay.preprocess.table); y holds encoded labels (see assay.task.Task).
- Output of `predict_raw` is what metrics and the ensemble consume: class probabilities of
  shape (n, K) for classification, values of shape (n,) for regression.
- `fit` honours its Deadline: a family that can stop mid-way (boosting rounds, trees, epochs)
  stops and keeps what it has; one that cannot says so with `truncatable = False`, and the
  search only starts it when its measured cost fits.
"""

from __future__ import annotations

import importlib.util
import json
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from assay.search.budget import Deadline
from assay.search.space import Space
from assay.task import Task


class Model:
    family: ClassVar[str] = ""
    truncatable: ClassVar[bool] = True
    uses_gpu: ClassVar[bool] = False
    requires: ClassVar[tuple[str, ...]] = ()  # importable modules the family needs
    # The parameter counting rounds (trees, epochs) that early stopping chose on the validation
    # fold; a model refit on all rows has no validation data and must be told how many to train.
    rounds_param: ClassVar[str | None] = None

    def __init__(
        self,
        task: Task,
        params: dict[str, Any] | None = None,
        *,
        seed: int = 0,
        metric: str | None = None,
        n_threads: int | None = None,
        device: str = "cpu",
    ):
        self.task = task
        self.params = dict(params or {})
        self.seed = seed
        self.metric = metric
        self.n_threads = n_threads
        self.device = device

    # --- the public contract -------------------------------------------------------------
    @classmethod
    def available(cls) -> bool:
        return all(importlib.util.find_spec(m) is not None for m in cls.requires)

    @classmethod
    def load_libraries(cls) -> None:
        """Import what the family needs before a trial's clock starts. torch alone takes 1-2 s to
        import: inside the first MLP trial it ate the first fold's whole share of a short
        allowance, and a strong configuration was pruned as an untrained network (car, 60 s)."""
        for module in cls.requires:
            importlib.import_module(module)

    @classmethod
    def search_space(cls, task: Task, n_rows: int, n_cols: int) -> Space:
        raise NotImplementedError

    @classmethod
    def estimate_seconds(cls, n_train: int, n_predict: int, n_cols: int, n_classes: int) -> float:
        """A deliberately pessimistic guess at one fit + predict, before anything was measured.
        Only non-truncatable families need it: the search will not start one that cannot finish."""
        return 0.0

    def fit(self, X: pd.DataFrame, y: np.ndarray, *, X_val=None, y_val=None, deadline: Deadline | None = None):
        deadline = deadline or Deadline.never()
        start = time.perf_counter()
        self.best_iteration_: int | None = None
        self._fit(X, np.asarray(y), X_val, None if y_val is None else np.asarray(y_val), deadline)
        self.fit_seconds_ = time.perf_counter() - start
        # stopped by the clock rather than by its own rule: a model fitted with more time may differ
        self.cut_short_ = deadline.at is not None and deadline.expired()
        self.n_features_in_ = X.shape[1]
        return self

    def predict_raw(self, X: pd.DataFrame) -> np.ndarray:
        raw = np.asarray(self._predict_raw(X), dtype=float)
        if self.task.is_classification:
            raw = np.clip(raw, 0.0, 1.0)
            raw = raw / np.maximum(raw.sum(axis=1, keepdims=True), 1e-12)
        return raw

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        if not self.task.is_classification:
            raise TypeError("predict_proba applies to classification models only")
        return self.predict_raw(X)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        raw = self.predict_raw(X)
        return np.argmax(raw, axis=1) if self.task.is_classification else raw

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        state = {
            "family": self.family,
            "task": self.task.to_dict(),
            "params": self.params,
            "seed": self.seed,
            "metric": self.metric,
            "best_iteration": self.best_iteration_,
            "fit_seconds": self.fit_seconds_,
            "n_features_in": self.n_features_in_,
        }
        (directory / "model.json").write_text(json.dumps(state, indent=2, default=_json_default))
        self._save(directory)

    @classmethod
    def load(cls, directory: str | Path) -> Model:
        directory = Path(directory)
        state = json.loads((directory / "model.json").read_text())
        model = cls(Task.from_dict(state["task"]), state["params"], seed=state["seed"], metric=state["metric"])
        model.best_iteration_ = state["best_iteration"]
        model.fit_seconds_ = state["fit_seconds"]
        model.n_features_in_ = state["n_features_in"]
        model._load(directory)
        return model

    @classmethod
    def full_data_params(cls, params: dict, fold_rounds: list[int], growth: float) -> dict:
        """Params for one model on all training rows, from what its fold models learned: families
        that stop early train for the folds' mean best round count, scaled up by `growth` (all rows
        / fold training rows), since more data supports more rounds before over-fitting."""
        rounds = [r for r in fold_rounds if r]
        if cls.rounds_param is None or not rounds:
            return dict(params)
        return {**params, cls.rounds_param: max(1, int(round(float(np.mean(rounds)) * growth)))}

    # --- what a family writes -------------------------------------------------------------
    def _fit(self, X, y, X_val, y_val, deadline: Deadline) -> None:
        raise NotImplementedError

    def _predict_raw(self, X) -> np.ndarray:
        raise NotImplementedError

    def _save(self, directory: Path) -> None:
        raise NotImplementedError

    def _load(self, directory: Path) -> None:
        raise NotImplementedError

    # --- helpers families share ------------------------------------------------------------
    def threads(self) -> int:
        return self.n_threads or os.cpu_count() or 1

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.params!r}, seed={self.seed})"


def categorical_columns(X: pd.DataFrame) -> list[int]:
    """Positions of the columns the preprocessor marked categorical."""
    return [i for i, dt in enumerate(X.dtypes) if isinstance(dt, pd.CategoricalDtype)]


_shared = threading.local()


@contextmanager
def shared_inputs():
    """Within this block `codes_matrix` converts each frame once, whoever asks: an ensemble's
    members (k fold models, a refit model, other tree families) all take the same preprocessed
    frame, and converting it again per member was most of a small prediction's model time. Only
    prediction uses it (EnsembleModel.predict_raw); the cached array is read-only, so a member
    that wanted to change its input would fail loudly rather than change the next one's."""
    if getattr(_shared, "matrices", None) is not None:
        yield
        return
    _shared.matrices = {}
    try:
        yield
    finally:
        _shared.matrices = None


def codes_matrix(X: pd.DataFrame, missing_code: float = np.nan) -> np.ndarray:
    """X as float32, categorical columns replaced by their integer codes (missing -> missing_code)."""
    cache = getattr(_shared, "matrices", None)
    if cache is None:
        return _codes_matrix(X, missing_code)
    key = (id(X), repr(missing_code))
    hit = cache.get(key)
    if hit is None or hit[0] is not X:
        matrix = _codes_matrix(X, missing_code)
        matrix.flags.writeable = False
        hit = cache[key] = (X, matrix)  # X is held, so its id cannot be reused while cached
    return hit[1]


def _codes_matrix(X: pd.DataFrame, missing_code: float) -> np.ndarray:
    out = np.empty(X.shape, dtype=np.float32)
    dtypes = X.dtypes.tolist()
    kinds = [isinstance(dtype, pd.CategoricalDtype) for dtype in dtypes]
    numbers = [i for i, categorical in enumerate(kinds) if not categorical]
    if numbers:  # as one block: column by column was most of the cost for a few rows
        block = X.take(numbers, axis=1) if len(numbers) < len(kinds) else X
        if all(isinstance(dtypes[i], np.dtype) for i in numbers):  # NaN their only missing value
            out[:, numbers] = block.to_numpy(dtype=np.float32)  # (na_value= doubled a few rows' cost)
        else:
            out[:, numbers] = block.to_numpy(dtype=np.float32, na_value=np.nan)
    for i in (i for i, categorical in enumerate(kinds) if categorical):
        codes = X.iloc[:, i].array.codes.astype(np.float32)
        codes[codes < 0] = missing_code
        out[:, i] = codes
    return out


def full_proba(proba: np.ndarray, seen: np.ndarray, n_classes: int) -> np.ndarray:
    """Widen probabilities over the classes a fold happened to see to all K classes."""
    seen = np.asarray(seen, dtype=int)
    if proba.shape[1] == n_classes and np.array_equal(seen, np.arange(n_classes)):
        return proba
    out = np.zeros((proba.shape[0], n_classes))
    out[:, seen] = proba
    return out


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
