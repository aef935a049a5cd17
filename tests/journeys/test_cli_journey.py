"""A person's first session: fit from the CLI, predict new rows, evaluate, look at the board."""

import json
import time

import pandas as pd
from typer.testing import CliRunner

from assay.cli import app


def test_fit_predict_evaluate_leaderboard(penguins_split, tmp_path):
    train, test = penguins_split
    model = tmp_path / "model"
    runner = CliRunner()

    start = time.monotonic()
    fit = runner.invoke(app, ["fit", str(train), "--target", "species", "--budget", "10", "--out", str(model)])
    elapsed = time.monotonic() - start
    assert fit.exit_code == 0, fit.output
    assert elapsed <= 10 * 1.05 + 5
    assert "leaderboard" in fit.output and "ensemble" in fit.output
    assert (model / "manifest.json").is_file()

    out = tmp_path / "preds.csv"
    pred = runner.invoke(app, ["predict", str(model), str(test), "-o", str(out), "--proba"])
    assert pred.exit_code == 0, pred.output
    preds = pd.read_csv(out)
    truth = pd.read_csv(test)
    assert len(preds) == len(truth)
    assert set(preds["predicted_species"]) <= set(truth["species"])
    proba_cols = [c for c in preds.columns if c.startswith("proba_")]
    assert len(proba_cols) == 3
    assert (preds[proba_cols].sum(axis=1).sub(1).abs() < 1e-6).all()
    assert (preds["predicted_species"] == truth["species"]).mean() > 0.9

    ev = runner.invoke(app, ["evaluate", str(model), str(test), "--json"])
    assert ev.exit_code == 0, ev.output
    scores = json.loads(ev.output)
    assert list(scores)[0] == "log_loss" and scores["accuracy"] > 0.9

    board = runner.invoke(app, ["leaderboard", str(model)])
    assert board.exit_code == 0 and "ensemble" in board.output


def test_demo_writes_everything_it_promises(tmp_path):
    result = CliRunner().invoke(app, ["demo", "--out", str(tmp_path / "demo"), "--budget", "6"])
    assert result.exit_code == 0, result.output
    for name in ("train.csv", "test.csv", "predictions.csv", "model/manifest.json"):
        assert (tmp_path / "demo" / name).is_file(), name
    assert "written:" in result.output
