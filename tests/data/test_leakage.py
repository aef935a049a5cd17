"""Leakage guards: constructed leaks on generated frames, honest columns left alone, a real file."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from assay.data.leakage import Leak, excluded_columns, find_leaks, row_hashes, shared_rows
from assay.data.schema import infer_schema
from assay.errors import ConfigError, DataError

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets"
N = 2_000


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def by_column(leaks: list[Leak]) -> dict:
    return {leak.column: (leak.kind, leak.severity) for leak in leaks}


def classes(n: int = N, seed: int = 0) -> pd.Series:
    return pd.Series(rng(seed).choice(["cat", "dog", "fox"], n, p=[0.5, 0.3, 0.2]))


def noise(n: int = N, seed: int = 1) -> pd.DataFrame:
    g = rng(seed)
    return pd.DataFrame({"a": g.normal(size=n), "b": g.choice(list("pqrs"), n), "c": g.integers(0, 50, n)})


def test_exact_copy_of_a_categorical_target_is_excluded():
    y = classes()
    leaks = find_leaks(noise().assign(label=y.copy()), y, "multiclass")
    assert by_column(leaks) == {"label": ("target_copy", "exclude")}
    assert "equal to the target in every row" in leaks[0].evidence
    assert excluded_columns(leaks) == ["label"]


def test_recoded_target_yes_no_as_one_zero_is_excluded():
    y = pd.Series(rng(2).choice(["yes", "no"], N))
    X = noise().assign(flag=(y == "yes").astype(int), upper=y.str.upper())
    leaks = find_leaks(X, y, "binary")
    assert by_column(leaks) == {"flag": ("target_copy", "exclude"), "upper": ("target_copy", "exclude")}
    assert "1 -> 'yes'" in leaks[0].evidence or "0 -> 'no'" in leaks[0].evidence


def test_copy_with_missing_values_still_counts_when_it_covers_half_the_rows():
    y = classes()
    gaps = rng(3).random(N)
    X = noise().assign(most=y.where(gaps < 0.7), few=y.where(gaps < 0.2))
    leaks = by_column(find_leaks(X, y, "multiclass"))
    assert leaks == {"most": ("target_copy", "exclude")}


def test_linear_recoding_of_a_regression_target_is_excluded():
    y = pd.Series(rng(4).normal(size=N))
    X = noise().assign(doubled=y * 2 + 3, flipped=-np.exp(y))
    leaks = find_leaks(X, y, "regression")
    assert by_column(leaks) == {"doubled": ("target_copy", "exclude"), "flipped": ("target_copy", "exclude")}
    assert "rises strictly" in leaks[0].evidence and "falls strictly" in leaks[1].evidence


def test_distinct_values_do_not_pair_off_with_a_continuous_target():
    y = pd.Series(rng(5).normal(size=N))
    X = pd.DataFrame({"measure": rng(6).normal(size=N), "code": [f"k{i}" for i in rng(7).permutation(N)]})
    leaks = find_leaks(X, y, "regression", infer_schema(X))
    assert not [leak for leak in leaks if leak.severity == "exclude"]


def test_perfect_predictors_are_excluded_strong_honest_columns_are_not():
    y = classes()
    code = pd.factorize(y, sort=True)[0]
    g = rng(8)
    honest = np.where(g.random(N) < 0.85, y, g.choice(["cat", "dog", "fox"], N))  # 85 % right
    X = noise().assign(
        honest=honest,
        score=np.where(g.random(N) < 0.97, code + g.random(N), g.random(N) * 3),  # 97 % by thresholds
        refund=code * 10.0 + g.normal(size=N),  # separates the classes by thresholds
        reason=np.where(y == "cat", "none", np.where(y == "dog", g.choice(["late", "rude"], N), "lost")),
    )
    leaks = find_leaks(X, y, "multiclass")
    assert by_column(leaks) == {"refund": ("perfect_predictor", "exclude"), "reason": ("perfect_predictor", "exclude")}
    assert "accuracy 1.000" in leaks[0].evidence and "majority class" in leaks[0].evidence


def test_a_useless_column_does_not_pass_on_a_lopsided_target():
    g = rng(9)
    y = pd.Series(np.where(g.random(N) < 0.995, "ok", "fraud"))
    X = pd.DataFrame({"amount": g.normal(size=N), "shop": g.choice(list("abc"), N)})
    assert find_leaks(X, y, "binary") == []


def test_regression_perfect_predictor_needs_r2_of_099():
    g = rng(10)
    y = pd.Series(g.normal(size=N))
    X = pd.DataFrame({"close": y + g.normal(size=N) * 0.05, "related": y + g.normal(size=N) * 0.5})
    leaks = find_leaks(X, y, "regression")
    assert by_column(leaks) == {"close": ("perfect_predictor", "exclude")}
    assert "R² 0.99" in leaks[0].evidence


def test_many_levels_of_many_classes():
    g = rng(11)
    n, levels = 20_000, g.integers(0, 3_000, 20_000)
    y = pd.Series(levels % 300)  # 300 classes, each level always the same class
    X = pd.DataFrame({"code": [f"c{v}" for v in levels], "other": g.choice(list("xyz"), n)})
    assert by_column(find_leaks(X, y, "multiclass")) == {"code": ("perfect_predictor", "exclude")}


def test_identifier_columns_are_warned_about():
    y = classes()
    X = noise().assign(row_id=rng(12).permutation(N) + 1000, name=[f"user{i}" for i in range(N)])
    leaks = find_leaks(X, y, "multiclass")
    assert by_column(leaks) == {"row_id": ("identifier", "warn"), "name": ("identifier", "warn")}
    assert "drops identifier columns" in leaks[0].describe()
    schema = infer_schema(X.assign(target=y), target="target")
    assert by_column(find_leaks(X, y, "multiclass", schema)) == {
        "row_id": ("identifier", "warn"),
        "name": ("identifier", "warn"),
    }


def test_timestamps_after_the_row_time_are_look_ahead():
    g = rng(13)
    created = pd.Series(pd.date_range("2021-01-01", periods=N, freq="h"))
    X = pd.DataFrame(
        {
            "created_at": created,
            "closed_at": (created + pd.to_timedelta(g.integers(1, 500, N), unit="h")).astype(str),
            "signed_up": created - pd.to_timedelta(g.integers(1, 900, N), unit="D"),
            "amount": g.normal(size=N),
        }
    )
    y = pd.Series(g.integers(0, 2, N))
    leaks = find_leaks(X, y, "binary", infer_schema(X), time_column="created_at")
    assert by_column(leaks) == {"closed_at": ("look_ahead", "warn")}
    assert "'created_at' in 100%" in leaks[0].evidence
    assert find_leaks(X, y, "binary", infer_schema(X)) == []  # no time column, no look-ahead check
    text_time = X.assign(created_at=X["created_at"].astype(str))
    assert by_column(find_leaks(text_time, y, "binary", time_column="created_at")) == {}  # closed_at is text
    period = X.assign(created_at=np.arange(N) % 7)  # a number is not a time
    assert "look_ahead" not in {leak.kind for leak in find_leaks(period, y, "binary", time_column="created_at")}


def test_shared_rows_are_counted():
    frame = noise(500).assign(when=pd.date_range("2020-01-01", periods=500, freq="D"))
    train = frame.iloc[:300]
    other = pd.concat([frame.iloc[250:400], frame.iloc[[7, 7]]]).reset_index(drop=True)
    leak = shared_rows(train, other)
    assert leak is not None and (leak.kind, leak.severity, leak.column) == ("shared_rows", "warn", None)
    assert leak.evidence.startswith("52 of 152 rows") and "rows 0, 1, 2, 3, 4)" in leak.evidence
    assert shared_rows(train, frame.iloc[300:]) is None


def test_row_hashes_ignore_dtypes_and_column_order():
    a = pd.DataFrame({"n": [1, 2, 3], "s": ["x", "y", None], "b": [True, False, True]})
    b = pd.DataFrame({"s": pd.Series(["x", "y", np.nan], dtype=object), "b": [1.0, 0.0, 1.0], "n": [1.0, 2.0, 3.0]})
    assert np.array_equal(row_hashes(a), row_hashes(b))
    hashes = row_hashes(a, ["n", "s"])
    assert hashes.dtype == np.uint64 and np.all(np.diff(hashes.astype(np.float64)) > 0)
    leak = shared_rows(hashes, b.iloc[[2, 0]].assign(n=[3.0, 9.0]), ["n", "s"])
    assert leak is not None and leak.evidence.startswith("1 of 2 rows") and "rows 0)" in leak.evidence
    with pytest.raises(ConfigError, match="columns="):
        shared_rows(hashes, b)


def test_describe_is_one_line_and_says_what_happens():
    y = classes()
    leaks = find_leaks(noise().assign(label=y, row=np.arange(N)), y, "multiclass")
    lines = [leak.describe() for leak in leaks]
    assert all("\n" not in line for line in lines)
    assert "--allow-leaky" in lines[0] and "Excluded" in lines[0]
    assert lines[1].startswith("Possible leak") and "--allow-leaky" not in lines[1]


def test_bad_arguments_are_user_errors():
    y = classes()
    with pytest.raises(ConfigError, match="unknown task"):
        find_leaks(noise(), y, "ranking")
    with pytest.raises(DataError, match="rows"):
        find_leaks(noise(), y.iloc[:10], "multiclass")
    with pytest.raises(ConfigError, match="time column"):
        find_leaks(noise(), y, "multiclass", time_column="nope")
    with pytest.raises(ConfigError, match="share no columns"):
        shared_rows(noise(), pd.DataFrame({"z": [1]}))


def test_fast_on_20k_rows_by_50_columns():
    g = rng(14)
    n = 20_000
    y = pd.Series(g.choice(["a", "b", "c"], n))
    X = pd.DataFrame({f"x{j}": g.normal(size=n) for j in range(35)})
    X = X.assign(**{f"k{j}": g.choice(list("abcdefgh"), n) for j in range(15)})
    start = time.perf_counter()
    assert find_leaks(X, y, "multiclass") == []
    assert time.perf_counter() - start < 5  # about 0.3 s; generous for busy machines


def test_no_exclusions_on_penguins():
    path = SHARED / "messy" / "penguins.csv"
    if not path.exists():
        pytest.skip(f"{path} is not available")
    frame = pd.read_csv(path)
    X, y = frame.drop(columns="species"), frame["species"]
    for schema in (None, infer_schema(frame, target="species")):
        assert not [leak for leak in find_leaks(X, y, "multiclass", schema) if leak.severity == "exclude"]
    mass = frame.drop(columns="body_mass_g")
    assert not [leak for leak in find_leaks(mass, frame["body_mass_g"], "regression") if leak.severity == "exclude"]
