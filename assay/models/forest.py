"""Random forests and extra-trees: bagged deep trees, nearly tuning-free and hard to overfit,
so they are a dependable baseline and add variance-reduced, differently-biased members to the
ensemble.

scikit-learn's trees take NaN natively, so the input is the codes matrix with missing values
left as NaN (categories as ordinal codes). The forest grows with warm_start in small chunks and
checks the deadline between chunks, keeping the trees it has when time runs out.
"""

from __future__ import annotations

from pathlib import Path

from assay.models.base import Model, codes_matrix, full_proba
from assay.models.sklearn_io import load_skops, save_skops
from assay.search.space import Choice, Int

_CHUNK = 16  # trees per warm-start step: small enough that a deadline is honoured promptly
_MAX_BYTES = 150e6  # one fitted forest; k of them are kept per trial, so deep trees on big data are capped


def max_trees(n_rows: int, min_samples_leaf: int, n_outputs: int) -> int:
    """How many fully grown trees fit in the memory cap (about 2n/leaf nodes of ~64+8K bytes each)."""
    tree_bytes = 2 * n_rows / max(min_samples_leaf, 1) * (64 + 8 * n_outputs)
    return max(_CHUNK, int(_MAX_BYTES / tree_bytes))


class _ForestModel(Model):
    _classifier = ""  # sklearn.ensemble class names, set by each subclass
    _regressor = ""

    @classmethod
    def search_space(cls, task, n_rows, n_cols):
        space = {
            "n_estimators": Int(100, 500, 300),
            "max_features": Choice(("sqrt", 0.5, 1.0), "sqrt" if task.is_classification else 1.0),
            "min_samples_leaf": Int(1, 20, 1, log=True),
        }
        if task.is_classification:
            space["criterion"] = Choice(("gini", "entropy"), "gini")
        return space

    def _fit(self, X, y, X_val, y_val, deadline):
        import sklearn.ensemble

        classification = self.task.is_classification
        cls = getattr(sklearn.ensemble, self._classifier if classification else self._regressor)
        p = self.params
        kwargs = {"criterion": p.get("criterion", "gini")} if classification else {}
        self.forest_ = cls(
            n_estimators=0,
            max_features=p.get("max_features", "sqrt" if classification else 1.0),
            min_samples_leaf=int(p.get("min_samples_leaf", 1)),
            warm_start=True,
            n_jobs=self.threads(),
            random_state=self.seed,
            **kwargs,
        )
        matrix = codes_matrix(X)
        leaf = int(p.get("min_samples_leaf", 1))
        target = min(int(p.get("n_estimators", 300)), max_trees(len(X), leaf, max(self.task.n_classes, 1)))
        while self.forest_.n_estimators < target:
            self.forest_.n_estimators = min(target, self.forest_.n_estimators + _CHUNK)
            self.forest_.fit(matrix, y)
            if deadline.expired():
                break
        self.best_iteration_ = len(self.forest_.estimators_)

    def _predict_raw(self, X):
        matrix = codes_matrix(X)
        if not self.task.is_classification:
            return self.forest_.predict(matrix)
        return full_proba(self.forest_.predict_proba(matrix), self.forest_.classes_, self.task.n_classes)

    def _save(self, directory: Path):
        save_skops(self.forest_, directory / "model.skops")

    def _load(self, directory: Path):
        self.forest_ = load_skops(directory / "model.skops")


class RandomForestModel(_ForestModel):
    family = "random_forest"
    _classifier, _regressor = "RandomForestClassifier", "RandomForestRegressor"


class ExtraTreesModel(_ForestModel):
    family = "extra_trees"
    _classifier, _regressor = "ExtraTreesClassifier", "ExtraTreesRegressor"
