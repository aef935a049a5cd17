"""A fit and a bench across a real two-node Ray cluster (head + worker node on loopback), and a
worker node killed in the middle of a fit. The node kill is last: the cluster stays one node short."""

from __future__ import annotations

import threading
import time

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from assay import Predictor
from assay.bench.store import ResultStore
from assay.cli import app
from assay.search.events import Callback
from tests.conftest import make_frame

TIMING = ["fit_s", "predict_s"]


def _board(predictor: Predictor) -> pd.DataFrame:
    return predictor.leaderboard().drop(columns=TIMING, errors="ignore").reset_index(drop=True)


@pytest.fixture(scope="module")
def frame():
    return make_frame(400)


@pytest.fixture(scope="module")
def local_fit(frame):
    return Predictor("y", trials=4, families=["lightgbm"], verbose=False, executor="local", workers=2).fit(frame)


def test_fit_across_the_cluster_equals_local_processes(ray_cluster, frame, local_fit, tmp_path):
    data = tmp_path / "train.csv"
    frame.to_csv(data, index=False)
    out = tmp_path / "model"
    result = CliRunner().invoke(
        app,
        ["fit", str(data), "-t", "y", "--trials", "4", "--families", "lightgbm", "--out", str(out)]
        + ["--executor", "ray", "--cluster", ray_cluster.address, "--workers", "2"],
    )
    assert result.exit_code == 0, result.output
    on_ray = Predictor.load(out)
    pd.testing.assert_frame_equal(_board(on_ray), _board(local_fit))
    rows = frame.drop(columns=["y"]).head(100)
    np.testing.assert_array_equal(on_ray.predict_proba(rows).to_numpy(), local_fit.predict_proba(rows).to_numpy())


def test_inline_gives_the_same_search_for_the_same_workers(frame, local_fit):
    inline = Predictor(  # one thread, as each local worker has on 2 cores: thread counts may change LightGBM's sums
        "y", trials=4, families=["lightgbm"], verbose=False, executor="inline", workers=2, n_threads=1
    ).fit(frame)
    pd.testing.assert_frame_equal(_board(inline), _board(local_fit))
    rows = frame.drop(columns=["y"]).head(100)
    np.testing.assert_array_equal(inline.predict_proba(rows).to_numpy(), local_fit.predict_proba(rows).to_numpy())


def test_bench_cells_run_as_ray_tasks(ray_cluster, tmp_path):
    make_frame(150, "binary", seed=1).to_csv(tmp_path / "bin.csv", index=False)
    make_frame(150, "regression", seed=2).to_csv(tmp_path / "reg.csv", index=False)
    suite = tmp_path / "tiny.yaml"
    suite.write_text(
        "name: tiny\ndatasets:\n"
        "  - {name: bin, path: bin.csv, target: y, task: binary}\n"
        "  - {name: reg, path: reg.csv, target: y, task: regression}\n"
    )
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app,
        ["bench", "--suite", str(suite), "--systems", "lightgbm-default", "--budget", "5", "--out", str(out)]
        + ["--executor", "ray", "--cluster", ray_cluster.address],
    )
    assert result.exit_code == 0, result.output
    records = ResultStore(out / "results.sqlite").latest()
    assert sorted(r["dataset"] for r in records) == ["bin", "reg"]
    assert all(r["status"] == "ok" and r["data_sha256"] for r in records), [r.get("message") for r in records]
    assert (out / "summary.md").is_file()


def test_large_parquet_is_read_through_ray_data(ray_cluster, tmp_path, monkeypatch):
    import assay.fit

    frame = make_frame(500)
    path = tmp_path / "big.parquet"
    frame.to_parquet(path, index=False)
    assert assay.fit.parquet_through_ray(str(path), ray_cluster.address) == str(path)  # small: the plain reader
    monkeypatch.setattr(assay.fit, "_RAY_PARQUET_BYTES", 0)  # as if it were over the size limit
    read = assay.fit.parquet_through_ray(str(path), ray_cluster.address)
    pd.testing.assert_frame_equal(read.reset_index(drop=True), frame)


class _KillWorkerNode(Callback):
    """Kills the second node while it is running a trial: from the first trial's start, it
    watches the node's worker processes and strikes once one is titled with the trial task."""

    def __init__(self, cluster, wait: float = 12.0):
        self.cluster, self.wait, self.killed = cluster, wait, 0
        self.thread: threading.Thread | None = None

    def on_trial_start(self, spec) -> None:
        if self.thread is None:
            self.thread = threading.Thread(target=self._kill, daemon=True)
            self.thread.start()

    def _kill(self) -> None:
        stop = time.monotonic() + self.wait
        while time.monotonic() < stop and not self.cluster.running_on_worker("_trial_task"):
            time.sleep(0.05)
        self.killed = self.cluster.kill_worker_node()


def test_a_worker_node_killed_mid_fit_costs_a_retry_not_the_fit(ray_cluster, frame):
    killer = _KillWorkerNode(ray_cluster)
    budget = 15.0
    started = time.monotonic()
    predictor = Predictor(
        "y", budget, families=["lightgbm"], verbose=False, executor="ray", cluster=ray_cluster.address, workers=2
    ).fit(make_frame(3000), callbacks=[killer])
    elapsed = time.monotonic() - started
    killer.thread.join(30)
    assert killer.killed > 0, "the worker node's processes were not found"
    notes = " ".join(predictor.info["notes"])
    assert elapsed <= budget * 1.05 + 5, f"the fit took {elapsed:.1f} s for a {budget:.0f} s budget; {notes}"
    assert "ray executor:" in notes and ("retried" in notes or "failed" in notes), notes
    board = predictor.leaderboard()
    touched = board[board["message"].fillna("").str.contains("retried after|worker lost")]
    assert len(touched) >= 1, board[["model", "status", "message"]].to_string()
    assert (board["status"] == "ok").sum() >= 2  # the search went on, on the head node
