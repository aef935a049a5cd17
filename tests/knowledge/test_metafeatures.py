"""Meta-features on real tables, with values known from the data itself."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from assay import datasets
from assay.knowledge.metafeatures import NAMES, as_vector, describe_table
from tests.conftest import SHARED


def test_penguins_meta_features():
    frame = datasets.load("penguins")
    meta = describe_table(frame, "species")
    assert list(meta) == list(NAMES)
    assert meta["n_rows"] == 344 and meta["n_cols"] == 6
    counts = np.array([152, 124, 68]) / 344
    assert meta["n_classes"] == 3
    assert meta["class_entropy"] == pytest.approx(float(-(counts * np.log2(counts)).sum()))
    assert meta["class_imbalance"] == pytest.approx(152 / 68)
    assert meta["share_categorical"] == pytest.approx(2 / 6)  # island, sex
    assert 0 < meta["missing_share"] < 0.05  # 19 empty cells among 344 x 6
    assert meta["landmark_1nn"] > 0.6  # the species separate well by measurements
    assert math.isnan(meta["target_skew"])
    again = describe_table(frame, "species")
    assert np.array_equal(as_vector(meta), as_vector(again), equal_nan=True)  # deterministic


@pytest.mark.skipif(not (SHARED / "pmlb" / "iris").is_dir(), reason="needs ../shared/datasets/pmlb")
def test_iris_from_pmlb():
    frame = pd.read_csv(SHARED / "pmlb/iris/iris.tsv.gz", sep="\t")
    meta = describe_table(frame, "target")
    assert (meta["n_rows"], meta["n_cols"], meta["n_classes"]) == (150, 4, 3)
    assert meta["class_entropy"] == pytest.approx(math.log2(3))  # 50 of each class
    assert meta["class_imbalance"] == 1.0
    assert meta["missing_share"] == 0 and meta["share_numeric"] == 1.0
    assert 0.5 < meta["landmark_stump"] < 0.75  # one split isolates setosa only: about 2/3
    assert meta["landmark_naive_bayes"] > 0.9


def test_regression_meta_features():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    frame["y"] = np.exp(frame["a"])  # right-skewed
    meta = describe_table(frame, "y")
    assert meta["n_classes"] == 0 and math.isnan(meta["class_entropy"])
    assert meta["target_skew"] > 1
    assert meta["landmark_1nn"] > 0.8  # R2 of a smooth function of one column
