"""Every registered model family against the Model contract, on each task kind."""

from __future__ import annotations

import pytest

from assay.models.registry import FAMILY_KEYS, get_family
from assay.task import TASK_KINDS
from assay.testing import check_model

# Small enough that the whole grid runs in well under a minute on two cores.
_FAST = {
    "lightgbm": {"n_estimators": 30},
    "xgboost": {"n_estimators": 30},
    "catboost": {"iterations": 60},
    "random_forest": {"n_estimators": 20},
    "extra_trees": {"n_estimators": 20},
    "mlp": {"max_epochs": 15, "hidden": 32},
}


@pytest.mark.parametrize("kind", TASK_KINDS)
@pytest.mark.parametrize("key", FAMILY_KEYS)
def test_family_conforms(key, kind):
    family = get_family(key)
    if not family.available():
        pytest.skip(f"{key} needs {', '.join(family.requires)}")
    check_model(family, kind, _FAST.get(key))
