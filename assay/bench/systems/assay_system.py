"""assay as a user runs it: the public Predictor, a wall-clock budget, nothing tuned for the benchmark.

The suite's task is passed on so the metric is the protocol's even where detection might differ;
what assay would have detected on its own is recorded in info, to catch detection regressions.

An ablation swaps one component through `config` (factor -> level, see COMPONENTS), which maps
onto Predictor's own arguments and its advanced `settings`: the benchmark runs the same public
path as a user, only with one choice changed.
"""

from __future__ import annotations

import time

import pandas as pd

from assay import Predictor
from assay.bench.suite import BenchError
from assay.task import detect_task

GBDT = ["lightgbm", "xgboost", "catboost"]
# the factors an ablation matrix may name
COMPONENTS = ("search", "ensemble", "models", "portfolio", "warm_start", "screen")
SWITCHES = ("ensemble", "warm_start", "screen")  # the factors that are on or off


def predictor_options(config: dict | None) -> dict:
    """Predictor keyword arguments for component choices such as
    {"search": "random", "ensemble": "off", "models": "gbdt-only"}; BenchError names a bad one."""
    config = dict(config or {})
    unknown = sorted(set(config) - set(COMPONENTS))
    if unknown:
        raise BenchError(f"unknown assay component(s) {', '.join(unknown)}; use {', '.join(COMPONENTS)}")
    settings, options = {}, {}
    if "search" in config:
        from assay.search.strategies import parse_search

        try:
            parse_search(config["search"])
        except Exception as exc:
            raise BenchError(str(exc)) from None
        settings["search"] = str(config["search"])
    if "models" in config:
        options["families"] = models_level(str(config["models"]))
    if "portfolio" in config:  # a shipped portfolio ("default", "learnt") or a JSON file
        from assay.search.strategies import load_document

        try:
            load_document(str(config["portfolio"]))
        except Exception as exc:
            raise BenchError(str(exc)) from None
        settings["portfolio"] = str(config["portfolio"])
    for name in SWITCHES:
        if name in config:
            settings[name] = _switch(name, config[name])
    if settings:
        options["settings"] = settings
    return options


def _switch(name: str, value) -> bool:
    level = str(value).lower()
    if level not in ("on", "off", "true", "false"):
        raise BenchError(f"{name}={value!r}: use on or off")
    return level in ("on", "true")


def models_level(level: str) -> list[str] | None:
    from assay.models.registry import FAMILY_KEYS

    if level == "all":
        return None
    if level in ("gbdt-only", "gbdt"):
        return list(GBDT)
    families = [f for f in level.split("+") if f]
    unknown = [f for f in families if f not in FAMILY_KEYS]
    if unknown or not families:
        raise BenchError(f"models={level!r}: use all, gbdt-only, or families joined by + ({', '.join(FAMILY_KEYS)})")
    return families


def run(
    train: pd.DataFrame,
    test: pd.DataFrame,
    target: str,
    task: str,
    budget: float,
    seed: int,
    config: dict | None = None,
) -> dict:
    X_test = test.drop(columns=[target])
    options = predictor_options(config)
    started = time.perf_counter()
    # Every bench run is recorded in the knowledge base; warm start stays off unless the matrix asks
    # for it, or a run's result would depend on which runs came before it.
    options = {"knowledge": True, "warm_start": False, **options}
    predictor = Predictor(target=target, budget=budget, task=task, seed=seed, verbose=False, **options).fit(train)
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
            "components": config or {},
        },
    }
