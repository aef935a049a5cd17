"""XGBoost: a second gradient-boosting engine whose trees differ enough from LightGBM's
(depth-wise growth, its own categorical splits) to add diversity to the ensemble. Categories go
in as codes marked "c", early stopping runs on the validation fold, and the deadline is checked
after every round, keeping the best round so far."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from assay.models.base import Model, codes_matrix
from assay.models.lightgbm import early_stopping_patience
from assay.search.space import Float, Int

# The user's metric, as XGBoost spells it for early stopping; others fall back to the loss.
_EVAL_METRIC = {"roc_auc": "auc", "rmse": "rmse", "mae": "mae"}
_LOSS = {"binary": "logloss", "multiclass": "mlogloss", "regression": "rmse"}
_OBJECTIVE = {"binary": "binary:logistic", "multiclass": "multi:softprob", "regression": "reg:squarederror"}


class XGBoostModel(Model):
    family = "xgboost"
    rounds_param = "n_estimators"
    requires = ("xgboost",)

    @classmethod
    def search_space(cls, task, n_rows, n_cols):
        return {
            "eta": Float(0.01, 0.3, 0.1, log=True),
            "max_depth": Int(2, 12, 6),
            "min_child_weight": Float(0.5, 20.0, 1.0, log=True),
            "subsample": Float(0.5, 1.0, 1.0),
            "colsample_bytree": Float(0.3, 1.0, 1.0),
            "lambda": Float(1e-3, 10.0, 1.0, log=True),
        }

    def _booster_params(self) -> dict:
        import xgboost  # noqa: F401  (fail here, not halfway through training)

        p = {k: v for k, v in self.params.items() if k not in ("n_estimators",)}
        params = {
            "objective": _OBJECTIVE[self.task.kind],
            "tree_method": "hist",
            "device": "cuda" if self.device == "cuda" else "cpu",
            "nthread": self.threads(),
            "seed": self.seed,
            "verbosity": 0,
            "eval_metric": _EVAL_METRIC.get(self.metric, _LOSS[self.task.kind]),
            **p,
        }
        if self.task.kind == "multiclass":
            params["num_class"] = self.task.n_classes
        return params

    def _matrix(self, X, y=None):
        import xgboost as xgb

        types = ["c" if isinstance(dt, pd.CategoricalDtype) else "q" for dt in X.dtypes]
        return xgb.DMatrix(
            codes_matrix(X), y, feature_types=types, enable_categorical=True, missing=np.nan, nthread=self.threads()
        )

    def _fit(self, X, y, X_val, y_val, deadline):
        import xgboost as xgb

        params = self._booster_params()
        train = self._matrix(X, y)
        callbacks, evals = [], []
        if X_val is not None:
            n_rounds = int(self.params.get("n_estimators", 10000))
            patience = early_stopping_patience(params.get("eta", 0.1))
            callbacks.append(xgb.callback.EarlyStopping(rounds=patience, metric_name=params["eval_metric"]))
            evals = [(self._matrix(X_val, y_val), "valid")]
        else:
            n_rounds = int(self.params.get("n_estimators", 100))
        callbacks.append(_deadline_callback(deadline))
        self.booster_ = xgb.train(params, train, n_rounds, evals=evals, callbacks=callbacks, verbose_eval=False)
        best = self.booster_.attr("best_iteration")
        # Stored as a count of rounds, like LightGBM's; early stopping records a 0-based index.
        self.best_iteration_ = int(best) + 1 if best is not None else self.booster_.num_boosted_rounds()

    def _predict_raw(self, X):
        raw = self.booster_.predict(self._matrix(X), iteration_range=(0, self.best_iteration_))
        if self.task.kind == "binary":
            return np.column_stack([1 - raw, raw])
        return raw

    def _save(self, directory: Path):
        self.booster_.save_model(str(directory / "model.ubj"))

    def _load(self, directory: Path):
        import xgboost as xgb

        self.booster_ = xgb.Booster()
        self.booster_.load_model(str(directory / "model.ubj"))
        self.booster_.set_param({"nthread": self.threads()})


def _deadline_callback(deadline):
    """Stop boosting when time is up; EarlyStopping has already recorded the best round so far."""
    import xgboost as xgb

    class DeadlineCallback(xgb.callback.TrainingCallback):
        def after_iteration(self, model, epoch, evals_log):
            return deadline.expired()

    return DeadlineCallback()
