"""CatBoost: ordered boosting on symmetric trees with target statistics for categories. It is
often the strongest family on small, category-heavy tables and the least sensitive to its
hyperparameters, so its default is a good first trial.

Categories go in as integer codes (-1 for missing) named in `cat_features`. The deadline is a
user callback checked after every iteration; CatBoost refuses user callbacks on GPU, so there
the fit relies on early stopping alone and a deadline cannot cut it short.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from assay.models.base import Model, categorical_columns, full_proba
from assay.models.lightgbm import early_stopping_patience
from assay.search.space import Float, Int

# The user's metric, as CatBoost spells it for early stopping; others fall back to the loss.
_EVAL_METRIC = {"roc_auc": "AUC", "rmse": "RMSE", "mae": "MAE"}
_LOSS = {"binary": "Logloss", "multiclass": "MultiClass", "regression": "RMSE"}


class CatBoostModel(Model):
    family = "catboost"
    rounds_param = "iterations"
    requires = ("catboost",)
    uses_gpu = True

    @classmethod
    def search_space(cls, task, n_rows, n_cols):
        return {
            "learning_rate": Float(0.01, 0.3, 0.08, log=True),
            "depth": Int(4, 10, 6),
            "l2_leaf_reg": Float(1.0, 10.0, 3.0, log=True),
            "random_strength": Float(0.1, 10.0, 1.0, log=True),
        }

    def _estimator(self, with_val: bool):
        import catboost

        p = dict(self.params)
        gpu = self.device == "cuda"
        params = {
            "loss_function": _LOSS[self.task.kind],
            "random_seed": self.seed,
            "thread_count": self.threads(),
            "task_type": "GPU" if gpu else "CPU",
            "allow_writing_files": False,
            "verbose": False,
            "iterations": int(p.pop("iterations", 10000 if with_val else 300)),
            **p,
        }
        if self.metric in _EVAL_METRIC:
            params["eval_metric"] = _EVAL_METRIC[self.metric]
        if with_val:
            patience = early_stopping_patience(params.get("learning_rate", 0.08))
            params.update(use_best_model=True, early_stopping_rounds=patience)
        cls = catboost.CatBoostClassifier if self.task.is_classification else catboost.CatBoostRegressor
        return cls(**params)

    def _fit(self, X, y, X_val, y_val, deadline):
        self.model_ = self._estimator(X_val is not None)
        fit_args = {"cat_features": categorical_columns(X)}
        if X_val is not None:
            fit_args["eval_set"] = (_frame(X_val), y_val)
        if self.device != "cuda":
            fit_args["callbacks"] = [_DeadlineCallback(deadline)]
        self.model_.fit(_frame(X), y, **fit_args)
        self.best_iteration_ = int(self.model_.tree_count_)

    def _predict_raw(self, X):
        if not self.task.is_classification:
            return self.model_.predict(_frame(X))
        return full_proba(self.model_.predict_proba(_frame(X)), self.model_.classes_, self.task.n_classes)

    def _save(self, directory: Path):
        self.model_.save_model(str(directory / "model.cbm"))

    def _load(self, directory: Path):
        import catboost

        cls = catboost.CatBoostClassifier if self.task.is_classification else catboost.CatBoostRegressor
        self.model_ = cls(thread_count=self.threads()).load_model(str(directory / "model.cbm"))


class _DeadlineCallback:
    """CatBoost's user callback: returning False stops training (use_best_model still applies)."""

    def __init__(self, deadline):
        self.deadline = deadline

    def after_iteration(self, info) -> bool:
        return not self.deadline.expired()


def _frame(X: pd.DataFrame) -> pd.DataFrame:
    """Categories as int codes (-1 for missing), everything else float, under positional names."""
    columns = {}
    for i, (_, col) in enumerate(X.items()):
        if isinstance(col.dtype, pd.CategoricalDtype):
            columns[f"x{i}"] = col.cat.codes.to_numpy().astype(np.int64)
        else:
            columns[f"x{i}"] = col.to_numpy(dtype=np.float64, na_value=np.nan)
    return pd.DataFrame(columns, index=X.index)
