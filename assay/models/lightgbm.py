"""LightGBM: the workhorse. Native categoricals, early stopping on the validation fold, and a
deadline checked after every boosting round (the model keeps its best round so far)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assay.models import compiled
from assay.models import lightgbm_single_row as single_row
from assay.models.base import Model, categorical_columns, codes_matrix
from assay.search.space import Choice, Float, Int

# The user's metric, as LightGBM spells it for early stopping; others fall back to the loss.
_EVAL_METRIC = {"roc_auc": "auc", "rmse": "rmse", "mae": "l1"}
_LOSS = {"binary": "binary_logloss", "multiclass": "multi_logloss", "regression": "rmse"}
SMALL_BATCH = 1_000  # rows below which prediction runs on one thread


def early_stopping_patience(learning_rate: float) -> int:
    """Slower learning needs more patience; shared by the boosting families."""
    return int(np.clip(round(5 / learning_rate), 20, 300))


class LightGBMModel(Model):
    family = "lightgbm"
    rounds_param = "n_estimators"
    requires = ("lightgbm",)
    compiled_ = None  # the booster as native code, when its folder was compiled (see compiled.py)

    @classmethod
    def search_space(cls, task, n_rows, n_cols):
        return {
            "learning_rate": Float(0.01, 0.3, 0.1, log=True),
            "num_leaves": Int(4, 256, 31, log=True),
            "min_child_samples": Int(2, 100, 20, log=True),
            "feature_fraction": Float(0.3, 1.0, 0.9),
            "bagging_fraction": Float(0.5, 1.0, 1.0),
            "lambda_l2": Float(1e-3, 10.0, 1e-3, log=True),
            "extra_trees": Choice((False, True), False),
        }

    def _booster_params(self) -> dict:
        import lightgbm  # noqa: F401  (fail here, not halfway through training)

        p = {k: v for k, v in self.params.items() if k not in ("n_estimators",)}
        objective = {"binary": "binary", "multiclass": "multiclass", "regression": "regression"}[self.task.kind]
        params = {
            "objective": objective,
            "verbosity": -1,
            "seed": self.seed,
            "deterministic": True,
            "num_threads": self.threads(),
            "metric": _EVAL_METRIC.get(self.metric, _LOSS[self.task.kind]),
            "bagging_freq": 1 if p.get("bagging_fraction", 1.0) < 1.0 else 0,
            **p,
        }
        if self.task.kind == "multiclass":
            params["num_class"] = self.task.n_classes
        return params

    def _fit(self, X, y, X_val, y_val, deadline):
        import lightgbm as lgb

        params = self._booster_params()
        cats = categorical_columns(X)
        train = lgb.Dataset(codes_matrix(X), y, categorical_feature=cats, free_raw_data=True)
        history: dict = {}
        callbacks = [_deadline_callback(deadline, history)]
        if X_val is not None:
            n_rounds = int(self.params.get("n_estimators", 10000))
            valid = lgb.Dataset(codes_matrix(X_val), y_val, categorical_feature=cats, reference=train)
            callbacks += [
                lgb.early_stopping(early_stopping_patience(params.get("learning_rate", 0.1)), verbose=False),
                lgb.record_evaluation(history),
            ]
            valid_sets = [valid]
        else:
            n_rounds = int(self.params.get("n_estimators", 100))
            valid_sets = []
        self.booster_ = lgb.train(params, train, num_boost_round=n_rounds, valid_sets=valid_sets, callbacks=callbacks)
        best = self.booster_.best_iteration
        self.best_iteration_ = int(best) if best and best > 0 else self.booster_.current_iteration()

    def _predict_raw(self, X):
        # A few rows are scored faster by one thread than by waking OpenMP's team, and far faster
        # when other processes hold the cores (one row, two busy cores: 12 ms with two threads,
        # 0.02 ms with one). The thread count never changes a prediction.
        if self.compiled_ is not None and len(X) >= SMALL_BATCH:
            raw = compiled.predict(self.compiled_, codes_matrix(X), self.threads())
        elif len(X) <= single_row.MAX_ROWS and single_row.available():
            raw = self._single_row_scorer().predict(codes_matrix(X))
            raw = raw if self.task.kind == "multiclass" else raw[:, 0]
        else:
            threads = {"num_threads": 1} if len(X) < SMALL_BATCH else {}
            raw = self.booster_.predict(codes_matrix(X), num_iteration=self.best_iteration_, **threads)
        if self.task.kind == "binary":
            return np.column_stack([1 - raw, raw])
        return raw

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state.pop("_single_row", None)  # C handles: remade on the other side when first needed
        return state

    def _single_row_scorer(self) -> single_row.SingleRowScorer:
        scorer = self.__dict__.get("_single_row")
        if scorer is None or scorer.booster is not self.booster_:  # made once per booster
            outputs = self.task.n_classes if self.task.kind == "multiclass" else 1
            scorer = self._single_row = single_row.SingleRowScorer(self.booster_, self.best_iteration_, outputs)
        return scorer

    def _save(self, directory: Path):
        self.booster_.save_model(str(directory / compiled.TEXT), num_iteration=self.best_iteration_)

    def _load(self, directory: Path):
        import lightgbm as lgb

        self.booster_ = lgb.Booster(model_file=str(directory / compiled.TEXT))
        self.compiled_ = compiled.load_compiled(directory)


def _deadline_callback(deadline, history: dict):
    """Stop boosting when time is up, keeping the best round seen on validation so far."""
    import lightgbm as lgb

    def callback(env):
        if not deadline.expired():
            return
        best_iter, best_score = env.iteration, env.evaluation_result_list
        curves = next(iter(history.values()), {}) if history else {}
        if curves:
            name, values = next(iter(curves.items()))
            higher = name in ("auc",)
            best_iter = int(np.argmax(values) if higher else np.argmin(values))
        raise lgb.callback.EarlyStopException(best_iter, best_score)

    callback.order = 100  # after early stopping and recording, so history is current
    return callback
