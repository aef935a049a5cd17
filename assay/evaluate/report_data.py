"""The report's content as plain data: the fit's record, the diagnostics computed at fit time and,
given labelled test rows, their evaluation.

The HTML page and report.json are both drawn from this one dict, so they always say the same
thing; and since the diagnostics were saved with the model, `assay report MODEL` can rebuild the
report later without the training data.
"""

from __future__ import annotations

import datetime as dt
import math
import time
import warnings

import numpy as np

from assay.data.leakage import shared_rows
from assay.errors import TargetError, problem
from assay.evaluate import errors, explain
from assay.evaluate.baselines import prior_raw
from assay.evaluate.diagnostics import scores_many
from assay.evaluate.sanity import validation_vs_test
from assay.evaluate.uncertainty import Interval
from assay.search.budget import Deadline

FORMAT = 1
SECTIONS = ("data", "search", "model", "diagnostics", "errors", "explanations")


def build_report(predictor, data=None, *, seed: int = 0, seconds: float | None = None) -> dict:
    """Everything the report shows. `data`: labelled rows never used in training (a path or a
    DataFrame); `seconds`: the time the test-set explanations may take (default: 3 % of the
    fit's budget, at least one second)."""
    started = time.perf_counter()
    info = predictor.info
    diag = getattr(predictor, "_diagnostics", None) or {}
    task, metric = predictor._task, predictor._metric
    budget = info.get("budget") or {}
    if seconds is None:
        seconds = max(2.0, 0.03 * budget["seconds"]) if budget.get("seconds") else 10.0
    search = diag.get("search") or {}
    ends = {t["name"]: t.get("end_s") for t in search.get("trials", [])}
    trials = [{**t, "end_s": ends.get(t["model"])} for t in info.get("trials", [])]
    preprocessor = predictor._preprocessor
    content = {
        "format": FORMAT,
        "title": f"{info['target']} ({task.kind})",
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "target": info["target"],
        "task": info["task"],
        "metric": metric.name,
        "greater_is_better": metric.greater_is_better,
        "data": {
            "n_rows": info.get("n_rows"),
            "read": info.get("read"),
            "cleaning": info.get("cleaning", []),
            "leaks": info.get("leaks", []),
            "notes": info.get("notes", []),
            "columns": [{"name": p.name, "kind": p.kind} for p in preprocessor.plans_],
            "dropped": dict(preprocessor.dropped_),
            "summary": diag.get("data"),
            "profile": diag.get("profile"),
        },
        "search": {
            "budget": budget,
            "fit_seconds": info.get("fit_seconds"),
            "validation": info.get("validation"),
            "trials": trials,
            "anytime": search.get("anytime", []),
            "families": search.get("families", {}),
        },
        "model": {
            "ensemble": info.get("ensemble"),
            "validation": diag.get("validation"),
            "baselines": diag.get("baselines"),
            "calibration": diag.get("calibration"),
            "test": None,
        },
        "diagnostics": {
            "learning": diag.get("learning"),
            "sanity": diag.get("sanity"),
            "seconds": diag.get("seconds", {}),
            "skipped": diag.get("skipped", []),
            "error": diag.get("error"),
        },
        "errors": {"validation": diag.get("errors"), "test": None},
        "explanations": {
            "importance": diag.get("importance"),
            "importance_test": None,
            "contributions": diag.get("contributions"),
            "test_examples": None,
        },
        "warnings": [],
    }
    if not diag:
        content["warnings"].append(
            "this model was saved without diagnostics (an older assay?): only the fit's "
            "record is shown; refit to see learning curves, baselines and checks"
        )
    if data is not None:
        _add_test(content, predictor, data, diag, seed, Deadline.after(seconds))
    content["generation_seconds"] = round(time.perf_counter() - started, 3)
    return jsonable(content)


def _add_test(content: dict, predictor, data, diag: dict, seed: int, until: Deadline) -> None:
    task, metric, target = predictor._task, predictor._metric, predictor.target
    frame = predictor._clean(data)
    if target not in frame.columns:
        raise TargetError(
            problem(
                f"test data has no target column {target!r}",
                where="--data",
                fix="pass labelled rows that were not used in training",
            )
        )
    frame = frame[frame[target].notna()].reset_index(drop=True)
    info = predictor.info
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        overlap = shared_rows(predictor._row_hashes, frame, columns=info["hashed_columns"])
    if overlap is not None:
        content["warnings"].append(overlap.describe())
    y = task.encode(frame[target])
    Xp = predictor._preprocessor.transform(frame.drop(columns=[target]))
    raw = predictor._ensemble.predict_raw(Xp)
    raws = {"model": raw}
    prior = (diag.get("baselines") or {}).get("prior")
    if prior:
        raws["prior"] = prior_raw(prior["values"], len(y), task)
    linear = getattr(predictor, "_baselines", {}).get("linear")
    if linear is not None:
        raws["linear"] = linear.predict_raw(Xp)
    found = dict(zip(raws, scores_many(task, metric, y, list(raws.values()), seed), strict=True))
    test = found.pop("model")
    baselines = found
    model = content["model"]
    model["test"] = {"scores": test, "baselines": baselines, "n_rows": len(y)}
    validation = (diag.get("validation") or {}).get("metrics", {}).get(metric.name)
    if validation:
        check = validation_vs_test(metric.name, _interval(validation), _interval(test["metrics"][metric.name]))
        content["diagnostics"].setdefault("sanity", {})
        content["diagnostics"]["sanity"] = {**(content["diagnostics"]["sanity"] or {}), "validation_vs_test": check}
        if check["disagree"]:
            content["warnings"].append(check["words"])
    importance = (diag.get("importance") or {}).get("features") or []
    order = [f["feature"] for f in importance]
    content["errors"]["test"] = errors.analyse(task, Xp, y, raw, columns=order or None, seed=seed)
    groups = explain.source_groups(predictor._preprocessor, Xp.columns)
    content["explanations"]["importance_test"] = explain.permutation_importance(
        predictor._ensemble.predict_raw,
        Xp,
        y,
        task,
        metric,
        groups,
        n_repeats=2,
        seed=seed,
        deadline=until.sooner(0.7 * until.remaining()),
    )
    worst = [r["row"] for r in content["errors"]["test"]["worst_rows"][:3]]
    try:
        Xw = Xp.iloc[worst]
        cls = np.argmax(raw[worst], axis=1) if task.is_classification else None
        contrib = explain.contributions(explain.leaf_models(predictor._ensemble), Xw, task, groups, cls)
        examples = explain.row_explanations(contrib, range(len(worst)))
        for example, row, code in zip(
            examples, content["errors"]["test"]["worst_rows"], _explained(task, cls, worst), strict=False
        ):
            example.update(actual=row["actual"], predicted=row["predicted"], explained=code)
        content["explanations"]["test_examples"] = {"space": contrib["space"], "examples": examples}
    except Exception as exc:  # no boosted member: the report shows permutation importance alone
        content["explanations"]["test_examples"] = {"status": "skipped", "reason": str(exc).split("\n")[0]}


def _explained(task, codes, rows) -> list:
    """The class each example's contributions point to (binary: always the second class)."""
    if not task.is_classification:
        return [None] * len(rows)
    if task.kind == "binary":
        return [task.classes[1]] * len(rows)
    return [task.classes[int(c)] for c in codes]


def _interval(d: dict) -> Interval:
    def num(v):
        return math.nan if v is None else float(v)

    return Interval(num(d["value"]), num(d["low"]), num(d["high"]), int(d["n"]), d["method"])


def jsonable(value):
    """Plain JSON types throughout: numpy scalars unwrapped, NaN and infinities as None."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value
