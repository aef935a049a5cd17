"""Learning curves and the verdict they support: under-fitting, over-fitting, or fine, and what
to try next.

Two curves, both from the best gradient-boosting configuration of the search, on the first
fold (the search's own validation rows, never trained on):
- score against training-set size: refits on subsamples, with boosting rounds capped, so the
  curve costs a fraction of one trial. Is more data worth collecting?
- score against boosting rounds, training rows vs validation rows: read off the fold model the
  search already trained (every library can predict with its first r trees), so it costs
  predictions only. Where do the two part company?

The verdict compares training and validation on one scale: the share of the possible
improvement over the trivial baseline that each achieves (0 = no better than predicting the
class frequencies or the mean, 1 = perfect). A model that gets 0.98 of it on its training rows
and 0.60 on validation has memorised; one that gets 0.30 on both has not learnt what there is.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from assay.evaluate.baselines import fit_prior, prior_raw
from assay.models.base import codes_matrix, full_proba
from assay.models.registry import get_family
from assay.search.budget import Deadline

GBDT_FAMILIES = ("lightgbm", "xgboost", "catboost")
OVER_GAP = 0.2  # training share of the possible improvement exceeding validation's by this: over-fitting
MILD_GAP = 0.1
UNDER_TRAIN_GAIN = 0.5  # below this share even on training rows (and no gap): under-fitting
EVAL_ROWS = 2_000  # rows behind each point of a curve
SIZE_FRACTIONS = (0.1, 0.25, 0.5)  # the full fold is the search's own model, no refit needed


def best_gbdt(outcome):
    """The kept TrialOutput of the best gradient-boosting trial, or None."""
    kept = [o for o in outcome.outputs.values() if o.result.spec.family in GBDT_FAMILIES and o.models]
    return min(kept, key=lambda o: o.result.error) if kept else None


@dataclass
class Refitter:
    """Refits of one configuration on rows of the first fold, validated on a fixed sample of its
    held-out rows; the size curve, the seed spread and the label-shuffle check all use it."""

    family: str
    params: dict
    X: pd.DataFrame
    y: np.ndarray
    fold: tuple
    task: object
    metric: object
    seed: int = 0
    rounds_cap: int | None = None
    n_threads: int | None = None
    reference_seconds: float = 0.0  # the search's own fit on the whole fold
    eval_rows: int = EVAL_ROWS

    def __post_init__(self):
        rng = np.random.default_rng(self.seed)
        tr, va = self.fold
        self.train_rows = rng.permutation(tr)  # a prefix of it is a random subsample
        self.valid_rows = np.sort(rng.choice(va, min(len(va), self.eval_rows * 2), replace=False))

    def estimate(self, n_rows: int) -> float:
        return self.reference_seconds * n_rows / max(len(self.fold[0]), 1)

    def fit(
        self, n_rows: int, seed: int, deadline: Deadline, y=None, X=None, cost: float = 1.0, blind: bool = False
    ) -> dict | None:
        """Train on the first n_rows training rows; errors on those rows and on the validation
        sample. None when the estimated cost (times `cost`, for runs expected to stop early) does
        not fit the time left. `blind`: stop early on a fifth of the training rows instead of the
        validation rows, so the validation labels play no part at all in training."""
        if deadline.at is not None and 1.5 * cost * self.estimate(n_rows) + 0.05 > deadline.remaining():
            return None
        y = self.y if y is None else y
        X = self.X if X is None else X
        rows = np.sort(self.train_rows[:n_rows])
        family = get_family(self.family)
        params = dict(self.params)
        rounds_param = getattr(family, "rounds_param", None)
        if self.rounds_cap and rounds_param:
            params[rounds_param] = min(int(params.get(rounds_param, 10**6)), self.rounds_cap)
        model = family(self.task, params, seed=seed, metric=self.metric.name, n_threads=self.n_threads)
        start = time.perf_counter()
        va = stop = self.valid_rows
        if blind:
            shuffled = self.train_rows[:n_rows]
            cut = int(0.8 * len(shuffled))
            rows, stop = np.sort(shuffled[:cut]), np.sort(shuffled[cut:])
        model.fit(X.iloc[rows], y[rows], X_val=X.iloc[stop], y_val=y[stop], deadline=deadline)
        fit_s = time.perf_counter() - start
        seen = rows[: self.eval_rows]
        raw_val = model.predict_raw(X.iloc[va])
        return {
            "n": int(n_rows),
            "train_error": self._error(y[seen], model.predict_raw(X.iloc[seen])),
            "valid_error": self._error(y[va], raw_val),
            "raw_valid": raw_val,
            "seconds": fit_s,
            "rounds": model.best_iteration_,
        }

    def _error(self, y, raw) -> float:
        try:
            return float(self.metric.error(y, raw, self.task.n_classes))
        except ValueError:
            return float("nan")


def size_curve(refitter: Refitter, fold_model, deadline: Deadline) -> dict:
    """Errors against training rows; the last point is the search's own fold model."""
    n_full = len(refitter.fold[0])
    points, skipped = [], []
    for fraction in SIZE_FRACTIONS:
        n = max(int(n_full * fraction), 30)
        if n >= n_full:
            continue
        try:
            point = refitter.fit(n, refitter.seed, deadline)
        except Exception as exc:  # a tiny subsample may miss a class: the curve goes without it
            skipped.append(f"{n:,} rows: {type(exc).__name__}")
            continue
        if point is None:
            skipped.append(f"{n:,} rows: not enough time left")
            break
        points.append({k: v for k, v in point.items() if k != "raw_valid"})
    va = refitter.valid_rows
    seen = np.sort(refitter.fold[0])[: refitter.eval_rows]
    full = {
        "n": int(n_full),
        "train_error": refitter._error(refitter.y[seen], fold_model.predict_raw(refitter.X.iloc[seen])),
        "valid_error": refitter._error(refitter.y[va], fold_model.predict_raw(refitter.X.iloc[va])),
        "seconds": float(getattr(fold_model, "fit_seconds_", 0.0)),
        "rounds": fold_model.best_iteration_,
    }
    return {"points": [*points, full], "skipped": skipped}


def rounds_curve(
    model,
    X: pd.DataFrame,
    y: np.ndarray,
    fold,
    task,
    metric,
    deadline: Deadline | None = None,
    n_points: int = 16,
    seed: int = 0,
):
    """Training and validation error after r boosting rounds, r on a grid up to every round the
    model trained. LightGBM and CatBoost keep only the rounds up to the best one, so a LightGBM
    or XGBoost model without later rounds is trained on for a further third of its rounds, as
    an experiment: does validation keep improving (stopped too soon) or turn (stopped right)?"""
    total = trained_rounds(model)
    if not total:
        return None
    rng = np.random.default_rng(seed)
    tr_all, va = fold
    best = min(model.best_iteration_ or total, total)
    extended = None
    if total <= best + 1:
        extra = max(10, int(0.3 * best))
        guess = 1.5 * float(getattr(model, "fit_seconds_", 0.0)) * extra / max(total, 1) + 0.05
        if deadline is None or deadline.at is None or guess < deadline.remaining():
            extended = continue_training(model, X.iloc[tr_all], y[tr_all], extra)
    curve_model = extended or model
    total_now = trained_rounds(curve_model)
    tr = np.sort(rng.choice(tr_all, min(len(tr_all), EVAL_ROWS), replace=False))
    va = np.sort(rng.choice(va, min(len(va), EVAL_ROWS), replace=False))
    grid = {int(r) for r in np.geomspace(1, total_now, n_points).round() if r >= 1} | {total_now, best}
    train, valid = [], []
    for r in sorted(grid):
        for rows, out in ((tr, train), (va, valid)):
            raw = staged_raw(curve_model, X.iloc[rows], r)
            out.append(float(metric.error(y[rows], raw, task.n_classes)))
    return {
        "rounds": sorted(grid),
        "train_error": train,
        "valid_error": valid,
        "best_round": int(best),
        "trained": int(total),
        "extended_to": int(total_now) if extended is not None else None,
    }


def continue_training(model, X: pd.DataFrame, y: np.ndarray, extra: int):
    """A copy of a fitted LightGBM or XGBoost model boosted `extra` more rounds (None for other
    families); the original is left as it is."""
    import copy

    try:
        if model.family == "lightgbm":
            import lightgbm as lgb

            from assay.models.base import categorical_columns

            data = lgb.Dataset(codes_matrix(X), y, categorical_feature=categorical_columns(X))
            booster = lgb.train(
                model._booster_params(),
                data,
                num_boost_round=extra,
                init_model=model.booster_,
                keep_training_booster=True,
            )
        elif model.family == "xgboost":
            import xgboost as xgb

            booster = xgb.train(model._booster_params(), model._matrix(X, y), extra, xgb_model=model.booster_.copy())
        else:
            return None
    except Exception:  # the experiment is optional; the curve then stops at the best round
        return None
    clone = copy.copy(model)
    clone.booster_ = booster
    clone.best_iteration_ = trained_rounds(clone)
    return clone


def trained_rounds(model) -> int | None:
    family = model.family
    if family == "lightgbm":
        return int(model.booster_.current_iteration())
    if family == "xgboost":
        return int(model.booster_.num_boosted_rounds())
    if family == "catboost":
        return int(model.model_.tree_count_)
    return None


def staged_raw(model, X: pd.DataFrame, rounds: int) -> np.ndarray:
    """The model's raw output using only its first `rounds` trees. Each library can do this
    natively; the dispatch lives here rather than in the families because only diagnostics
    need it."""
    task = model.task
    if model.family == "lightgbm":
        raw = model.booster_.predict(codes_matrix(X), num_iteration=rounds)
    elif model.family == "xgboost":
        raw = model.booster_.predict(model._matrix(X), iteration_range=(0, rounds))
    elif model.family == "catboost":
        from assay.models.catboost import _frame

        if not task.is_classification:
            return model.model_.predict(_frame(X), ntree_end=rounds)
        proba = model.model_.predict_proba(_frame(X), ntree_end=rounds)
        return full_proba(proba, model.model_.classes_, task.n_classes)
    else:
        raise ValueError(f"no staged predictions for family {model.family!r}")
    raw = np.asarray(raw, dtype=float)
    if task.kind == "binary":
        return np.column_stack([1 - raw, raw])
    return raw


# ---- the verdict ------------------------------------------------------------------------------


def verdict(metric, base_error: float, size: dict | None, rounds: dict | None) -> dict:
    """{label, headline, evidence, advice} from the curves; label is "under-fitting",
    "over-fitting", "fine" or "unknown"."""
    if not size or not size.get("points"):
        return {"label": "unknown", "headline": "no learning curve could be measured", "evidence": [], "advice": []}
    final = size["points"][-1]
    tr, va = final["train_error"], final["valid_error"]
    floor = metric.error_floor
    scale = base_error - floor if base_error - floor > 1e-12 else max(abs(base_error), 1e-12)
    gain_tr, gain_va = (base_error - tr) / scale, (base_error - va) / scale
    gap = gain_tr - gain_va

    def show(err):
        return f"{metric.from_error(err):.4g}"

    evidence = [
        f"{metric.name} on training rows {show(tr)}, on validation rows {show(va)}; the trivial baseline "
        f"scores {show(base_error)}",
        f"share of the possible improvement over the baseline: {gain_tr:.0%} on training rows, "
        f"{gain_va:.0%} on validation rows (gap {gap:+.0%})",
    ]
    improving = rounds is not None and _still_improving(rounds, scale)
    if rounds is not None:
        line = f"training kept {rounds['best_round']:,} boosting rounds"
        if rounds.get("extended_to"):
            line += f"; {rounds['extended_to'] - rounds['trained']:,} more were trained for this check"
        elif rounds["trained"] > rounds["best_round"]:
            line += f" of the {rounds['trained']:,} it trained"
        after = np.asarray(rounds["valid_error"])[np.asarray(rounds["rounds"]) > rounds["best_round"]]
        if len(after):
            line += (
                ", and validation kept improving after it" if improving else ", and validation did not improve after it"
            )
        else:
            line += "; no later rounds could be checked (not enough time), so a cut-short run cannot be ruled out"
        evidence.append(line)
    more_data = _data_trend(size, scale)
    if more_data is not None:
        evidence.append(more_data[1])

    advice: list[str] = []
    if improving:
        label = "under-fitting"
        headline = "training stopped while the validation score was still improving"
        advice += ["give the fit a larger budget so boosting can run longer", "or raise the learning rate"]
    elif gap > OVER_GAP:
        label = "over-fitting"
        headline = "the model fits its training rows far better than rows it has not seen"
        advice += [
            "regularise: fewer leaves or shallower trees, more rows per leaf, stronger L2, lower learning rate",
            "more training rows, if they can be had",
            "drop noisy or identifier-like columns",
        ]
    elif gain_tr < UNDER_TRAIN_GAIN and gap < MILD_GAP:
        label = "under-fitting"
        headline = "the model does about as poorly on its training rows as on new ones"
        advice += [
            "more capacity: more leaves or depth, more rounds, less regularisation",
            "better features: the columns may carry little signal about the target",
        ]
    else:
        label = "fine"
        headline = "training and validation agree well enough; no sign of under- or over-fitting"
        if gap > MILD_GAP:
            headline = "a moderate gap between training and validation, usual for boosted trees"
    if more_data is not None and more_data[0]:
        advice.append("the size curve is still rising: more training rows would likely help")
    elif more_data is not None and label != "over-fitting":
        advice.append("the size curve has flattened: more rows of the same kind will help little")
    return {
        "label": label,
        "headline": headline,
        "evidence": evidence,
        "advice": advice,
        "gain_train": gain_tr,
        "gain_valid": gain_va,
    }


def _still_improving(rounds: dict, scale: float) -> bool:
    """Did validation keep falling after the round training stopped at? Read from the rounds
    trained past it (kept by the library, or trained on as an experiment); without any, no
    evidence either way."""
    r, v = np.asarray(rounds["rounds"]), np.asarray(rounds["valid_error"])
    best = rounds["best_round"]
    if r[-1] <= best or best not in r:
        return False
    return (v[r == best][0] - v[-1]) / scale > 0.005


def _data_trend(size: dict, scale: float) -> tuple[bool, str] | None:
    """(still rising?, words) from the last two sizes of the size curve, per doubling of rows."""
    pts = [p for p in size["points"] if np.isfinite(p["valid_error"])]
    if len(pts) < 2:
        return None
    a, b = pts[-2], pts[-1]
    doublings = np.log2(b["n"] / a["n"]) if b["n"] > a["n"] else 0
    if doublings <= 0:
        return None
    per_doubling = (a["valid_error"] - b["valid_error"]) / scale / doublings
    words = (
        f"going from {a['n']:,} to {b['n']:,} training rows gained {per_doubling:+.1%} of the possible "
        "improvement per doubling"
    )
    return per_doubling > 0.01, words


def prior_error(y_train, y_valid, task, metric) -> float:
    """The trivial baseline's error on the validation rows: the scale the verdict reads on."""
    raw = prior_raw(fit_prior(y_train, task), len(y_valid), task)
    try:
        return float(metric.error(y_valid, raw, task.n_classes))
    except ValueError:
        return float("nan")
