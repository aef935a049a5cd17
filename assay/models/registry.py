"""Every model family by its short key: adding a family is one file and one line here."""

from __future__ import annotations

import importlib

from assay.errors import ConfigError, problem
from assay.models.base import Model

# key -> "module:Class", imported lazily so a missing optional library costs nothing.
_FAMILIES = {
    "lightgbm": "assay.models.lightgbm:LightGBMModel",
    "xgboost": "assay.models.xgboost:XGBoostModel",
    "catboost": "assay.models.catboost:CatBoostModel",
    "linear": "assay.models.linear:LinearModel",
    "random_forest": "assay.models.forest:RandomForestModel",
    "extra_trees": "assay.models.forest:ExtraTreesModel",
    "knn": "assay.models.knn:KNNModel",
    "mlp": "assay.models.mlp:MLPModel",
}

FAMILY_KEYS = tuple(_FAMILIES)


def get_family(key: str) -> type[Model]:
    if isinstance(key, str) and key.startswith("pipeline:") and key.count(":") == 1:  # a family behind searched steps
        from assay.models.pipeline import pipeline_family

        return pipeline_family(get_family(key.split(":", 1)[1]))
    if key not in _FAMILIES:
        raise ConfigError(
            problem(f"unknown model family {key!r}", where="families", fix=f"use any of {', '.join(_FAMILIES)}")
        )
    module, cls = _FAMILIES[key].split(":")
    return getattr(importlib.import_module(module), cls)


def available_families(wanted: list[str] | None = None) -> list[str]:
    """Families whose libraries are installed, in registry order, optionally restricted."""
    keys = list(_FAMILIES) if wanted is None else [get_family(k) and k for k in wanted]
    return [k for k in keys if get_family(k).available()]
