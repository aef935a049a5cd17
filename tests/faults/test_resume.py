"""An interrupted fit continues from its finished trials (`assay fit --resume`), and a resumed
fit ends with the same models as one that was never interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from assay import Predictor
from assay.cli import app
from assay.errors import ConfigError
from assay.search.journal import journal_path, read_header, resumed_seconds
from tests.conftest import make_frame

FAMILIES = ["lightgbm", "linear"]
TRIALS = 25  # enough that a kill lands mid-search


def _board(predictor: Predictor) -> pd.DataFrame:
    board = predictor.leaderboard()
    return board[["model", "status", [c for c in board.columns if c.startswith("val_")][0]]]


def _trial_folders(journal: Path) -> list[Path]:
    trials = journal / "trials"
    return [p for p in trials.iterdir() if not p.name.startswith(".")] if trials.is_dir() else []


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return make_frame(300, seed=3)


@pytest.fixture(scope="module")
def uninterrupted(frame) -> Predictor:
    return Predictor("y", trials=TRIALS, families=FAMILIES, verbose=False).fit(frame)


def test_resumed_fit_equals_uninterrupted(frame, uninterrupted, tmp_path):
    """A fit stopped after 4 trials, resumed: the 4 come from the journal, the rest are fitted,
    and the leaderboard and predictions match a fit that ran straight through."""
    journal = tmp_path / "model.journal"
    Predictor("y", trials=4, families=FAMILIES, verbose=False, checkpoint=journal).fit(frame)
    assert len(_trial_folders(journal)) == 4
    resumed = Predictor("y", trials=TRIALS, families=FAMILIES, verbose=False, checkpoint=journal).fit(
        frame, resume=True
    )
    assert any("4 finished trial(s) taken from the journal" in n for n in resumed.info["notes"])
    pd.testing.assert_frame_equal(_board(resumed), _board(uninterrupted))
    pd.testing.assert_frame_equal(
        pd.DataFrame(resumed.predict_proba(frame)), pd.DataFrame(uninterrupted.predict_proba(frame))
    )
    resumed.save(tmp_path / "model")
    assert not journal.exists(), "the journal is removed once the model is saved"


def test_resume_refuses_another_fits_journal(frame, tmp_path):
    journal = tmp_path / "j"
    Predictor("y", trials=2, families=["linear"], verbose=False, checkpoint=journal).fit(frame)
    with pytest.raises(ConfigError, match="different fit.*seed"):
        Predictor("y", trials=3, seed=1, families=["linear"], verbose=False, checkpoint=journal).fit(frame, resume=True)
    with pytest.raises(ConfigError, match="no interrupted fit to resume"):
        Predictor("y", trials=3, families=["linear"], verbose=False, checkpoint=tmp_path / "none").fit(
            frame, resume=True
        )


def test_journal_keeps_models_of_candidates_only(frame, tmp_path):
    """Weak trials' models leave the journal as they leave memory: disk use stays bounded."""
    journal = tmp_path / "j"
    Predictor("y", trials=30, families=["linear", "lightgbm"], verbose=False, checkpoint=journal).fit(frame)
    folders = _trial_folders(journal)
    with_models = [p for p in folders if (p / "oof.npy").exists()]
    assert len(folders) == 30 and all((p / "result.json").is_file() for p in folders)
    assert len(with_models) < len(folders)


def test_resumed_time_budget_spends_what_was_left():
    assert resumed_seconds(60, 45) == 15
    assert resumed_seconds(60, 59) == pytest.approx(12)  # never less than a fifth of the budget


def test_kill_9_during_cli_fit_then_resume(frame, uninterrupted, tmp_path):
    """The user's journey: `assay fit` killed with SIGKILL mid-search leaves no model folder and
    a journal of whole trials; `assay fit --resume` finishes it with the same leaderboard."""
    data = tmp_path / "train.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "model"
    args = [
        "fit",
        str(data),
        "--target",
        "y",
        "--trials",
        str(TRIALS),
        "--families",
        ",".join(FAMILIES),
        "--out",
        str(out),
    ]
    journal = journal_path(out)
    proc = subprocess.Popen(
        [sys.executable, "-c", "from assay.cli import main; main()", *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while len(_trial_folders(journal)) < 3:
            assert proc.poll() is None, "the fit ended before it could be killed"
            assert time.monotonic() < deadline, "no trial was journaled within 2 minutes"
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    done = len(_trial_folders(journal))
    assert not out.exists(), "a killed fit must not leave a model folder"
    assert read_header(journal)["seconds_used"] > 0

    result = CliRunner().invoke(app, [*args, "--resume"])
    assert result.exit_code == 0, result.output
    assert f"{done} finished trial(s) taken from the journal" in " ".join(result.output.split())
    resumed = Predictor.load(out)
    pd.testing.assert_frame_equal(_board(resumed), _board(uninterrupted))
    assert not journal.exists()


def test_cli_resume_without_journal_is_a_user_error(tmp_path, frame):
    data = tmp_path / "train.csv"
    frame.to_csv(data, index=False)
    result = CliRunner().invoke(
        app, ["fit", str(data), "--target", "y", "--trials", "2", "--out", str(tmp_path / "m"), "--resume"]
    )
    assert result.exit_code == 2
    assert "no interrupted fit to resume" in " ".join(result.output.split())
