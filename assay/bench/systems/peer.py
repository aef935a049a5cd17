"""A peer (FLAML, AutoGluon) run by its own venv's python on Parquet files, never imported here.

The harness's child process writes the protocol's train rows and the test features (never the
test labels) to a private folder, runs assay/bench/workers/peer_worker.py with the peer's python,
and reads the predictions back. The worker's process is a child of this one, so the parent's hard
time-out (a kill of the whole process group) covers the peer too. Memory is the worker's own
(its process tree, sampled, and its getrusage peak), since this process's copy of the data is the
harness's, not the peer's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from assay.bench.peers import peer_status
from assay.bench.runner import TreeMemory

WORKER = Path(__file__).resolve().parents[1] / "workers" / "peer_worker.py"


class PeerUnavailable(RuntimeError):
    """The peer's environment is missing or broken: a result to report, not a crash."""


def run(
    train: pd.DataFrame,
    test: pd.DataFrame,
    target: str,
    task: str,
    budget: float,
    seed: int,
    config: dict | None = None,
) -> dict:
    config = config or {}
    peer = config["peer"]
    status = peer_status(peer)  # the folder comes from ASSAY_PEERS_DIR, set by the harness
    if not status["ok"]:
        raise PeerUnavailable(status["message"])
    with tempfile.TemporaryDirectory(prefix=f"assay-peer-{peer}-") as tmp:
        folder = Path(tmp)
        write_parquet(train, folder / "train.parquet")
        write_parquet(test.drop(columns=[target]), folder / "test.parquet")
        cmd = [
            status["python"],
            str(WORKER),
            "--system",
            peer,
            "--dir",
            str(folder),
            "--target",
            target,
            "--task",
            task,
            "--budget",
            str(budget),
            "--seed",
            str(seed),
        ]
        if config.get("preset"):
            cmd += ["--preset", config["preset"]]
        started = time.perf_counter()
        with open(folder / "worker.log", "w") as log:
            proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=folder)
            sampler = TreeMemory(proc.pid)  # the worker's own tree: this process's copy of the data is not the peer's
            try:  # wait4: the worker's own getrusage peak, not that of every child this process had
                _, wait_status, usage = os.wait4(proc.pid, 0)
                proc.returncode = os.waitstatus_to_exitcode(wait_status)
            finally:
                sampler.stop()
        wall_s = time.perf_counter() - started
        scale = 1024.0 * 1024.0 if sys.platform == "darwin" else 1024.0
        peak_mb = max(sampler.peak_mb or 0.0, usage.ru_maxrss / scale) or None
        result_path = folder / "result.json"
        if not result_path.is_file():
            tail = " | ".join((folder / "worker.log").read_text(errors="replace").strip().splitlines()[-5:])
            raise RuntimeError(f"{peer} worker exited {proc.returncode} without a result: {tail or 'no output'}")
        result = json.loads(result_path.read_text())
        if result["status"] != "ok":
            worker_tb = result.get("traceback", "")[-1500:]  # the peer's own frames: where it broke
            raise RuntimeError(f"{peer}: {result.get('message', 'failed')}" + (f"\n{worker_tb}" if worker_tb else ""))
        pred = pd.read_parquet(folder / "pred.parquet")
    output = (
        {"pred": pred["pred"].to_numpy(dtype=float)}
        if task == "regression"
        else {"proba": pred.to_numpy(dtype=float), "classes": result["classes"]}
    )
    info = {
        **result.get("info", {}),
        "worker_wall_s": round(wall_s, 3),
        "versions": status["versions"],
        "preset": config.get("preset"),
    }
    return {"fit_s": result["fit_s"], "predict_s": result["predict_s"], **output, "info": info, "peak_mb": peak_mb}


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Parquet needs one type per column: a column of mixed objects goes as text (missing stays
    missing), the only change a peer's input can see, and only where Parquet leaves no choice."""
    try:
        frame.to_parquet(path, index=False)
        return
    except Exception:  # pyarrow's type errors vary by version; retry with the culprits as text
        pass
    frame = frame.copy()
    for col in frame.columns:
        if frame[col].dtype == object:
            frame[col] = frame[col].map(lambda v: v if v is None or (isinstance(v, float) and v != v) else str(v))
    frame.columns = [str(c) for c in frame.columns]
    frame.to_parquet(path, index=False)
