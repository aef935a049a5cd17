"""Big data: the search sees a stratified sample, the chosen members are refit on every row."""

from __future__ import annotations

import numpy as np
import pytest

from assay import Predictor
from assay.errors import ConfigError
from assay.search.subsample import check_search_rows, search_sample
from tests.conftest import make_frame


def test_sample_keeps_class_proportions_and_rare_classes():
    rng = np.random.default_rng(0)
    y = np.where(rng.random(100_000) < 0.3, 1, 0)
    y[:20] = 2  # a class of 20 rows in 100,000
    idx = search_sample(y, True, 10_000, seed=0)
    assert np.all(np.diff(idx) > 0), "indices come back sorted, so row order (time) is kept"
    assert abs(np.mean(y[idx] == 1) - np.mean(y == 1)) < 0.01
    assert np.sum(y[idx] == 2) == 20, "a class rarer than the sample can spare keeps all its rows"
    assert 9_900 <= len(idx) <= 10_100


def test_sample_takes_whole_groups_and_nothing_below_the_limit():
    groups = np.repeat(np.arange(1_000), 50)
    idx = search_sample(np.zeros(len(groups)), False, 5_000, seed=1, groups=groups)
    counts = np.bincount(groups[idx])
    assert set(counts[counts > 0]) == {50}, "every sampled group keeps all its rows"
    assert 5_000 <= len(idx) < 5_100
    assert search_sample(np.zeros(500), False, 1_000, seed=0) is None


@pytest.mark.parametrize("bad", [0, 10, -5, 2.5, True])
def test_bad_search_rows_is_a_user_error(bad):
    with pytest.raises(ConfigError, match="search_rows"):
        check_search_rows(bad)


def test_fit_searches_on_a_sample_and_refits_on_all_rows():
    frame = make_frame(3_000)
    predictor = Predictor("y", trials=2, families=["lightgbm"], verbose=False, search_rows=1_000, n_threads=1)
    predictor.fit(frame)
    notes = " ".join(predictor.info["notes"])
    assert "searched on a sample of 1,000 of 3,000 rows" in notes, notes
    assert "refit on all 3,000 rows" in notes, notes
    assert predictor.predict(frame.head(20)).shape == (20,)
