"""k-nearest neighbours on the standardised dense encoding.

A memory-based model whose errors look nothing like a tree's or a linear model's, so even when
it is weak alone it can earn ensemble weight; it is also strong on small, smooth problems. A fit
is just indexing the rows (nothing to stop half-way), hence truncatable=False.
"""

from __future__ import annotations

from pathlib import Path

from assay.models.base import Model, full_proba
from assay.models.sklearn_io import load_skops, save_skops
from assay.preprocess.dense import dense_encoder, dense_frame
from assay.search.space import Choice, Int

# One-hot levels are all equally far apart, so a many-level category swamps the distance; its
# target encoding measured better from about 20 levels on (see assay.preprocess.dense).
TARGET_LEVELS = 15


class KNNModel(Model):
    family = "knn"
    truncatable = False

    @classmethod
    def search_space(cls, task, n_rows, n_cols):
        return {
            "n_neighbors": Int(1, 50, 10, log=True),
            "weights": Choice(("uniform", "distance"), "distance"),
            "p": Choice((1, 2), 2),
        }

    @classmethod
    def estimate_seconds(cls, n_train, n_predict, n_cols, n_classes):
        # brute-force distances dominate: n_predict x n_train x width, at ~2 GFLOP/s on one core
        width = 3 * n_cols  # one-hot and missing flags widen the table
        return 0.05 + n_predict * n_train * width / 2e9

    def _fit(self, X, y, X_val, y_val, deadline):
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
        from sklearn.pipeline import Pipeline

        cls = KNeighborsClassifier if self.task.is_classification else KNeighborsRegressor
        k = max(1, min(int(self.params.get("n_neighbors", 10)), len(X) - 1))
        est = cls(
            n_neighbors=k,
            weights=self.params.get("weights", "distance"),
            p=int(self.params.get("p", 2)),
            n_jobs=self.threads(),
        )
        continuous = not self.task.is_classification
        encoder = dense_encoder(X, "standard", y, continuous=continuous, seed=self.seed, target_levels=TARGET_LEVELS)
        self.pipeline_ = Pipeline([("encode", encoder), ("model", est)])
        self.pipeline_.fit(dense_frame(X), y)

    def _predict_raw(self, X):
        frame = dense_frame(X)
        if not self.task.is_classification:
            return self.pipeline_.predict(frame)
        est = self.pipeline_[-1]
        proba = full_proba(self.pipeline_.predict_proba(frame), est.classes_, self.task.n_classes)
        # Vote shares are often exactly 0 or 1, and one confident miss costs ~35 nats of log loss;
        # half a pseudo-vote per class keeps them honest without changing the ranking.
        k = est.n_neighbors
        return (proba * k + 0.5) / (k + 0.5 * self.task.n_classes)

    def _save(self, directory: Path):
        save_skops(self.pipeline_, directory / "model.skops")

    def _load(self, directory: Path):
        self.pipeline_ = load_skops(directory / "model.skops")
