"""assay as a user runs it: the public Predictor, a wall-clock budget, nothing tuned for the benchmark.

The suite's task is passed on so the metric is the protocol's even where detection might differ;
what assay would have detected on its own is recorded in info, to catch detection regressions.
"""

from __future__ import annotations

import time

import pandas as pd

from assay import Predictor
from assay.task import detect_task


def run(train: pd.DataFrame, test: pd.DataFrame, target: str, task: str, budget: float, seed: int) -> dict:
    X_test = test.drop(columns=[target])
    started = time.perf_counter()
    predictor = Predictor(target=target, budget=budget, task=task, seed=seed, verbose=False).fit(train)
    fit_s = time.perf_counter() - started

    started = time.perf_counter()
    if task == "regression":
        output = {"pred": predictor.predict(X_test).to_numpy(dtype=float)}
    else:
        proba = predictor.predict_proba(X_test)
        output = {"proba": proba.to_numpy(dtype=float), "classes": list(proba.columns)}
    predict_s = time.perf_counter() - started

    info = predictor.info
    trials = info.get("trials", [])
    try:
        detected = detect_task(train[target]).kind
    except Exception as exc:  # only a diagnostic; the fit above already succeeded
        detected = f"error: {exc}"
    return {
        "fit_s": fit_s,
        "predict_s": predict_s,
        **output,
        "info": {
            "fit_seconds_reported": info.get("fit_seconds"),
            "detected_task": detected,
            "n_trials": len(trials),
            "n_failed_trials": sum(t.get("status") == "failed" for t in trials),
            "ensemble": info.get("ensemble", {}).get("weights"),
            "validation": info.get("validation"),
        },
    }
