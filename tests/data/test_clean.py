"""Cleaning: every fix happens per the schema, is counted with examples, and never touches the input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assay.data.clean import ROWS, CleaningLog, clean_frame
from assay.data.schema import ColumnType, Schema, infer_schema

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets"


def clean(frame: pd.DataFrame, **kw):
    target = kw.pop("target", None)
    schema = infer_schema(frame, target=target, overrides=kw.pop("overrides", None))
    return clean_frame(frame, schema, **kw)


def action(log: CleaningLog, column: str, name: str):
    found = [a for a in log if a.column == column and a.action == name]
    assert len(found) == 1, (column, name, log.describe())
    return found[0]


def test_numbers_written_as_text():
    values = ["1,234", "$5.00", "12%", " 7 ", "(5)", "1e3", "-2.5", "€1,000,000", "?", "abc", "1,5", None]
    frame = pd.DataFrame({"amount": values * 20})
    out, log = clean(frame, overrides={"amount": "numeric"})
    expect = [1234, 5, 12, 7, -5, 1000, -2.5, 1e6, np.nan, np.nan, np.nan, np.nan] * 20
    np.testing.assert_array_equal(out["amount"].to_numpy(), np.array(expect, dtype=float))
    assert out["amount"].dtype == "float64"
    converted = action(log, "amount", "number_from_text")
    assert converted.count == 8 * 20 and "12%' became 12, not 0.12" in converted.note
    assert all(e.strip("'") in values for e in converted.examples) and len(converted.examples) == 3
    assert action(log, "amount", "missing_sentinel").examples == ["'?'"]
    failed = action(log, "amount", "unparseable_to_missing")
    assert failed.count == 40 and set(failed.examples) == {"'abc'", "'1,5'"}


@pytest.mark.parametrize("kind", ["categorical", "text", "identifier"])
def test_sentinels_become_missing(kind):
    sentinels = ["?", "NA", "N/A", "n/a", "null", "NULL", "None", "-", "--", "", "   "]
    real = [f"value {i}" for i in range(40)]
    frame = pd.DataFrame({"c": sentinels + real}, dtype=object)
    schema = Schema([ColumnType("c", kind, "test")])
    out, log = clean_frame(frame, schema)
    assert out["c"].isna().sum() == len(sentinels)
    assert out["c"].dropna().tolist() == real
    assert action(log, "c", "missing_sentinel").count == len(sentinels)


def test_category_spellings_unified_to_the_most_frequent():
    values = ["Male"] * 5 + ["male"] * 2 + [" Male "] + ["FEMALE"] + ["Female"] * 3 + ["Other"] * 20
    frame = pd.DataFrame({"sex": values, "y": range(len(values))})
    out, log = clean(frame, overrides={"sex": "categorical"})
    assert out["sex"].value_counts().to_dict() == {"Other": 20, "Male": 8, "Female": 4}
    unified = action(log, "sex", "spelling_unified")
    assert unified.count == 4 and unified.examples[0] == "'male'"
    assert "'male' -> 'Male'" in unified.note


def test_clean_categories_are_left_alone():
    frame = pd.DataFrame({"i": range(100), "colour": np.random.default_rng(0).choice(["red", "green", "blue"], 100)})
    out, log = clean(frame)
    assert len(log) == 0 and out["colour"].equals(frame["colour"])


def test_infinities_become_missing():
    frame = pd.DataFrame({"x": [1.0, np.inf, -np.inf, 2.0] * 10, "s": ["1", "inf", "-Infinity", "2"] * 10})
    out, log = clean(frame, overrides={"s": "numeric"})
    assert out["x"].isna().sum() == 20 and out["s"].isna().sum() == 20
    assert action(log, "x", "infinity_to_missing").count == 20
    assert action(log, "s", "infinity_to_missing").count == 20


def test_booleans_become_zero_one():
    frame = pd.DataFrame(
        {
            "words": ["Yes", "no", "YES", "-"] * 10,
            "flags": [True, False] * 20,
            "ints": [0, 1] * 20,
            "odd": ["yes", "no"] * 19 + ["maybe", "yes"],
        }
    )
    out, log = clean(frame)
    np.testing.assert_array_equal(out["words"].to_numpy(), np.array([1, 0, 1, np.nan] * 10))
    assert out["flags"].tolist() == [1.0, 0.0] * 20
    assert out["ints"].equals(frame["ints"])  # already 0/1: nothing to report
    assert action(log, "words", "boolean_to_number").count == 30
    assert action(log, "flags", "boolean_to_number").count == 40
    assert not [a for a in log if a.column == "ints"]
    schema = Schema([ColumnType("odd", "boolean", "test", details={"true_values": ["yes"], "false_values": ["no"]})])
    out, log = clean_frame(frame[["odd"]], schema)
    assert out["odd"].isna().sum() == 1 and action(log, "odd", "unparseable_to_missing").examples == ["'maybe'"]


def test_datetimes_day_first_and_epochs():
    days = pd.Series(pd.date_range("2020-01-01", periods=60, freq="D"))
    frame = pd.DataFrame(
        {
            "eu": days.dt.strftime("%d/%m/%Y"),
            "iso": days.dt.strftime("%Y-%m-%d %H:%M:%S"),
            "created_at": (days - pd.Timestamp("1970-01-01")) // pd.Timedelta("1s"),
        }
    )
    frame.loc[3, "eu"] = "31/02/2020"  # no such day
    out, log = clean(frame)
    assert out["eu"][13] == pd.Timestamp("2020-01-14") and pd.isna(out["eu"][3])
    assert (out["iso"] == days).all() and (out["created_at"] == days).all()
    assert "day first" in action(log, "eu", "datetime_parsed").note
    assert action(log, "eu", "unparseable_to_missing").examples == ["'31/02/2020'"]
    assert action(log, "created_at", "datetime_parsed").count == 60


def test_duplicate_rows_counted_after_fixes_and_dropped_on_request():
    frame = pd.DataFrame({"a": ["x", "x ", "y", "y", "z"] * 5, "b": [1, 1, 2, 2, 3] * 5})
    schema = Schema([ColumnType("a", "categorical", "t"), ColumnType("b", "numeric", "t")])
    out, log = clean_frame(frame, schema)
    dup = action(log, ROWS, "duplicate_rows")
    assert dup.count == 22 and len(out) == 25 and "kept" in dup.note  # 3 distinct rows remain unique
    out, log = clean_frame(frame, schema, drop_duplicates=True)
    assert len(out) == 3 and action(log, ROWS, "duplicate_rows").note == "dropped"


def test_input_is_never_mutated_and_every_action_is_reported():
    frame = pd.DataFrame(
        {
            "n": ["1,000", "?", "3"] * 30,
            "c": ["A", "a", "B"] * 30,
            "x": [1.0, np.inf, 2.0] * 30,
            "untyped": ["?"] * 90,
        }
    )
    before = frame.copy(deep=True)
    schema = infer_schema(frame[["n", "c", "x"]])
    out, log = clean_frame(frame, schema)
    pd.testing.assert_frame_equal(frame, before)
    assert out["untyped"].equals(frame["untyped"])  # not in the schema: untouched
    assert {a.action for a in log} >= {
        "number_from_text",
        "missing_sentinel",
        "spelling_unified",
        "infinity_to_missing",
    }
    for a in log:
        assert a.count > 0 and len(a.examples) <= 3
    assert len(log.describe()) == len(log) and log.count("missing_sentinel") == 30
    again = CleaningLog.from_dict(json.loads(json.dumps(log.to_dict())))
    assert again == log


def test_target_is_cleaned_as_labels_or_numbers():
    frame = pd.DataFrame({"x": range(60), "y": ["yes", "no", "yes", "Yes"] * 15})
    schema = Schema([ColumnType("x", "numeric", "t"), ColumnType("y", "boolean", "t", details={})])
    out, log = clean_frame(frame, schema, target="y")
    assert set(out["y"]) == {"yes", "no"}  # kept as class labels, spellings unified, not 0/1
    assert action(log, "y", "spelling_unified").count == 15


def test_large_columns_are_cleaned_per_distinct_value():
    n = 200_000
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"s": rng.choice(["1,000", "2", "?", "$3"], n), "c": rng.choice(["a", "A", "b"], n)})
    schema = Schema([ColumnType("s", "numeric", "t"), ColumnType("c", "categorical", "t")])
    out, log = clean_frame(frame, schema)
    assert out["s"].isna().sum() == log.count("missing_sentinel", "s") == (frame["s"] == "?").sum()
    assert (
        out["s"].sum()
        == 1000 * (frame["s"] == "1,000").sum() + 2 * (frame["s"] == "2").sum() + 3 * (frame["s"] == "$3").sum()
    )
    fewer = min((frame["c"] == "a").sum(), (frame["c"] == "A").sum())
    assert log.count("spelling_unified", "c") == fewer and out["c"].nunique() == 2


# ---- real files -----------------------------------------------------------------------------------


def shared(*parts) -> Path:
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is not available")
    return path


def test_mpg_horsepower_becomes_numeric():
    frame = pd.read_csv(shared("messy", "mpg_raw.csv"))
    out, log = clean(frame, target="mpg")
    assert out["horsepower"].dtype == "float64" and out["horsepower"].isna().sum() == 6
    assert action(log, "horsepower", "missing_sentinel").examples == ["'?'"]
    assert action(log, "horsepower", "number_from_text").count == 392


def test_penguins_and_planets_need_no_fixes():
    out, log = clean(pd.read_csv(shared("messy", "penguins.csv")), target="species")
    assert len(log) == 0
    path = shared("messy", "planets_raw.csv")
    out, log = clean(pd.read_csv(path, comment=None, skiprows=10), target="pl_discmethod")
    assert len(log) == 0


def test_diamonds_duplicates_reported():
    frame = pd.read_csv(shared("messy", "diamonds.csv"))
    out, log = clean(frame, target="price")
    assert log.count("duplicate_rows") == frame.duplicated().sum() == 146 and len(out) == len(frame)


def test_odd_inputs():
    frame = pd.DataFrame(
        {
            "b": ["1.0", "0.0", " 1 "] * 10,  # numbers that are yes/no
            "cat": pd.Categorical(["a", "?", "A", "a"] * 7 + ["b", "b"]),
            "tz": ["2020-01-01T00:00:00+01:00", "2020-01-01T00:00:00+02:00", "2020-01-01T00:00:00Z"] * 10,
            "mixed": np.array([1, "2", 3.5, None, "x"] * 6, dtype=object),
        }
    )
    schema = infer_schema(frame)
    assert [c.kind for c in schema] == ["boolean", "categorical", "datetime", "categorical"]
    out, log = clean_frame(frame, schema)
    assert out["b"].tolist() == [1.0, 0.0, 1.0] * 10
    assert out["cat"].isna().sum() == 7 and set(out["cat"].dropna()) == {"a", "b"}
    assert out["tz"][:3].tolist() == [pd.Timestamp("2019-12-31 23:00"), pd.Timestamp("2019-12-31 22:00")] + [
        pd.Timestamp("2020-01-01")
    ]
    assert log.count(column="mixed") == 0
