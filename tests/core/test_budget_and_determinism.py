"""The two promises users of other AutoML tools miss most: the time limit holds, and the same
seed and trial count give the same models and predictions."""

import time

import numpy as np

from assay import Predictor
from tests.conftest import make_frame


def test_whole_fit_respects_the_budget():
    frame = make_frame(6000, "multiclass", seed=3)
    budget = 6
    start = time.monotonic()
    predictor = Predictor("y", budget, verbose=False).fit(frame)
    elapsed = time.monotonic() - start
    assert elapsed <= budget * 1.05 + 5, elapsed
    assert predictor.info["fit_seconds"] <= budget * 1.05 + 5
    assert len(predictor.leaderboard()) >= 2


def test_same_seed_and_trials_give_identical_results():
    frame = make_frame(300, "binary", seed=5)
    runs = [Predictor("y", trials=7, seed=11, verbose=False).fit(frame) for _ in range(2)]
    boards = [r.leaderboard().drop(columns=["fit_s", "predict_s"]) for r in runs]
    assert boards[0].equals(boards[1])
    p0, p1 = (r.predict_proba(frame).to_numpy() for r in runs)
    assert np.array_equal(p0, p1)


def test_regression_end_to_end_beats_the_mean():
    frame = make_frame(400, "regression", seed=7)
    train, test = frame.iloc[:300], frame.iloc[300:]
    predictor = Predictor("y", trials=4, verbose=False).fit(train)
    scores = predictor.evaluate(test)
    assert list(scores)[0] == "rmse"
    assert scores["rmse"] < test["y"].std() * 0.6


def test_a_screened_fit_tries_every_portfolio_entry_on_one_fold_first():
    import pytest

    from assay.errors import ConfigError

    frame = make_frame(600, "binary", seed=4)
    predictor = Predictor("y", 6, settings={"screen": True}, verbose=False).fit(frame)
    board = predictor.leaderboard()
    screened = board[board["origin"] == "screen"]
    assert len(screened) >= 3 and set(screened["status"]) == {"pruned"}
    assert screened["message"].str.startswith("screened on fold 1 of").all()
    assert (board["origin"] == "portfolio").any() and predictor.info["ensemble"]["weights"]
    continued = board[board["message"].str.startswith("fold 1 from", na=False)]
    assert len(continued) >= 1 and set(continued["origin"]) == {"portfolio"}  # the screened fold kept
    assert set(continued["message"].str.removeprefix("fold 1 from ")) <= set(screened["model"])
    with pytest.raises(ConfigError, match="screen must be True or False"):
        Predictor("y", 6, settings={"screen": "yes"}, verbose=False).fit(frame)
