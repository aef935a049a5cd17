"""Everything the report needs that only the fit can compute, computed at the end of the fit,
inside its budget, and kept as a small JSON (no training rows beyond a few worst-predicted ones).

The fit hands over what it has in memory: the out-of-fold predictions of every kept trial, the
fold models, the preprocessed training table. Steps run cheapest and most telling first; each
expensive one checks the time left and is skipped, with the reason recorded, when it cannot
finish, so a short budget gives a shorter report rather than a broken promise.
"""

from __future__ import annotations

import json
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from assay.ensemble.calibrate import apply_temperature, fit_temperature
from assay.evaluate import baselines, diagnose, errors, explain, sanity
from assay.evaluate.metrics import METRICS
from assay.evaluate.uncertainty import fold_interval, metric_intervals_many
from assay.search.budget import Budget, Deadline
from assay.search.events import Callback

FORMAT = 1


@dataclass
class Diagnostics:
    data: dict  # JSON-able: saved as diagnostics.json, read back by `assay report`
    models: dict = field(default_factory=dict)  # small fitted baselines saved beside the ensemble


class TrialClock(Callback):
    """When each trial ended, in seconds since the fit started: the anytime curve's x axis."""

    def __init__(self, started: float):
        self.started = started
        self.ends: dict[int, float] = {}

    def on_trial_end(self, result, *, best) -> None:
        self.ends[result.spec.trial_id] = round(time.monotonic() - self.started, 3)


def reserve(budget: Budget) -> tuple[Budget, float]:
    """(the budget the search and the ensemble work to, seconds kept for diagnostics): 6 % of
    the budget, at most 15 s, tapering below a minute, where every second of search counts (a
    10 s fit of a small table loses its second model to a one-second reserve)."""
    if not budget.timed:
        return budget, 0.0
    seconds = min(0.06 * budget.seconds * min(1.0, budget.seconds / 60), 15.0)
    return Budget(budget.seconds - seconds, budget.trials), seconds


def deadline(budget: Budget, started: float) -> Deadline:
    """Diagnostics end a second after the user's budget: the promise (budget x 1.05 + 5 s) keeps
    most of its slack for what cannot be interrupted. A trial-count budget has no clock, so they
    get a tenth of the time the fit took (3 to 15 s)."""
    if budget.timed:
        return Deadline(started + budget.seconds * 1.02 + 1.0)
    return Deadline.after(min(max(3.0, 0.1 * (time.monotonic() - started)), 15.0))


def collect(ctx, plan, outcome, ensemble, preprocessor, seed, clock, until: Deadline, notes: list[str]):
    """run_diagnostics, except that a failure costs the report a section, never the fitted model."""
    try:
        return run_diagnostics(ctx, plan, outcome, ensemble, preprocessor, seed, clock, until)
    except Exception as exc:
        detail = f"{type(exc).__name__}: {str(exc)[:300]}"
        warnings.warn(f"the report's diagnostics failed ({detail}); the model is unaffected", stacklevel=2)
        notes.append(f"diagnostics failed: {detail}")
        return Diagnostics({"format": FORMAT, "error": detail, "skipped": [], "seconds": {}})


def run_diagnostics(
    ctx, plan, outcome, ensemble, preprocessor, seed: int, clock: TrialClock | None, until: Deadline
) -> Diagnostics:
    X, y, task, metric, folds = ctx.X, ctx.y, ctx.task, ctx.metric, ctx.folds
    timer = _Timer()
    data: dict = {"format": FORMAT, "skipped": [], "seconds": timer.seconds}
    models: dict = {}

    with timer("summary"):
        oof = ensemble_oof(outcome, ensemble)
        held = np.flatnonzero(~np.isnan(oof if oof.ndim == 1 else oof[:, 0]))
        data["data"] = data_summary(X, y, task, preprocessor)
        data["search"] = search_summary(outcome, clock, metric)
    with timer("validation"):
        n_boot = 200 if until.remaining() > 4 or len(held) < 5_000 else 100  # fewer resamples when pressed
        prior_oof = baselines.prior_oof(y, folds, task)
        data["validation"], prior_scores = scores_many(
            task, metric, y[held], [oof[held], prior_oof[held]], seed, n_boot
        )
        data["validation"].update(plan=plan.to_dict(), folds=_fold_scores(metric, task, y, oof, folds, plan))
        data["baselines"] = {"prior": {"values": baselines.fit_prior(y, task), "validation": prior_scores}}
        data["calibration"] = calibration_note(task, y[held], oof[held], ensemble.temperature, metric)

    groups = explain.source_groups(preprocessor, X.columns)
    va0 = folds[0][1]
    fold_of = explain.fold_assignment(folds, len(y))
    oof_model = explain.routed_predictor(ensemble, fold_of)
    with timer("importance"):
        importance = explain.permutation_importance(
            oof_model, X.iloc[held], y[held], task, metric, groups, n_repeats=2, seed=seed, deadline=_share(until, 0.2)
        )
        data["importance"] = importance
        if importance["status"] != "ok":
            data["skipped"].append(f"permutation importance: {importance['reason']}")
    order = [f["feature"] for f in importance.get("features", [])]
    with timer("errors"):
        data["errors"] = errors.analyse(task, X.iloc[held], y[held], oof[held], columns=order or None, seed=seed)
    with timer("linear"):
        linear, why = baselines.fit_linear(X, y, folds[0], task, metric, _share(until, 0.3), seed, ctx.n_threads)
        entry = {"note": why}
        if linear is not None:
            raws = [linear.predict_raw(X.iloc[va0]), oof[va0]]
            entry["validation"], entry["ensemble_same_rows"] = scores_many(task, metric, y[va0], raws, seed, n_boot)
            models["linear"] = linear
        else:
            data["skipped"].append(f"linear baseline: {why}")
        data["baselines"]["linear"] = entry

    def contributions():  # between the checks and the costlier curves
        with timer("contributions"):
            data["contributions"] = _contributions(
                ensemble, X, y, task, fold_of, held, groups, data["errors"], seed, until
            )
            if data["contributions"]["status"] == "skipped":
                data["skipped"].append(f"per-row contributions: {data['contributions']['reason']}")

    data["learning"], data["sanity"] = _curves_and_checks(
        ctx, outcome, seed, until, timer, data["skipped"], contributions
    )
    if "contributions" not in data:
        contributions()
    return Diagnostics(data, models)


def _curves_and_checks(ctx, outcome, seed, until, timer, skipped, between) -> tuple[dict, dict]:
    X, y, task, metric, folds = ctx.X, ctx.y, ctx.task, ctx.metric, ctx.folds
    best = diagnose.best_gbdt(outcome) or _best_kept(outcome)
    if best is None:
        skipped.append("learning curves and sanity checks: no trial kept its fold models")
        return {}, {}
    spec, fold_model = best.result.spec, best.models[0]
    rounds_cap = int(1.2 * fold_model.best_iteration_) + 10 if fold_model.best_iteration_ else None
    refitter = diagnose.Refitter(
        spec.family,
        spec.params,
        X,
        y,
        folds[0],
        task,
        metric,
        seed,
        rounds_cap,
        ctx.n_threads,
        float(getattr(fold_model, "fit_seconds_", 0.0)),
    )
    learning: dict = {
        "model": spec.name,
        "family": spec.family,
        "n_train": len(folds[0][0]),
        "n_valid_sample": len(refitter.valid_rows),
    }
    with timer("rounds curve"):
        learning["rounds"] = (
            diagnose.rounds_curve(fold_model, X, y, folds[0], task, metric, _share(until, 0.15), seed=seed)
            if spec.family in diagnose.GBDT_FAMILIES
            else None
        )
    base = diagnose.prior_error(y[folds[0][0]], y[refitter.valid_rows], task, metric)
    learning["baseline_error"] = base
    final_error = metric.error(
        y[refitter.valid_rows], fold_model.predict_raw(X.iloc[refitter.valid_rows]), task.n_classes
    )
    checks: dict = {}
    with timer("label shuffle"):
        checks["label_shuffle"] = sanity.label_shuffle(refitter, _share(until, 0.4), base - final_error)
    between()
    with timer("size curve"):
        learning["size"] = diagnose.size_curve(refitter, fold_model, _share(until, 0.7))
        skipped += [f"size curve point at {s}" for s in learning["size"]["skipped"]]
    with timer("seed spread"):
        n_rows = max(int(len(folds[0][0]) * 0.25), 30)
        first = next((p for p in learning["size"]["points"] if p["n"] == n_rows), None)
        checks["seeds"] = sanity.seed_spread(refitter, until, n_rows, first)
    learning["verdict"] = diagnose.verdict(metric, base, learning["size"], learning["rounds"])
    for name in ("label_shuffle", "seeds"):
        if checks[name].get("status") == "skipped":
            skipped.append(f"{name.replace('_', ' ')}: {checks[name]['reason']}")
    return learning, checks


def _contributions(ensemble, X, y, task, fold_of, held, groups, analysis, seed, until) -> dict:
    """Global mean |contribution| on a sample of held-out rows, and the worst-predicted rows, each
    row explained by the fold models that did not train on it."""
    if not any(m.family in explain.GBDT_FAMILIES for _, m in explain.leaf_models(ensemble)):
        return {"status": "skipped", "reason": "no gradient-boosting member in the ensemble"}
    if until.remaining() < 2.0:  # one fold of tree explanations can take seconds (CatBoost's)
        return {"status": "skipped", "reason": "not enough time left"}
    rng = np.random.default_rng(seed)
    sample = np.sort(rng.choice(held, min(len(held), 300), replace=False))
    worst = [r["row"] for r in analysis["worst_rows"][:3]]
    rows = np.concatenate([sample, worst]).astype(int)
    parts, explained, first, last = {}, {}, None, 0.0
    for f in np.unique(fold_of[rows]):
        if first is not None and until.remaining() < last:  # the next fold would overrun: keep those done
            break
        started = time.monotonic()
        at = rows[fold_of[rows] == f]
        models = [(w, bag.members[f]) for w, bag in zip(ensemble.weights, ensemble.members, strict=True)]
        Xf = X.iloc[at]
        cls = np.argmax(explain.fold_predictor(ensemble, int(f))(Xf), axis=1) if task.is_classification else None
        c = explain.contributions(models, Xf, task, groups, cls)
        first = first or c
        for j, i in enumerate(at):
            parts[int(i)] = (c["features"].iloc[j], c["baseline"][j])
            if task.is_classification:
                explained[int(i)] = task.classes[1] if task.kind == "binary" else task.classes[int(cls[j])]
        last = time.monotonic() - started
    sample = np.array([i for i in sample if int(i) in parts], dtype=int)
    frame = pd.DataFrame([parts[int(i)][0] for i in sample], index=sample)
    out = {
        "status": "ok",
        "space": first["space"],
        "explained_share": first["explained_share"],
        "members": first["members"],
        "n_rows": len(sample),
        "mean_abs": explain.mean_abs({"features": frame}),
        "examples": [],
    }
    for row in analysis["worst_rows"][:3]:
        if row["row"] not in parts:
            continue
        values, baseline = parts[row["row"]]
        one = {"features": values.to_frame().T, "baseline": np.array([baseline])}
        example = explain.row_explanations(one, [0])[0]
        example.update(
            row=row["row"], actual=row["actual"], predicted=row["predicted"], explained=explained.get(row["row"])
        )
        out["examples"].append(example)
    return out


# ---- pieces ----------------------------------------------------------------------------------


def ensemble_oof(outcome, ensemble) -> np.ndarray:
    """The ensemble's out-of-fold predictions, rebuilt from its members' (as ensembling did)."""
    by_name = {o.result.spec.name: o for o in outcome.outputs.values()}
    blend = sum(w * by_name[bag.name].oof for w, bag in zip(ensemble.weights, ensemble.members, strict=True))
    if ensemble.task.is_classification and ensemble.temperature != 1.0:
        held = ~np.isnan(blend[:, 0])
        blend[held] = apply_temperature(blend[held], ensemble.temperature)
    return blend


def scores(task, metric, y, raw, seed: int, n_boot: int = 200) -> dict:
    """Every metric of the task with its interval, the model's own first."""
    return scores_many(task, metric, y, [raw], seed, n_boot)[0]


def scores_many(task, metric, y, raws: list, seed: int, n_boot: int = 200) -> list[dict]:
    """scores() of several predictions of the same rows, on shared resamples."""
    names = [metric.name] + [m for m, spec in METRICS.items() if task.kind in spec.tasks and m != metric.name]
    found = metric_intervals_many([METRICS[m] for m in names], y, raws, task.n_classes, n_boot=n_boot, seed=seed)
    return [{"primary": metric.name, "n_rows": len(y), "metrics": {m: iv[m].to_dict() for m in names}} for iv in found]


def _fold_scores(metric, task, y, oof, folds, plan) -> dict | None:
    if plan.kind != "kfold":
        return None
    values = []
    for _, va in folds[: plan.n_folds]:
        try:
            values.append(metric.score(y[va], oof[va], task.n_classes))
        except ValueError:
            continue
    return {"scores": values, "interval": fold_interval(values).to_dict()}


def calibration_note(task, y, raw, temperature: float, metric) -> dict | None:
    """Was temperature scaling applied, and would it help? Judged on held-out halves: fitted on
    one half of the out-of-fold rows, scored on the other, both ways round."""
    if not task.is_classification:
        return None
    note = {"temperature": temperature, "applied": temperature != 1.0}
    if temperature != 1.0:
        note["words"] = (
            f"temperature scaling applied (T = {temperature:.3g}, fitted on out-of-fold predictions): "
            "it changes probabilities, not the ranking or the predicted class"
        )
        return note
    rng = np.random.default_rng(0)
    half = rng.permutation(len(y)) < len(y) // 2
    before = after = 0.0
    for a, b in ((half, ~half), (~half, half)):
        t = fit_temperature(raw[a], y[a])
        before += METRICS["log_loss"].score(y[b], raw[b], task.n_classes) * b.sum()
        after += METRICS["log_loss"].score(y[b], apply_temperature(raw[b], t), task.n_classes) * b.sum()
    before, after = before / len(y), after / len(y)
    note.update(log_loss_before=before, log_loss_after=after)
    if after < before - 1e-3:
        note["words"] = (
            f"temperature scaling would lower the log loss from {before:.4f} to {after:.4f} on held-out "
            f"halves; it is fitted only when log_loss is the metric ({metric.name} here)"
        )
    else:
        note["words"] = f"probabilities are well calibrated: temperature scaling would not help (log loss {before:.4f})"
    return note


def data_summary(X, y, task, preprocessor) -> dict:
    kinds: dict[str, int] = {}
    for p in getattr(preprocessor, "plans_", []):
        kinds[p.kind] = kinds.get(p.kind, 0) + 1
    out = {
        "n_rows": len(y),
        "n_model_columns": X.shape[1],
        "kinds": kinds,
        "dropped": dict(getattr(preprocessor, "dropped_", {})),
    }
    if task.is_classification:
        counts = np.bincount(y.astype(int), minlength=task.n_classes)
        out["target"] = {"classes": [errors._label(task, i) for i in range(task.n_classes)], "counts": counts.tolist()}
    else:
        counts, edges = np.histogram(y, bins=30)
        out["target"] = {
            "edges": edges.tolist(),
            "counts": counts.tolist(),
            "mean": float(np.mean(y)),
            "std": float(np.std(y)),
        }
    return out


def search_summary(outcome, clock: TrialClock | None, metric) -> dict:
    ends = clock.ends if clock else {}
    trials, anytime, best = [], [], None
    for r in sorted(outcome.results, key=lambda r: ends.get(r.spec.trial_id, r.spec.trial_id)):
        end = ends.get(r.spec.trial_id)
        trials.append(
            {
                "id": r.spec.trial_id,
                "name": r.spec.name,
                "family": r.spec.family,
                "status": r.status,
                "score": r.score if r.ok else None,
                "end_s": end,
            }
        )
        if r.ok and (best is None or r.error < best.error):
            best = r
            anytime.append({"t": end, "score": r.score, "name": r.spec.name})
    families: dict[str, dict] = {}
    for r in outcome.results:
        f = families.setdefault(r.spec.family, {"trials": 0, "ok": 0, "best": None, "best_name": None})
        f["trials"] += 1
        if r.ok:
            f["ok"] += 1
            if f["best"] is None or _better(metric, r.score, f["best"]):
                f["best"], f["best_name"] = r.score, r.spec.name
    return {"trials": trials, "anytime": anytime, "families": families, "timed": bool(ends)}


def _better(metric, a: float, b: float) -> bool:
    return a > b if metric.greater_is_better else a < b


def _best_kept(outcome):
    kept = [o for o in outcome.outputs.values() if o.models]
    return min(kept, key=lambda o: o.result.error) if kept else None


def _share(until: Deadline, fraction: float) -> Deadline:
    """A step may use `fraction` of the time left, so later steps keep a chance."""
    if until.at is None:
        return until
    return until.sooner(max(until.remaining(), 0.0) * fraction)


class _Timer:
    """Seconds per step, reported so the cost of every diagnostic is visible."""

    def __init__(self):
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(time.perf_counter() - start, 3)


# ---- in the model folder ---------------------------------------------------------------------


def save(directory, data: dict, models: dict) -> None:
    """diagnostics.json and the baselines' own model files, inside a model folder being written."""
    from pathlib import Path

    from assay.evaluate.report_data import jsonable

    directory = Path(directory)
    (directory / "diagnostics.json").write_text(json.dumps(jsonable(data or {})))
    for name, model in (models or {}).items():
        model.save(directory / "baselines" / name)


def load(directory, task) -> tuple[dict, dict]:
    """(diagnostics, baseline models) of a model folder; empty for folders saved without them."""
    from pathlib import Path

    from assay.models.registry import get_family

    directory = Path(directory)
    path = directory / "diagnostics.json"
    data = json.loads(path.read_text()) if path.is_file() else {}
    models = {}
    for sub in sorted((directory / "baselines").glob("*/model.json")):
        family = json.loads(sub.read_text())["family"]
        try:
            models[sub.parent.name] = get_family(family).load(sub.parent)
        except Exception as exc:  # a baseline that will not load costs its column in the report, nothing more
            warnings.warn(f"baseline {sub.parent.name} not loaded: {exc}", stacklevel=2)
    return data, models
