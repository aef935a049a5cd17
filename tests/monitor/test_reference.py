"""The training reference in the model folder: written by save, read back whole, carried over by a
re-save, and built from the training file for folders saved without one."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assay import ArtifactError, Predictor
from assay.monitor.reference import (
    MAX_ROWS,
    build_reference,
    load_reference,
    read_reference,
    reference_from_data,
    save_reference,
)
from tests.conftest import make_frame


def test_save_writes_the_reference_and_load_reads_it(fitted, model_folder):
    assert (model_folder / "reference.parquet").is_file()
    ref = load_reference(Predictor.load(model_folder))
    assert ref.kinds == {"a": "numeric", "b": "numeric", "c": "numeric", "d": "numeric", "colour": "categorical"}
    assert list(ref.rows.columns) == list(ref.kinds) and ref.n_rows == 800
    assert ref.meta["n_train_rows"] == 800 and ref.meta["prediction_source"] == "out-of-fold"
    assert list(ref.predictions.columns) == ["no", "yes"]
    np.testing.assert_allclose(ref.predictions.sum(axis=1), 1.0)
    assert set(ref.target) == {"no", "yes"}
    # out-of-fold predictions score like the validation estimate kept beside them
    from sklearn.metrics import roc_auc_score

    auc = roc_auc_score(ref.target == "yes", ref.predictions["yes"])
    assert auc == pytest.approx(ref.estimate["value"], abs=1e-9)
    assert ref.estimate["metric"] == "roc_auc" and ref.estimate["low"] < ref.estimate["value"] < ref.estimate["high"]
    in_memory = load_reference(fitted)  # before saving, from the fit's own sample
    pd.testing.assert_frame_equal(in_memory.rows, ref.rows, check_dtype=False, check_column_type=False)


def test_a_resave_of_a_loaded_model_keeps_its_reference(model_folder, tmp_path):
    again = Predictor.load(model_folder)
    again._report_into = lambda folder: None
    copy = again.save(tmp_path / "copy")
    assert (copy / "reference.parquet").read_bytes() == (model_folder / "reference.parquet").read_bytes()


def test_a_folder_without_a_reference_says_how_to_give_one(old_folder, tables):
    model = Predictor.load(old_folder)
    with pytest.raises(ArtifactError, match="--reference train.csv"):
        load_reference(model)
    ref = reference_from_data(model, tables["train"])
    # the training rows' predictions would be in-sample: kept out, so they cannot pose as drift
    assert ref.n_rows == 800 and ref.predictions is None and ref.target is not None
    assert ref.estimate["metric"] == "roc_auc"
    unseen = reference_from_data(model, tables["recent"])  # rows the model never saw: predicted
    assert unseen.predictions is not None and "not training rows" in unseen.meta["prediction_source"]


def test_large_tables_are_sampled_and_odd_columns_survive(tmp_path):
    rng = np.random.default_rng(0)
    n = MAX_ROWS + 2_000
    mixed = pd.Series(np.where(rng.random(n) < 0.5, "x", None), dtype=object)
    rows = pd.DataFrame({0: rng.normal(size=n), "mixed": mixed})
    rows.loc[::7, "mixed"] = 3  # numbers among text: Arrow refuses, so stored as text
    ref = build_reference(rows, {0: "numeric", "mixed": "categorical"}, raw=rng.random(n), seed=1)
    assert ref.n_rows == MAX_ROWS and len(ref.predictions) == MAX_ROWS
    back = read_reference(save_reference(ref, tmp_path / "reference.parquet"))
    assert list(back.rows.columns) == [0, "mixed"]  # the integer name comes back as an integer
    np.testing.assert_allclose(back.rows[0], ref.rows[0])
    assert set(back.rows["mixed"].dropna()) == {"x", "3"}
    assert list(back.predictions.columns) == ["prediction"]


def test_an_unreadable_reference_is_an_artifact_error(tmp_path):
    path = tmp_path / "reference.parquet"
    make_frame(10).to_parquet(path)  # Parquet, but not a reference
    with pytest.raises(ArtifactError, match="cannot be read"):
        read_reference(path)
