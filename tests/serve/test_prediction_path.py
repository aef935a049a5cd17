"""The prediction path was made fast for a row at a time (one block per dtype instead of one Series
per column, cached category dtypes, one input matrix shared by the ensemble's members); none of
that may change a prediction. One row at a time, a JSON record at a time and the whole batch must
agree, on a table with every column kind and every kind of misfit: to 1e-12, since the linear
member's matrix product rounds differently with the batch size (the tree members agree exactly)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from assay import Predictor
from assay.errors import SchemaError
from assay.serve.answers import records_frame


def mixed(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "num": rng.normal(size=n),
            "count": rng.integers(0, 50, n),
            "money": [f"${v:,.2f}" for v in rng.uniform(0, 5000, n)],
            "colour": rng.choice(["red", "green", "blue", "Blue"], n, p=[0.4, 0.3, 0.2, 0.1]),
            "flag": rng.choice(["yes", "no"], n),
            "when": pd.date_range("2021-01-01", periods=n, freq="9h").astype(str),
            "level": rng.choice([1, 2, 3], n),
        }
    )
    signal = frame["num"] + (frame["colour"] == "red") - frame["count"] / 50 + (frame["flag"] == "yes")
    frame["y"] = np.where(signal + rng.normal(size=n) * 0.3 > 0.5, "pos", "neg")
    return frame


@pytest.fixture(scope="module")
def fitted():
    predictor = Predictor("y", trials=2, families=["lightgbm", "linear"], n_threads=1, verbose=False)
    return predictor.fit(mixed(600, 0))


def misfits() -> pd.DataFrame:
    rows = mixed(40, 1).drop(columns=["y"])
    rows["num"] = rows["num"].astype(object)
    rows.loc[3, "num"] = "abc"  # wrong type: set missing
    rows["count"] = rows["count"].astype(float)
    rows.loc[5, "count"] = np.inf  # infinite: missing
    rows.loc[6, "count"] = np.nan
    rows.loc[7, "colour"] = "MAGENTA"  # unseen
    rows.loc[8, "colour"] = "RED"  # respelled
    rows.loc[9, "colour"] = None
    rows.loc[10, "money"] = "?"  # placeholder
    rows.loc[11, "when"] = "not a date"
    return rows


def test_one_row_at_a_time_equals_the_batch(fitted):
    rows = misfits()
    alone_unreadable = {3, 11}  # the only value of its column, and not readable: refused, not guessed
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        batch = fitted.predict_proba(rows).to_numpy()
        kept = [i for i in range(len(rows)) if i not in alone_unreadable]
        singles = np.vstack([fitted.predict_proba(rows.iloc[[i]]).to_numpy() for i in kept])
        for i in alone_unreadable:
            with pytest.raises(SchemaError, match="none of its 1 value"):
                fitted.predict_proba(rows.iloc[[i]])
    np.testing.assert_allclose(singles, batch[kept], rtol=0, atol=1e-12)


def test_json_records_predict_what_the_frame_does(fitted):
    rows = mixed(30, 2).drop(columns=["y"])
    records = rows.to_dict("records")
    from_json, report = fitted.predict_with_report(records_frame(records))
    assert report.ok
    np.testing.assert_allclose(from_json, fitted.predict_proba(rows).to_numpy(), rtol=0, atol=1e-12)
    one_by_one = np.vstack([fitted.predict_with_report(records_frame([r]))[0] for r in records])
    np.testing.assert_allclose(one_by_one, from_json, rtol=0, atol=1e-12)


def test_the_ensemble_members_share_one_input_matrix_only_while_predicting(fitted):
    from assay.models.base import codes_matrix, shared_inputs

    X = fitted._preprocessor.transform(mixed(5, 3).drop(columns=["y"]))
    with shared_inputs():
        first, second = codes_matrix(X), codes_matrix(X)
        assert first is second and not first.flags.writeable
    assert codes_matrix(X) is not codes_matrix(X)  # outside prediction nothing is cached
