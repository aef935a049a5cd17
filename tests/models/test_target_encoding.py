"""Target encoding of many-level categories in the dense encoding: cross-fitted, saved safely."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assay.models.knn import TARGET_LEVELS, KNNModel
from assay.models.linear import LinearModel
from assay.models.mlp import MLPModel
from assay.preprocess.dense import ONEHOT_MAX, dense_encoder, dense_frame
from assay.preprocess.table import TablePreprocessor
from assay.task import Task


def _table(n: int = 300, levels: int = 60, kind: str = "binary", signal: float = 1.0, seed: int = 0):
    """A preprocessed table: two numbers, a `levels`-level category and a 3-level one, and y."""
    rng = np.random.default_rng(seed)
    city = rng.integers(0, levels, n)
    effect = rng.normal(size=levels)
    raw = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "city": [f"c{i}" for i in city],
            "colour": rng.choice(["red", "green", "blue"], n),
        }
    )
    latent = signal * effect[city] + raw["a"].to_numpy() + 0.5 * rng.normal(size=n)
    if kind == "regression":
        y = latent
    elif kind == "binary":
        y = (latent > 0).astype(int)
    else:
        y = np.digitize(latent, [-0.7, 0.7])
    X = TablePreprocessor(min_category_count=1).fit(raw).transform(raw)
    return X, y


def _task(kind: str, y) -> Task:
    return Task(kind, tuple(range(len(np.unique(y))))) if kind != "regression" else Task("regression")


def _parts(encoder) -> dict:
    return {name: cols for name, _, cols in encoder.transformers}


def test_many_levels_are_target_encoded_and_few_one_hot():
    X, y = _table(levels=40)
    # k-NN asks for it from 15 levels; linear and MLP only where one-hot would pool levels
    assert _parts(dense_encoder(X, "standard", y, target_levels=TARGET_LEVELS)) == {
        "num": [0, 1], "missing": [0, 1], "cat": [3], "target": [2]
    }  # fmt: skip
    assert _parts(dense_encoder(X, "standard", y))["cat"] == [2, 3]
    wide, y_wide = _table(levels=ONEHOT_MAX + 20)
    assert _parts(dense_encoder(wide, "standard", y_wide))["target"] == [2]
    # without a target there is nothing to encode with: everything stays one-hot
    assert "target" not in _parts(dense_encoder(wide, "standard"))


def test_training_rows_are_not_encoded_with_their_own_target():
    """On a category with no signal, an in-sample encoding 'learns' y from each row's own label;
    the cross-fitted encoding that the models train on does not."""
    X, y = _table(n=400, levels=80, signal=0.0)
    y = np.random.default_rng(1).integers(0, 2, len(X))  # pure noise
    enc = dense_encoder(X, "standard", y, target_levels=TARGET_LEVELS)
    cross = enc.fit_transform(dense_frame(X), y)[:, enc.output_indices_["target"]].ravel()
    naive = enc.transform(dense_frame(X))[:, enc.output_indices_["target"]].ravel()
    assert not np.allclose(cross, naive)
    corr_naive, corr_cross = np.corrcoef(naive, y)[0, 1], np.corrcoef(cross, y)[0, 1]
    assert corr_naive > 0.3 and corr_cross < corr_naive - 0.25


@pytest.mark.parametrize(
    "family, params, kind",
    [
        (LinearModel, {}, "binary"),
        (LinearModel, {"scaling": "quantile"}, "regression"),
        (KNNModel, {"n_neighbors": 5}, "multiclass"),
        (MLPModel, {"max_epochs": 3, "hidden": 16}, "multiclass"),
    ],
)
def test_fitted_encoder_saves_and_loads_with_skops(family, params, kind, tmp_path):
    if not family.available():
        pytest.skip(f"{family.family} needs {family.requires}")
    X, y = _table(levels=ONEHOT_MAX + 20, kind=kind)
    model = family(_task(kind, y), params, seed=0).fit(X.iloc[:240], y[:240])
    model.save(tmp_path / "m")
    assert list((tmp_path / "m").glob("*.skops"))
    loaded = family.load(tmp_path / "m")
    held_out = X.iloc[240:]
    np.testing.assert_allclose(loaded.predict_raw(held_out), model.predict_raw(held_out))


def test_target_encoding_helps_a_linear_model_on_a_many_level_category(monkeypatch):
    """The reason for it: a 150-level category carries most of the signal, and one-hot keeps 64."""
    import assay.preprocess.dense as dense

    X, y = _table(n=2000, levels=150, kind="regression", signal=2.0)
    task = _task("regression", y)

    def r2(levels: int) -> float:
        monkeypatch.setattr(dense, "TARGET_ENCODE_LEVELS", levels)
        pred = LinearModel(task, {}).fit(X.iloc[:1500], y[:1500]).predict_raw(X.iloc[1500:])
        return 1 - np.mean((pred - y[1500:]) ** 2) / np.var(y[1500:])

    assert r2(ONEHOT_MAX) > r2(10**9) + 0.05
