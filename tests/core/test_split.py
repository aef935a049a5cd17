"""Validation splits: grouped and time-ordered folds, time column detection, and their wiring."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from assay import Predictor
from assay.data.clean import clean_frame
from assay.data.schema import infer_schema
from assay.errors import ConfigError
from assay.search.budget import Budget
from assay.split import SplitBy, ValidationPlan, choose_validation, detect_time_column, make_folds, split_by, time_key
from assay.task import Task
from tests.conftest import make_frame

BINARY = Task("binary", ("no", "yes"))
REGRESSION = Task("regression")
TRIALS = Budget(None, 3)


def _groups(n: int, n_groups: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n_groups, n)


@pytest.mark.parametrize("task", [BINARY, REGRESSION])
@pytest.mark.parametrize("n_rows", [300, 3000])
def test_grouped_folds_keep_every_group_in_one_part(task, n_rows):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, n_rows) if task.is_classification else rng.normal(size=n_rows)
    by = SplitBy("grouped", "customer", _groups(n_rows, 40))
    plan = choose_validation(n_rows, 5, task, TRIALS, by)
    assert plan.split == "grouped" and plan.column == "customer"
    assert "grouped" in plan.reason and "'customer'" in plan.reason
    folds = make_folds(y, task, plan, seed=0, by=by)
    assert len(folds) == plan.n_folds * plan.n_repeats
    for tr, va in folds:
        assert len(tr) and len(va) and not np.intersect1d(tr, va).size
        assert not np.intersect1d(by.values[tr], by.values[va]).size
    # every row is validated once per repeat
    counts = np.bincount(np.concatenate([va for _, va in folds]), minlength=n_rows)
    assert (counts == plan.n_repeats).all()


def test_grouped_holdout_and_few_groups():
    by = SplitBy("grouped", "site", _groups(1000, 3))
    holdout = ValidationPlan("holdout", 1, 0.2, "", split="grouped", column="site")
    ((tr, va),) = make_folds(np.zeros(1000), REGRESSION, holdout, 0, by)
    assert not np.intersect1d(by.values[tr], by.values[va]).size
    plan = choose_validation(1000, 5, REGRESSION, TRIALS, by)
    assert plan.n_folds == 3  # no more folds than groups
    with pytest.raises(ConfigError, match="'site' holds 1 group"):
        choose_validation(100, 5, REGRESSION, TRIALS, SplitBy("grouped", "site", np.zeros(100, dtype=int)))


@pytest.mark.parametrize("n_rows", [120, 700])
def test_time_folds_validate_only_on_later_rows(n_rows):
    rng = np.random.default_rng(0)
    times = rng.integers(0, n_rows // 3, n_rows).astype(float)  # shuffled, with ties
    times[rng.random(n_rows) < 0.05] = np.nan  # unknown times are only trained on
    by = SplitBy("time", "date", times)
    y = rng.integers(0, 2, n_rows)
    plan = choose_validation(n_rows, 5, BINARY, TRIALS, by, y)
    assert plan.split == "time" and plan.n_repeats == 1 and "time-ordered" in plan.reason
    folds = make_folds(y, BINARY, plan, 0, by)
    assert len(folds) == plan.n_folds >= 2
    validated = np.concatenate([va for _, va in folds])
    assert len(np.unique(validated)) == len(validated)  # each row validated at most once
    assert np.isfinite(times[validated]).all()
    for tr, va in folds:
        assert np.nanmax(times[tr]) < times[va].min()  # strictly: equal times never straddle
    holdout = ValidationPlan("holdout", 1, 0.2, "", split="time", column="date")
    ((tr, va),) = make_folds(y, BINARY, holdout, 0, by)
    assert np.nanmax(times[tr]) < times[va].min() and 0.1 < len(va) / n_rows < 0.35


def test_time_folds_start_once_two_classes_were_seen():
    n = 200
    y = (np.arange(n) >= 90).astype(int)  # the early rows hold one class only
    by = SplitBy("time", "date", np.arange(n, dtype=float))
    plan = choose_validation(n, 5, BINARY, TRIALS, by, y)
    folds = make_folds(y, BINARY, plan, 0, by)
    assert len(folds) == plan.n_folds >= 2
    assert all(len(np.unique(y[tr])) == 2 for tr, _ in folds)
    with pytest.raises(ConfigError, match="two classes"):
        choose_validation(n, 5, BINARY, TRIALS, by, (np.arange(n) >= n - 2).astype(int))


def test_too_few_time_ordered_rows():
    with pytest.raises(ConfigError, match="too few time-ordered rows.*no-time-split"):
        choose_validation(8, 3, REGRESSION, TRIALS, SplitBy("time", "date", np.arange(8.0)))
    with pytest.raises(ConfigError, match="too few time-ordered rows"):  # two times, one of them nearly everywhere
        choose_validation(40, 3, REGRESSION, TRIALS, SplitBy("time", "date", np.r_[np.zeros(38), np.ones(2)]))


def _dated(n: int = 200, sort: bool = True, seed: int = 0) -> pd.DataFrame:
    frame = make_frame(n, "binary", seed)
    dates = pd.Timestamp("2021-01-01") + pd.to_timedelta(np.sort(np.random.default_rng(seed).integers(0, 900, n)), "D")
    frame.insert(0, "date", dates.strftime("%Y-%m-%d"))
    if not sort:
        frame = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return frame


def _detect(frame: pd.DataFrame):
    schema = infer_schema(frame, target="y")
    cleaned, _ = clean_frame(frame, schema, target="y")
    return detect_time_column(cleaned.drop(columns=["y"]), schema)


def test_detection_is_conservative():
    found = _detect(_dated(sort=True))
    assert found is not None and found[0] == "date" and "non-decreasing" in found[1]
    assert _detect(_dated(sort=False)) is None
    constant = _dated()
    constant["date"] = "2021-05-01"
    assert _detect(constant) is None
    assert _detect(make_frame(200)) is None  # no datetime column at all
    assert _detect(_dated(30)) is None  # too few rows to trust the order


def test_time_key_reads_dates_numbers_and_text():
    assert list(time_key(pd.Series([3, 1, None]), "t")[:2]) == [3.0, 1.0]
    text = time_key(pd.Series(["2020-01-02", "2020-01-01", None]), "t")
    assert text[0] > text[1] and np.isnan(text[2])
    with pytest.raises(ConfigError, match="cannot order rows"):
        time_key(pd.Series(["red", "green", "blue"]), "colour")


def _predictor(**kwargs) -> Predictor:
    return Predictor("y", trials=3, families=["lightgbm"], verbose=False, n_threads=1, **kwargs)


def test_fit_with_a_group_column():
    frame = make_frame(600, "binary")  # 500+ rows: one 5-fold split, no repeats, keeps the test fast
    frame["customer"] = [f"c{i}" for i in _groups(600, 25)]
    predictor = _predictor(group_column="customer").fit(frame)
    plan = predictor.info["validation"]
    assert plan["split"] == "grouped" and plan["column"] == "customer"
    assert any("group column 'customer'" in n for n in predictor.info["notes"])
    assert any(n.startswith("validation: ") and "grouped" in n for n in predictor.info["notes"])
    assert len(predictor.predict(frame.head(20))) == 20


def test_fit_with_a_time_column_flags_look_ahead():
    frame = _dated(240)
    frame["closed"] = (pd.to_datetime(frame["date"]) + pd.to_timedelta(np.arange(240) % 9 + 1, "D")).astype(str)
    predictor = _predictor(time_column="date", task="binary").fit(frame)
    plan = predictor.info["validation"]
    assert plan["split"] == "time" and plan["column"] == "date" and plan["n_repeats"] == 1
    assert any(leak["kind"] == "look_ahead" and leak["column"] == "closed" for leak in predictor.info["leaks"])
    assert np.isfinite(predictor.info["ensemble"]["validation_score"])
    assert predictor.predict(frame.tail(10)).isin(["yes", "no"]).all()


def test_fit_detects_a_time_column_and_can_be_told_not_to():
    frame = _dated(240)
    detected = _predictor().fit(frame)
    assert detected.info["validation"]["split"] == "time"
    assert any("time column 'date' detected" in n for n in detected.info["notes"])
    schema = infer_schema(frame, target="y")
    X = clean_frame(frame, schema, target="y")[0].drop(columns=["y"])
    assert split_by(X, schema, None, False) == (None, [])


def test_split_column_errors_name_the_problem():
    frame = make_frame(100)
    frame["customer"] = "same"
    with pytest.raises(ConfigError, match="group column 'custmer' not found.*'customer'"):
        _predictor(group_column="custmer").fit(frame)
    with pytest.raises(ConfigError, match="time column 'when' not found"):
        _predictor(time_column="when").fit(frame)
    with pytest.raises(ConfigError, match="'customer' holds 1 group"):
        _predictor(group_column="customer").fit(frame)
    with pytest.raises(ConfigError, match="is the target"):
        _predictor(group_column="y").fit(frame)
    with pytest.raises(ConfigError, match="both a group column"):
        _predictor(group_column="customer", time_column="a").fit(frame)
    with pytest.raises(ConfigError, match="no time column found"):
        _predictor(time_column=True).fit(frame)
