"""One monitoring run: recent rows (a file, a frame, or a window of the prediction log) against
the model's training reference, giving drift, performance when labels are there, and alerts.

The recent rows go through the model's own cleaning and input contract first, so a column the
model reads as a number is compared as a number, and a value it cannot read counts as missing
(which the missing-rate check then sees). This reads the fitted predictor's parts directly
(`_contract`, `_preprocessor`, `_ensemble`): monitoring is the predictor's own package, and
cleaning twice to go through the public methods would double the cost of every run.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from assay.ensemble.calibrate import apply_temperature
from assay.errors import ConfigError, DataError, problem
from assay.evaluate.metrics import get_metric
from assay.monitor.alerts import Alert, exit_code
from assay.monitor.drift import DriftReport, Thresholds, detect_drift
from assay.monitor.performance import PerformanceReport, class_key, encode_labels, performance_over_time
from assay.monitor.reference import Reference, load_reference, reference_from_data, training_estimate

DEFAULT_LIMIT = 10_000  # logged rows read when no time range is given: the most recent ones


@dataclass
class MonitorResult:
    model: str
    drift: DriftReport
    performance: PerformanceReport | None
    reference: dict
    recent: dict
    notes: list[str] = field(default_factory=list)
    created: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))

    @property
    def alerts(self) -> list[Alert]:
        return list(self.drift.alerts) + ([] if self.performance is None else list(self.performance.alerts))

    @property
    def fired(self) -> bool:
        return bool(self.alerts)

    @property
    def exit_code(self) -> int:
        return exit_code(self.alerts)

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "created": self.created,
            "fired": self.fired,
            "alerts": [a.to_dict() for a in self.alerts],
            "reference": self.reference,
            "recent": self.recent,
            "drift": self.drift.to_dict(),
            "performance": None if self.performance is None else self.performance.to_dict(),
            "notes": list(self.notes),
        }


def monitor(
    model,
    data,
    *,
    reference=None,
    thresholds: Thresholds | None = None,
    multivariate: bool = True,
    time_column: str | None = None,
    every: str | None = None,
    rows: int | None = None,
    threshold: float | None = None,
    seed: int = 0,
    name: str | None = None,
) -> MonitorResult:
    """Drift of `data` (recent rows: a path or a DataFrame) against the model's training
    reference, or against `reference` (training rows) for folders saved without one. When the
    rows carry the target column, also the labels' drift and the model's performance on them,
    per window (`every` with `time_column`, or `rows`), judged against the training estimate
    and `threshold`."""
    predictor = _predictor(model)
    frame = _clean(predictor, data)
    target = predictor.target
    labels = frame[target] if target in frame.columns else None
    times = None
    if time_column is not None:
        if time_column not in frame.columns:
            raise DataError(
                problem(
                    f"no column {time_column!r} in the recent rows", where="--time-col", fix="name a column present"
                )
            )
        times = frame[time_column]
    options = _Options(reference, thresholds, multivariate, every, rows, threshold, seed)
    recent = {"source": _source(data), "n_rows": len(frame)}
    return _run(predictor, frame, _predict_raw(predictor, frame), labels, times, options, name or _name(model), recent)


def monitor_log(
    model,
    log,
    name: str,
    *,
    version=None,
    since=None,
    until=None,
    limit: int | None = DEFAULT_LIMIT,
    reference=None,
    thresholds: Thresholds | None = None,
    multivariate: bool = True,
    every: str | None = None,
    rows: int | None = None,
    threshold: float | None = None,
    seed: int = 0,
) -> MonitorResult:
    """monitor() on the rows `log` (a PredictionLog) holds for model `name`: the predictions the
    server actually returned are the ones compared, and the labels feedback attached give the
    performance per window (`every`, e.g. "1D", by prediction time)."""
    predictor = _predictor(model)
    window = log.window(name, version=version, since=since, until=until, limit=limit)
    if window.empty:
        raise DataError(
            problem(
                f"the prediction log holds no rows of model {name!r} in that range",
                where="--from-log",
                fix="check the name (as the server logs it) and --since/--until, or log predictions first",
            )
        )
    columns = window.attrs["columns"]
    inputs = window[window.attrs["inputs"]]
    frame = _clean(predictor, inputs)
    raw = _logged_raw(predictor, window, columns)
    if raw is None:
        raw = _predict_raw(predictor, frame)
    labels = window[columns["label"]]
    labels = None if labels.isna().all() else labels
    versions = sorted({str(v) for v in window[columns["version"]].dropna()})
    recent = {
        "source": f"prediction log ({name})",
        "n_rows": len(window),
        "n_labelled": int(0 if labels is None else labels.notna().sum()),
        "versions": versions,
        "first": window[columns["timestamp"]].min().isoformat(),
        "last": window[columns["timestamp"]].max().isoformat(),
    }
    options = _Options(reference, thresholds, multivariate, every, rows, threshold, seed)
    result = _run(predictor, frame, raw, labels, window[columns["timestamp"]], options, name, recent)
    if len(versions) > 1:
        result.notes.append(f"the window mixes model versions {', '.join(versions)}: pass --version to look at one")
    return result


@dataclass(frozen=True)
class _Options:
    reference: object
    thresholds: Thresholds | None
    multivariate: bool
    every: str | None
    rows: int | None
    threshold: float | None
    seed: int


def _run(predictor, frame, raw, labels, times, o: _Options, name: str, recent: dict) -> MonitorResult:
    ref = (
        reference_from_data(predictor, o.reference, seed=o.seed)
        if o.reference is not None
        else load_reference(predictor)
    )
    task = predictor._task
    kinds = dict(ref.kinds)
    roles: dict = {}
    ref_frame, rec_frame = ref.rows.copy(), frame[[c for c in kinds if c in frame.columns]].copy()
    notes: list[str] = []
    signal = _signal_name(predictor)
    ref_signal = _signal(task, ref.predictions)
    if ref_signal is not None:
        ref_frame[signal] = ref_signal.to_numpy()
        out_of_fold = ref.meta.get("prediction_source") == "out-of-fold"
        comparable = _fold_raw(predictor, frame, o.seed) if out_of_fold else raw
        rec_frame[signal] = _signal(task, _raw_frame(task, comparable)).to_numpy()
        kinds[signal], roles[signal] = ("categorical" if task.kind == "multiclass" else "numeric"), "prediction"
    elif o.reference is not None:
        notes.append(
            "prediction drift not measured: most reference rows were training rows, whose predictions are "
            "in-sample (pass rows the model never saw as --reference to measure it)"
        )
    else:
        notes.append("the reference has no predictions: prediction drift not measured")
    if labels is not None and ref.target is not None:
        label_name = f"label {predictor.target}" if predictor.target in kinds else predictor.target
        spell = (lambda v: v) if task.kind == "regression" else (lambda v: v if pd.isna(v) else class_key(v))
        ref_frame[label_name] = ref.target.map(spell).to_numpy()  # 1, 1.0 and "1" are one class
        rec_frame[label_name] = labels.map(spell).to_numpy()
        kinds[label_name], roles[label_name] = ("numeric" if task.kind == "regression" else "categorical"), "target"
    drift = detect_drift(
        ref_frame, rec_frame, kinds, roles=roles, thresholds=o.thresholds, multivariate=o.multivariate, seed=o.seed
    )
    performance = None
    if labels is not None:
        performance = _performance(predictor, ref, raw, labels, times, o)
    reference_info = {
        "n_rows": ref.n_rows,
        "n_train_rows": ref.meta.get("n_train_rows"),
        "predictions": ref.meta.get("prediction_source"),
        "estimate": ref.estimate,
        "source": "given" if o.reference is not None else "model folder",
    }
    return MonitorResult(name, drift, performance, reference_info, recent, notes + drift.notes)


def _performance(predictor, ref: Reference, raw, labels, times, o: _Options):
    task = predictor._task
    held = labels.notna().to_numpy()
    if not held.any():
        return None
    y = encode_labels(task, labels[held])
    metric = get_metric(predictor.info["metric"], task)
    estimate = ref.estimate or training_estimate(predictor)
    return performance_over_time(
        metric,
        y,
        raw[held],
        n_classes=task.n_classes,
        times=None if times is None else pd.Series(times).iloc[np.flatnonzero(held)],
        every=o.every,
        rows=o.rows,
        training=estimate,
        threshold=o.threshold,
        seed=o.seed,
    )


# ---- predictions ----------------------------------------------------------------------------------


def _signal_name(predictor) -> str:
    task = predictor._task
    if task.kind == "binary":
        return f"P({predictor.target}={task.classes[1]})"
    return f"predicted {predictor.target}"


def _signal(task, predictions: pd.DataFrame | None) -> pd.Series | None:
    """What prediction drift compares: binary, the probability of the second class; multiclass,
    the predicted class; regression, the value. Missing rows (no out-of-fold prediction) stay NaN."""
    if predictions is None or predictions.empty:
        return None
    if task.kind == "regression":
        return predictions.iloc[:, 0].astype(float)
    columns = [str(c) for c in task.classes]
    if any(c not in predictions.columns for c in columns):
        return None
    probs = predictions[columns].to_numpy(dtype=float)
    if task.kind == "binary":
        return pd.Series(probs[:, 1])
    held = ~np.isnan(probs).any(axis=1)
    out = pd.Series([None] * len(probs), dtype=object)
    out[held] = np.asarray(columns, dtype=object)[np.argmax(probs[held], axis=1)]
    return out


def _fold_raw(predictor, frame: pd.DataFrame, seed: int) -> np.ndarray:
    """Recent rows predicted the way the reference's out-of-fold predictions were: each row by
    one fold's models (a fold drawn at random per row, per repeat of the cross-validation, the
    same fold for every ensemble member), blended with the ensemble's weights and temperature.
    The full ensemble averages its fold models, which makes its output less extreme than any
    one fold's; compared with out-of-fold predictions it would show drift on day one."""
    ensemble = predictor._ensemble
    X = predictor._preprocessor.transform(frame.drop(columns=[predictor.target], errors="ignore"))
    repeats = max(1, int((predictor.info.get("validation") or {}).get("n_repeats") or 1))
    n_models = min(len(bag.members) for bag in ensemble.members)
    folds = max(1, n_models // repeats)
    rng = np.random.default_rng(seed)
    choices = [rng.integers(0, folds, size=len(X)) for _ in range(repeats if folds > 1 else 1)]
    blend = 0.0
    for weight, bag in zip(ensemble.weights, ensemble.members, strict=True):
        out = None
        for r, choice in enumerate(choices):
            for f in np.unique(choice):
                at = np.flatnonzero(choice == f)
                raw = bag.members[r * folds + int(f)].predict_raw(X.iloc[at])
                if out is None:
                    out = np.zeros((len(X), *raw.shape[1:]))
                out[at] += raw / len(choices)
        blend = blend + weight * out
    if ensemble.task.is_classification and ensemble.temperature != 1.0:
        blend = apply_temperature(blend, ensemble.temperature)
    return blend


def _raw_frame(task, raw: np.ndarray) -> pd.DataFrame:
    if task.is_classification:
        return pd.DataFrame(raw, columns=[str(c) for c in task.classes])
    return pd.DataFrame({"prediction": raw})


def _predict_raw(predictor, frame: pd.DataFrame) -> np.ndarray:
    X = frame.drop(columns=[predictor.target], errors="ignore")
    return predictor._ensemble.predict_raw(predictor._preprocessor.transform(X))


def _logged_raw(predictor, window: pd.DataFrame, columns: dict) -> np.ndarray | None:
    """The model output as logged: probabilities per class, or values; None when not all there."""
    task = predictor._task
    if task.is_classification:
        wanted = [f"proba_{c}" for c in task.classes]
        if not all(c in window.columns for c in wanted):
            return None
        probs = window[wanted].to_numpy(dtype=float)
        return None if np.isnan(probs).any() else probs
    values = pd.to_numeric(window[columns["prediction"]], errors="coerce")
    return None if values.isna().any() else values.to_numpy(dtype=float)


# ---- inputs ---------------------------------------------------------------------------------------


def _predictor(model):
    from assay.predictor import Predictor

    if isinstance(model, Predictor):
        return model._fitted()
    if isinstance(model, str | Path):
        return Predictor.load(model)
    raise ConfigError(problem(f"cannot monitor {type(model).__name__}", where="model", fix="a Predictor or a folder"))


def _clean(predictor, data) -> pd.DataFrame:
    """The rows as the model reads them. A column none of whose values reads as its kind is an
    error at prediction, but here it is a finding: its values are missing in the frame, so the
    missing-rate test reports it as drift. Monitoring refusing to look at bad data would hide the
    very thing it is for. A missing column still stops the check (there is nothing to compare)."""
    frame, report = predictor._contract(data, strict=False)
    report.issues = [replace(i, severity="warning") if i.issue == "unreadable_column" else i for i in report.issues]
    report.enforce(stacklevel=5)
    if len(frame) == 0:
        raise DataError(problem("no recent rows to compare", where="data", fix="give at least one row"))
    return frame.reset_index(drop=True)


def _name(model) -> str:
    if isinstance(model, str | Path):
        return Path(model).name
    folder = getattr(model, "_folder", None)
    return Path(folder).name if folder is not None else "model"


def _source(data) -> str:
    return str(data) if isinstance(data, str | Path) else f"{type(data).__name__} of {len(data):,} rows"
