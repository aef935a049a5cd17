"""A table as people receive it: placeholders, numbers written as text, dates, free text, an id
and a leaked column. assay fits it with no manual preparation and says what it did."""

import warnings

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from assay import Predictor
from assay.cli import app


def _messy_csv(path, n=400, seed=0):
    rng = np.random.default_rng(seed)
    amount = rng.gamma(2.0, 500.0, n)
    opened = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, n), unit="D")
    words = np.array(["late", "fee", "card", "loan", "urgent", "refund", "branch", "online"])
    risky = (amount > 1000) ^ (rng.random(n) < 0.1)
    frame = pd.DataFrame(
        {
            "account_id": np.arange(10_000, 10_000 + n),
            "amount": [f"${a:,.2f}" for a in amount],
            "opened": opened.strftime("%d/%m/%Y"),
            "channel": rng.choice(["Web", "web ", "Branch", "Phone"], n),
            "note": [" ".join(rng.choice(words, 4)) for _ in range(n)],
            "label": np.where(risky, "risky", "fine"),
        }
    )
    frame["label_code"] = np.where(risky, 1, 0)  # a recoding of the target: must be excluded
    frame.loc[rng.random(n) < 0.05, "amount"] = "?"
    frame.to_csv(path, index=False)
    return frame


def test_messy_table_is_cleaned_typed_guarded_and_fitted(tmp_path):
    _messy_csv(tmp_path / "messy.csv")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        predictor = Predictor("label", trials=3, families=["lightgbm", "linear"], verbose=False)
        predictor.fit(tmp_path / "messy.csv")
    assert any("label_code" in str(w.message) for w in caught)
    kinds = {p.name: p.kind for p in predictor._preprocessor.plans_}
    assert kinds == {"amount": "numeric", "opened": "datetime", "channel": "categorical", "note": "text"}
    assert "account_id" in predictor._preprocessor.dropped_
    cleaning = " ".join(predictor.info["cleaning"])
    assert "placeholder" in cleaning and "numbers written as text" in cleaning and "respelled" in cleaning
    assert predictor.leaderboard().iloc[0]["val_roc_auc"] > 0.85

    folder = predictor.save(tmp_path / "model")
    again = Predictor.load(folder)
    new = _messy_csv(tmp_path / "new.csv", n=50, seed=1).drop(columns=["label", "label_code"])
    assert (again.predict(new) == predictor.predict(new)).all()


def test_cli_reports_cleaning_and_leaks(tmp_path):
    _messy_csv(tmp_path / "messy.csv")
    result = CliRunner().invoke(
        app,
        [
            "fit",
            str(tmp_path / "messy.csv"),
            "-t",
            "label",
            "--trials",
            "2",
            "--families",
            "lightgbm",
            "--types",
            "channel=categorical",
            "--out",
            str(tmp_path / "m"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "cleaned" in result.output and "LEAK" in result.output


def test_fit_from_a_sql_query(tmp_path):
    import sqlite3

    frame = _messy_csv(tmp_path / "messy.csv").drop(columns=["label_code"])
    with sqlite3.connect(tmp_path / "bank.db") as con:
        frame.to_sql("accounts", con, index=False)
    url = f"sqlite:///{tmp_path / 'bank.db'}"
    result = CliRunner().invoke(
        app,
        [
            "fit",
            url,
            "--query",
            "select * from accounts where amount != '?'",
            "-t",
            "label",
            "--trials",
            "1",
            "--families",
            "lightgbm",
            "--out",
            str(tmp_path / "m"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "m" / "manifest.json").is_file()
