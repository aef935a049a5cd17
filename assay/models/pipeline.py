"""A pipeline: preprocessing steps (assay.preprocess.steps) then one model of any family.

Evolutionary search treats preprocessing as part of the configuration, so the steps must run
inside every fold's fit (they read the target) and be saved with the model (prediction must
repeat them). Wrapping the family keeps both in the one place every trial already goes through:
the family key "pipeline:lightgbm" names LightGBM behind the steps; its params are the steps'
genes (`pre_*`) plus LightGBM's own, so a pipeline trial is still (family, params, seed).
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

from assay.models.base import Model
from assay.preprocess.steps import GENES, PipelineSteps, split_genes

PREFIX = "pipeline:"


@functools.cache
def pipeline_family(inner: type[Model]) -> type[Model]:
    """The pipeline class around `inner`, one per family, so `family` names it for loading."""
    return type(
        f"Pipeline{inner.__name__}",
        (PipelineModel,),
        {
            "family": PREFIX + inner.family,
            "inner": inner,
            "truncatable": inner.truncatable,
            "uses_gpu": inner.uses_gpu,
            "requires": inner.requires,
            "rounds_param": inner.rounds_param,
        },
    )


class PipelineModel(Model):
    inner: type[Model] = Model

    def __reduce__(self):
        """By the inner family's key: the class is made at run time, so pickle (process and Ray
        executors send fitted models back) could not find it by name."""
        return _restore, (self.inner.family, self.__dict__)

    @classmethod
    def search_space(cls, task, n_rows, n_cols):
        return {**GENES, **cls.inner.search_space(task, n_rows, n_cols)}

    @classmethod
    def estimate_seconds(cls, n_train, n_predict, n_cols, n_classes):
        # one-hot and missing flags can double the width; the ranking adds a fraction of a second
        return 0.5 + cls.inner.estimate_seconds(n_train, n_predict, 2 * n_cols, n_classes)

    def _inner_model(self, params: dict) -> Model:
        return self.inner(
            self.task, params, seed=self.seed, metric=self.metric, n_threads=self.n_threads, device=self.device
        )

    def _fit(self, X, y, X_val, y_val, deadline):
        genes, params = split_genes(self.params)
        self.steps_ = PipelineSteps(genes, self.seed)
        Xt = self.steps_.fit_transform(X, y, self.task)
        Xv = None if X_val is None else self.steps_.transform(X_val)
        self.model_ = self._inner_model(params).fit(Xt, y, X_val=Xv, y_val=y_val, deadline=deadline)
        self.best_iteration_ = self.model_.best_iteration_

    def _predict_raw(self, X):
        return self.model_.predict_raw(self.steps_.transform(X))

    def _save(self, directory: Path):
        from assay.models.sklearn_io import save_skops

        steps_dir = directory / "steps"
        steps_dir.mkdir(parents=True, exist_ok=True)
        (steps_dir / "steps.json").write_text(json.dumps(self.steps_.to_dict(), indent=1))
        for name, part in self.steps_.fitted_parts().items():
            save_skops(part, steps_dir / f"{name}.skops")
        self.model_.save(directory / "model")

    def _load(self, directory: Path):
        from assay.models.sklearn_io import load_skops

        steps_dir = directory / "steps"
        parts = {p.stem: load_skops(p) for p in sorted(steps_dir.glob("*.skops"))}
        self.steps_ = PipelineSteps.from_dict(json.loads((steps_dir / "steps.json").read_text()), parts)
        self.model_ = self.inner.load(directory / "model")


def _restore(inner_key: str, state: dict) -> PipelineModel:
    from assay.models.registry import get_family

    cls = pipeline_family(get_family(inner_key))
    model = cls.__new__(cls)
    model.__dict__.update(state)
    return model
