"""Linear models: logistic regression for classes, ridge for amounts, on the dense encoding.

They are rarely the best single model on tabular data, but they are fast, smooth and wrong in
different ways from trees, which is what an ensemble wants; and on small or wide tables they are
sometimes simply the best. One lbfgs/closed-form fit cannot stop half-way, hence truncatable=False.
"""

from __future__ import annotations

from pathlib import Path

from assay.models.base import Model, full_proba
from assay.models.sklearn_io import load_skops, save_skops
from assay.preprocess.dense import dense_encoder, dense_frame
from assay.search.space import Choice, Float


class LinearModel(Model):
    family = "linear"
    truncatable = False

    @classmethod
    def search_space(cls, task, n_rows, n_cols):
        strength = "C" if task.is_classification else "alpha"
        return {
            strength: Float(1e-3, 1e3, 1.0, log=True),
            "scaling": Choice(("standard", "quantile"), "standard"),
        }

    @classmethod
    def estimate_seconds(cls, n_train, n_predict, n_cols, n_classes):
        # L-BFGS: a few hundred passes over the encoded rows, one coefficient set per class
        return 0.05 + 300 * n_train * 3 * n_cols * max(n_classes, 1) / 1e9

    def _fit(self, X, y, X_val, y_val, deadline):
        from sklearn.linear_model import LogisticRegression, Ridge
        from sklearn.pipeline import Pipeline

        if self.task.is_classification:
            est = LogisticRegression(C=float(self.params.get("C", 1.0)), max_iter=1000, random_state=self.seed)
        else:
            est = Ridge(alpha=float(self.params.get("alpha", 1.0)), random_state=self.seed)
        continuous = not self.task.is_classification
        scaling = self.params.get("scaling", "standard")
        encoder = dense_encoder(X, scaling, y, continuous=continuous, seed=self.seed)
        self.pipeline_ = Pipeline([("encode", encoder), ("model", est)]).fit(dense_frame(X), y)

    def _predict_raw(self, X):
        frame = dense_frame(X)
        if not self.task.is_classification:
            return self.pipeline_.predict(frame)
        est = self.pipeline_[-1]
        return full_proba(self.pipeline_.predict_proba(frame), est.classes_, self.task.n_classes)

    def _save(self, directory: Path):
        save_skops(self.pipeline_, directory / "model.skops")

    def _load(self, directory: Path):
        self.pipeline_ = load_skops(directory / "model.skops")
