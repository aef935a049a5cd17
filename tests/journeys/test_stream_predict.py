"""Predicting a large file chunk by chunk: same predictions as in memory, bounded memory."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest

from assay import Predictor
from tests.conftest import make_frame


@pytest.fixture(scope="module")
def predictor():
    return Predictor("y", trials=1, families=["lightgbm"], n_threads=1, verbose=False).fit(make_frame(300))


@pytest.fixture(scope="module")
def big_csv(tmp_path_factory):
    frame = make_frame(50_000, seed=3).drop(columns=["y"])
    frame["a"] = frame["a"].astype(object)
    frame.loc[12_345, "a"] = "abc"  # a wrong-type value deep in the file, in a later chunk
    path = tmp_path_factory.mktemp("big") / "rows.csv"
    frame.to_csv(path, index=False)
    return path


def test_chunks_give_the_in_memory_predictions(predictor, big_csv, tmp_path):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = predictor.predict_file(big_csv, tmp_path / "out.csv", chunk_rows=7_000, proba=True)
        expected = predictor.predict_proba(big_csv)
    assert result.n_rows == 50_000 and result.n_chunks == 8
    written = pd.read_csv(tmp_path / "out.csv")
    assert len(written) == 50_000
    np.testing.assert_allclose(written[["proba_no", "proba_yes"]].to_numpy(), expected.to_numpy(), atol=1e-12)
    assert (written["predicted_y"].to_numpy() == expected.idxmax(axis=1).to_numpy()).all()
    # the contract's findings span the chunks: the bad value is found at its row in the whole file
    (issue,) = result.report.warnings
    assert issue.column == "a" and issue.rows == [12_345] and issue.count == 1
    assert predictor.check(big_csv).warnings[0].rows == [12_345]
    assert sum("abc" in str(w.message) for w in caught) == 2  # once per path, not once per chunk


def test_parquet_in_and_out(predictor, tmp_path):
    frame = make_frame(5_000, seed=4)
    frame.to_parquet(tmp_path / "rows.parquet", index=False)
    result = predictor.predict_file(tmp_path / "rows.parquet", tmp_path / "out.parquet", chunk_rows=1_200)
    assert result.n_chunks == 5
    written = pd.read_parquet(tmp_path / "out.parquet")
    assert (written["predicted_y"].to_numpy() == predictor.predict(frame).to_numpy()).all()


def test_memory_does_not_grow_with_the_file(predictor, tmp_path):
    peaks = []
    for n in (20_000, 80_000):  # both above the 1 MB the reader samples to sniff the layout
        path = tmp_path / f"rows{n}.csv"
        make_frame(n, seed=5).to_csv(path, index=False)
        tracemalloc.start()
        predictor.predict_file(path, tmp_path / f"out{n}.csv", chunk_rows=5_000)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 1.2 * peaks[0], peaks


def test_cli_streams_with_chunk_rows_and_fails_without_partial_output(predictor, tmp_path):
    from typer.testing import CliRunner

    from assay.cli import app

    folder = predictor.save(tmp_path / "model")
    make_frame(3_000, seed=6).to_csv(tmp_path / "rows.csv", index=False)
    out = tmp_path / "pred.parquet"
    result = CliRunner().invoke(
        app, ["predict", str(folder), str(tmp_path / "rows.csv"), "-o", str(out), "--chunk-rows", "1000"]
    )
    assert result.exit_code == 0, result.output
    assert "3 chunk(s)" in result.output and len(pd.read_parquet(out)) == 3_000
    make_frame(3_000, seed=6).drop(columns=["colour"]).to_csv(tmp_path / "bad.csv", index=False)
    failed = CliRunner().invoke(
        app, ["predict", str(folder), str(tmp_path / "bad.csv"), "-o", str(tmp_path / "no.csv"), "--chunk-rows", "1000"]
    )
    assert failed.exit_code == 2 and "colour" in failed.output
    assert not list(tmp_path.glob("*no.csv*"))
