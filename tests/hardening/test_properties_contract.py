"""Property-based tests of the schema contract at prediction: whatever rows arrive, a fitted model
answers one prediction per row and names what it coerced, or refuses with an AssayError naming
the column and row, and a bad row never changes the answer for a good one.

The batches are generated around one tiny fitted model (make_frame: numbers a-d, the category
colour); every cell may be spoiled with a wrong-typed value, and columns may go missing or be added.
"""

from __future__ import annotations

import json
import math
import os
import warnings

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from hypothesis import example, given, note, settings
from hypothesis import strategies as st

from assay import Predictor
from assay.errors import AssayError, SchemaError
from assay.preprocess.contract import MAX_ROWS, SchemaWarning
from assay.serve import create_app
from assay.serve.answers import records_frame
from tests.conftest import make_frame

SCALE = int(os.environ.get("ASSAY_PROPERTY_SCALE", "1"))
NUMERIC, CATEGORY = ["a", "b", "c", "d"], "colour"
LEVELS = ["red", "green", "blue"]


def examples(n: int) -> settings:
    return settings(max_examples=n * SCALE, deadline=None)


@pytest.fixture(scope="session")
def model(served_model) -> Predictor:
    """The hardening tests' tiny saved model (conftest.py: make_frame(200), one LightGBM trial)."""
    return Predictor.load(served_model)


# What may land in a cell, and what the contract must make of it: "ok" values are used as given (or
# after documented cleaning), "missing" ones are read as missing without complaint, "wrong" ones are
# reported (or refused with strict) with their row.
LONG = "x" * 5000
NUMBER_CELLS = {
    "ok": st.one_of(
        st.floats(-1e6, 1e6, allow_nan=False),
        st.integers(-1000, 1000),
        st.sampled_from(["1,234", " 7 ", "$5.00", "12%", "-0.5"]),
    ),
    "missing": st.sampled_from([None, np.nan, math.inf, -math.inf, "?", "NA", "", "null"]),
    "wrong": st.one_of(st.sampled_from(["abc", LONG, "1.2.3", "twelve", "🙂"]), st.text(min_size=1, max_size=8)),
}
CATEGORY_CELLS = {
    "ok": st.sampled_from(LEVELS + ["RED", " green ", "purple", LONG, "7", 7, 3.5, True]),
    "missing": st.sampled_from([None, np.nan, "?", ""]),
}


@st.composite
def batches(draw):
    """(frame, where each numeric column holds wrong values, the rows left untouched)."""
    n = draw(st.integers(1, 12))
    rows, wrong, pristine = [], {c: [] for c in NUMERIC}, []
    for i in range(n):
        spoil = draw(st.booleans())
        row = {c: draw(st.floats(-3, 3, allow_nan=False)) for c in NUMERIC}
        row[CATEGORY] = draw(st.sampled_from(LEVELS))
        if spoil:
            for c in draw(st.lists(st.sampled_from([*NUMERIC, CATEGORY]), min_size=1, max_size=5, unique=True)):
                cells = CATEGORY_CELLS if c == CATEGORY else NUMBER_CELLS
                what = draw(st.sampled_from(sorted(cells)))
                value = draw(cells[what])
                if what == "wrong" and _reads_as_number(value):
                    what = "ok"  # st.text() can draw "1" or " 2 ": a number after all
                row[c] = value
                if what == "wrong":
                    wrong[c].append(i)
        else:
            pristine.append(i)
        rows.append(row)
    frame = pd.DataFrame(rows, columns=[*NUMERIC, CATEGORY])
    return frame, wrong, pristine


def _reads_as_number(value) -> bool:
    from assay.data.schema import is_sentinel, parse_numbers

    text = pd.Series([str(value)], dtype="str")
    return bool(parse_numbers(text).notna().iloc[0] or is_sentinel(text).iloc[0])


def _present(frame: pd.DataFrame, column: str) -> int:
    """Values of a numeric column that are there: neither missing, a placeholder, nor infinite."""
    keep = 0
    for value in frame[column]:
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            continue
        if isinstance(value, str) and value.strip().lower() in ("", "?", "na", "null"):
            continue
        keep += 1
    return keep


def quiet(call, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SchemaWarning)
        return call(*args, **kwargs)


@examples(40)
@given(batch=batches())
def test_report_names_every_coerced_value(model, batch):
    frame, wrong, _ = batch
    note(repr(frame))
    report = model.check(frame)
    found = {i.column: i for i in report.issues if i.issue in ("wrong_type", "unreadable_column")}
    for column, rows in wrong.items():
        if not rows:
            assert column not in found, found[column]
            continue
        issue = found[column]
        assert issue.count == len(rows) and issue.rows == rows[:MAX_ROWS], (issue, rows)
        expected = "unreadable_column" if len(rows) == _present(frame, column) else "wrong_type"
        assert issue.issue == expected, (issue, _present(frame, column))
    assert set(found) <= {c for c, rows in wrong.items() if rows}


@examples(40)
@given(batch=batches())
def test_predict_answers_every_row_or_refuses_by_column_and_row(model, batch):
    frame, wrong, _ = batch
    unreadable = [c for c, rows in wrong.items() if rows and len(rows) == _present(frame, c)]
    try:
        predictions = quiet(model.predict, frame)
    except AssayError as exc:
        assert isinstance(exc, SchemaError) and unreadable, exc
        assert any(repr(c) in str(exc) for c in unreadable) and "row" in str(exc)
    else:
        assert not unreadable
        assert len(predictions) == len(frame) and predictions.index.equals(frame.index)
        assert predictions.isin(model.info["task"]["classes"]).all()
    spoiled = {c: rows for c, rows in wrong.items() if rows}
    try:
        model.predict(frame, strict=True)
    except SchemaError as exc:
        message = str(exc)
        assert spoiled, message
        for column, rows in spoiled.items():
            assert repr(column) in message and f"rows {rows[0]}" in message, (column, rows, message)
    else:
        assert not spoiled


@examples(30)
@given(batch=batches())
def test_bad_rows_do_not_change_good_rows_predictions(model, batch):
    frame, wrong, pristine = batch
    if not pristine or any(rows and len(rows) == _present(frame, c) for c, rows in wrong.items()):
        return
    whole = quiet(model.predict_proba, frame).to_numpy()[pristine]
    alone = model.predict_proba(frame.iloc[pristine].astype({c: float for c in NUMERIC})).to_numpy()
    assert np.array_equal(whole, alone), (whole, alone)


@examples(25)
@given(
    drop=st.lists(st.sampled_from([*NUMERIC, CATEGORY]), unique=True, max_size=3),
    extra=st.lists(st.text(min_size=1, max_size=10), unique=True, max_size=3),
    n=st.integers(1, 5),
)
def test_missing_columns_are_named_and_extra_ones_ignored(model, drop, extra, n):
    frame = make_frame(n, seed=3).drop(columns=["y", *drop])
    for name in extra:
        if name not in frame.columns and name != "y":
            frame[name] = "surplus"
    names = frame.columns.str.strip()  # the reader trims header names, as it does a file's
    if names[names != ""].duplicated().any():  # " a" beside "a"
        with pytest.raises(AssayError, match="duplicate column"):
            model.check(frame)
        return
    added = [c for c in names if c not in [*NUMERIC, CATEGORY, "y"]]
    report = model.check(frame)
    assert sorted(i.column for i in report.issues if i.issue == "missing_column") == sorted(drop)
    assert sorted(i.column for i in report.issues if i.issue == "extra_column") == sorted(added)
    if drop:
        with pytest.raises(SchemaError) as info:
            model.predict(frame)
        assert all(repr(c) in str(info.value) for c in drop)
    else:
        assert len(quiet(model.predict, frame)) == n


SCALAR = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.sampled_from(LEVELS),
)
KEYS = st.one_of(st.sampled_from([*NUMERIC, CATEGORY, "y"]), st.text(max_size=6))


@examples(60)
@given(records=st.lists(st.dictionaries(KEYS, SCALAR, max_size=7), min_size=1, max_size=8))
def test_any_json_records_are_predicted_or_refused(model, records):
    """The REST server's path without the server: JSON-shaped records, any keys, any scalars."""
    frame = records_frame(records)
    try:
        raw, report = model.predict_with_report(frame)
    except AssayError as exc:
        assert "Fix:" in str(exc) or "column" in str(exc)
        return
    if report.ok:
        assert raw.shape[0] == len(records)
    else:
        assert raw is None and all(i.column for i in report.errors)


@pytest.fixture(scope="session")
def client(served_model):
    """The real app in process (no socket) serving the same model, token checks off."""
    with TestClient(create_app(served_model, name="tiny", auth=False), raise_server_exceptions=True) as c:
        yield c


JSON = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(), st.text(max_size=12)),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=6), inner, max_size=4)),
    max_leaves=12,
)
BODIES = st.one_of(
    st.fixed_dictionaries({"records": st.lists(st.dictionaries(KEYS, JSON, max_size=7), max_size=5)}),
    st.fixed_dictionaries({"records": st.lists(st.dictionaries(KEYS, SCALAR, min_size=5, max_size=7), max_size=5)}),
    JSON,
)


@examples(60)
@given(body=BODIES, strict=st.booleans())
@example(body={"rords": [{"a": math.inf}]}, strict=False)  # the 500 bench/fuzz.py found
@example(body={"records": [{"a": [math.inf]}]}, strict=True)
def test_any_json_body_is_answered_without_a_server_error(client, body, strict):
    """JSON has no infinity, but Python's encoder writes 1e999 for it, and so might a client: a
    body holding one got a 500 from the 422 that echoed it (bench/fuzz.py); now a 4xx."""
    text = json.dumps(body)  # NaN and Infinity too, as some clients send them
    response = client.post(
        "/v1/models/tiny/predict",
        content=text.replace("Infinity", "1e999"),
        params={"strict": str(strict).lower()},
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code < 500, response.text
    answer = response.json()
    if response.status_code == 200:
        assert answer["n_rows"] == len(body["records"]) == len(answer["predictions"])
    else:
        assert 400 <= response.status_code < 500 and answer["detail"]
