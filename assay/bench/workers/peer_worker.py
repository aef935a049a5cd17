"""Fit one peer on train.parquet, predict test.parquet, write pred.parquet and result.json.

Run by the peer venv's python, never imported by assay: it may use only the standard library,
pandas and the peer itself. Each peer is called the way its documentation shows a user, with the
protocol's metric and the wall-clock budget, and nothing tuned for the benchmark.

    python peer_worker.py --system flaml --dir D --target y --task binary --budget 60 --seed 0
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import time
import traceback
from pathlib import Path

FLAML_METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "rmse"}
AUTOGLUON_METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "root_mean_squared_error"}


def run_flaml(train, X_test, target, task, budget, seed, preset, workdir):
    started = time.perf_counter()
    from flaml import AutoML

    import_s = time.perf_counter() - started
    automl = AutoML()
    started = time.perf_counter()
    automl.fit(
        X_train=train.drop(columns=[target]),
        y_train=train[target],
        task="regression" if task == "regression" else "classification",
        metric=FLAML_METRIC[task],
        time_budget=budget,
        seed=seed,
        verbose=0,
        log_file_name=str(workdir / "flaml.log"),
    )
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    if task == "regression":
        output, classes = automl.predict(X_test), None
    else:
        output, classes = automl.predict_proba(X_test), list(automl.classes_)
    predict_s = time.perf_counter() - started
    info = {
        "import_s": import_s,
        "best_estimator": automl.best_estimator,
        "best_config": automl.best_config,
        "n_iterations": len(getattr(automl, "config_history", {}) or {}),
        "best_loss": automl.best_loss,
    }
    return output, classes, fit_s, predict_s, info


def run_autogluon(train, X_test, target, task, budget, seed, preset, workdir):
    started = time.perf_counter()
    from autogluon.tabular import TabularPredictor

    import_s = time.perf_counter() - started
    predictor = TabularPredictor(
        label=target, problem_type=task, eval_metric=AUTOGLUON_METRIC[task], path=str(workdir / "ag"), verbosity=0
    )
    fit_kwargs = {"time_limit": budget, "presets": preset or "medium_quality"}
    if "random_seed" in inspect.signature(predictor.fit).parameters:  # newer releases take a seed
        fit_kwargs["random_seed"] = seed
    started = time.perf_counter()
    predictor.fit(train, **fit_kwargs)
    fit_s = time.perf_counter() - started
    started = time.perf_counter()
    if task == "regression":
        output, classes = predictor.predict(X_test), None
    else:
        proba = predictor.predict_proba(X_test, as_multiclass=True)
        output, classes = proba, list(proba.columns)
    predict_s = time.perf_counter() - started
    board = predictor.leaderboard(silent=True)
    info = {
        "import_s": import_s,
        "preset": fit_kwargs["presets"],
        "best_model": predictor.model_best,
        "n_models": int(len(board)),
        "models": [str(m) for m in board["model"].head(10)],
        "seed_passed": "random_seed" in fit_kwargs,
    }
    return output, classes, fit_s, predict_s, info


SYSTEMS = {"flaml": run_flaml, "autogluon": run_autogluon}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--system", required=True, choices=sorted(SYSTEMS))
    parser.add_argument("--dir", required=True, type=Path)
    parser.add_argument("--target", required=True)
    parser.add_argument("--task", required=True, choices=["binary", "multiclass", "regression"])
    parser.add_argument("--budget", required=True, type=float)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--preset", default=None)
    args = parser.parse_args(argv)

    import numpy as np
    import pandas as pd

    workdir = args.dir
    result = {"status": "error"}
    try:
        train = pd.read_parquet(workdir / "train.parquet")
        X_test = pd.read_parquet(workdir / "test.parquet")
        run = SYSTEMS[args.system]
        output, classes, fit_s, predict_s, info = run(
            train, X_test, args.target, args.task, args.budget, args.seed, args.preset, workdir
        )
        values = np.asarray(output, dtype=float)
        if values.ndim == 1:
            frame = pd.DataFrame({"pred": values})
        else:
            frame = pd.DataFrame(values, columns=[f"p{i}" for i in range(values.shape[1])])
        frame.to_parquet(workdir / "pred.parquet", index=False)
        result = {
            "status": "ok",
            "fit_s": fit_s,
            "predict_s": predict_s,
            "classes": None if classes is None else [_plain(c) for c in classes],
            "info": json.loads(json.dumps(info, default=_plain)),
        }
    except Exception as exc:
        result = {"status": "error", "message": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
    tmp = workdir / "result.json.tmp"
    tmp.write_text(json.dumps(result))
    tmp.replace(workdir / "result.json")
    return 0 if result["status"] == "ok" else 1


def _plain(value):
    """Class labels as JSON keeps them: numbers stay numbers, so labels match the harness's."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


if __name__ == "__main__":
    sys.exit(main())
