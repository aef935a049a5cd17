"""The input contract at prediction time: never a silent wrong prediction."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from assay import Predictor, SchemaError
from assay.cli import app
from assay.preprocess.contract import SchemaWarning
from tests.conftest import make_frame


def _frame(n: int = 200) -> pd.DataFrame:
    frame = make_frame(n)
    days = np.random.default_rng(1).permutation(n) * 3  # not in row order: no time split
    frame["when"] = (pd.Timestamp("2024-01-01") + pd.to_timedelta(days, unit="D")).strftime("%Y-%m-%d")
    return frame


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    predictor = Predictor("y", trials=1, families=["linear"], verbose=False).fit(_frame())
    folder = predictor.save(tmp_path_factory.mktemp("contract") / "model")
    return predictor, folder


@pytest.fixture
def batch() -> pd.DataFrame:
    """Twenty rows with a non-default index: rows are reported by position, not label."""
    frame = _frame().head(20).drop(columns=["y"])
    frame.index = frame.index + 100
    return frame


def _bad(batch: pd.DataFrame) -> pd.DataFrame:
    bad = batch.copy()
    bad["a"] = bad["a"].astype(object)
    bad.iloc[3, bad.columns.get_loc("a")] = "abc"
    bad.iloc[7, bad.columns.get_loc("a")] = "12kg"
    bad.iloc[9, bad.columns.get_loc("a")] = "n/a"  # a placeholder for missing: not a wrong type
    bad.iloc[5, bad.columns.get_loc("when")] = "not a date"
    return bad


def test_missing_columns_are_listed(fitted, batch):
    predictor, _ = fitted
    with pytest.raises(SchemaError, match=r"2 column\(s\).*'a'.*'colour'"):
        predictor.predict(batch.drop(columns=["a", "colour"]))
    report = predictor.check(batch.drop(columns=["a", "colour"]))
    assert not report.ok and [i.column for i in report.errors] == ["a", "colour"]


def test_extra_columns_are_ignored_with_a_warning(fitted, batch):
    predictor, _ = fitted
    with pytest.warns(SchemaWarning, match=r"ignoring 1 column\(s\).*'extra'"):
        with_extra = predictor.predict(batch.assign(extra=1))
    assert with_extra.equals(predictor.predict(batch))


def test_wrong_type_values_are_reported_with_rows_and_set_missing(fitted, batch):
    predictor, _ = fitted
    with pytest.warns(SchemaWarning) as caught:
        proba = predictor.predict_proba(_bad(batch))
    messages = [str(w.message) for w in caught]
    assert any("'a': 2 value(s) not readable as numeric" in m and "rows 3, 7" in m and "'abc'" in m for m in messages)
    assert any("'when': 1 value(s) not readable as datetime" in m and "rows 5" in m for m in messages)
    assert all("n/a" not in m for m in messages)
    expected = batch.copy()
    expected.iloc[[3, 7, 9], expected.columns.get_loc("a")] = np.nan
    expected.iloc[5, expected.columns.get_loc("when")] = None
    np.testing.assert_allclose(proba.to_numpy(), predictor.predict_proba(expected).to_numpy())
    assert list(proba.index) == list(batch.index)

    report = predictor.check(_bad(batch))
    (a,) = [i for i in report.warnings if i.column == "a"]
    assert (a.issue, a.count, a.rows, a.expected) == ("wrong_type", 2, [3, 7], "numeric")
    assert json.loads(json.dumps(report.to_dict()))["issues"][0]["rows"] == [3, 7]


def test_strict_refuses_wrong_types(fitted, batch):
    predictor, _ = fitted
    with pytest.raises(SchemaError, match=r"'a': 2 value\(s\).*rows 3, 7.*'when'"):
        predictor.predict(_bad(batch), strict=True)
    with pytest.raises(SchemaError, match="not readable as numeric"):
        predictor.evaluate(_bad(batch).assign(y="yes"), strict=True)
    assert not predictor.check(_bad(batch), strict=True).ok


def test_a_wholly_unreadable_column_is_an_error_even_when_not_strict(fitted, batch):
    predictor, _ = fitted
    unreadable = batch.assign(a="abc")
    with pytest.raises(SchemaError, match=r"'a': none of its 20 value\(s\) reads as numeric"):
        predictor.predict(unreadable)
    assert [i.issue for i in predictor.check(unreadable).errors] == ["unreadable_column"]


def test_unseen_categories_are_handled_and_reported(fitted, batch):
    predictor, _ = fitted
    odd = batch.copy()
    odd["colour"] = "RED"  # a spelling training never saw, of a level it did see
    odd.iloc[[2, 4], odd.columns.get_loc("colour")] = "purple"
    with warnings.catch_warnings():
        warnings.simplefilter("error", SchemaWarning)  # information, not a warning
        predicted = predictor.predict_proba(odd)
    assert len(predicted) == len(odd)
    notes = {i.issue: i for i in predictor.check(odd).notes}
    assert notes["unseen_category"].rows == [2, 4] and notes["unseen_category"].examples == ["'purple'"]
    assert notes["respelled_category"].count == 18
    red = odd.assign(colour="red")
    np.testing.assert_allclose(predicted.to_numpy()[5:], predictor.predict_proba(red).to_numpy()[5:])


def test_cli_predict_shows_the_warning_and_strict_refuses(fitted, batch, tmp_path):
    _, folder = fitted
    _bad(batch).to_csv(tmp_path / "new.csv", index=False)
    args = ["predict", str(folder), str(tmp_path / "new.csv"), "-o", str(tmp_path / "out.csv"), "--proba"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "warning" in result.output and "'a'" in result.output and "rows 3, 7" in result.output
    assert "file lines 5, 9" in result.output  # the header is line 1
    out = pd.read_csv(tmp_path / "out.csv")
    assert len(out) == 20 and {"predicted_y", "proba_yes", "proba_no"} <= set(out.columns)

    result = CliRunner().invoke(app, [*args, "--strict"])
    assert result.exit_code == 2 and "error" in result.output and "'a'" in result.output


def test_a_few_rows_are_answered_as_they_are_in_a_large_batch():
    """Requests of a few rows take shortcuts (per-value category lookups, LightGBM's single-row
    API); they must not change a single number or note."""
    predictor = Predictor("y", trials=1, families=["lightgbm"], verbose=False).fit(_frame())
    rows = _frame(300).drop(columns=["y"])
    rows.iloc[[3, 70], rows.columns.get_loc("colour")] = "purple"  # unseen
    rows.iloc[[5, 71], rows.columns.get_loc("colour")] = " RED "  # respelled
    rows.iloc[[6, 72], rows.columns.get_loc("colour")] = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SchemaWarning)
        whole = predictor.predict_proba(rows).to_numpy()  # 300 rows: the batch paths
        for start, n in [(0, 1), (3, 1), (5, 2), (6, 1), (10, 4), (60, 64)]:
            part = rows.iloc[start : start + n]
            np.testing.assert_array_equal(predictor.predict_proba(part).to_numpy(), whole[start : start + n])
    few = {i.issue: i.rows for i in predictor.check(rows.iloc[:10]).notes}
    assert few["unseen_category"] == [3] and 5 in few["respelled_category"]
    assert predictor.check(rows.iloc[:3]).notes == []  # every level known: the shortcut, nothing to say
