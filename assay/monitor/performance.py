"""Performance over time, once true labels arrive: the model's metric per window, each with a 95 %
bootstrap interval (assay.evaluate.uncertainty, the same resampling the fit report uses).

A window alerts when its metric is worse than a threshold the user sets, or when its interval
lies wholly on the worse side of the training estimate (the out-of-fold validation score the
model was chosen on): the model is then doing worse than it did when it was chosen, by more than
the window's own noise. By default only the latest window (with enough rows) can alert: it is
the state of the model now, and letting each of thirty past windows alert would give thirty
chances of a false alarm; the table still marks every window that would have.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from assay.errors import ConfigError, TargetError, problem
from assay.evaluate.metrics import Metric
from assay.evaluate.uncertainty import metric_interval
from assay.monitor.alerts import Alert

MIN_ROWS = 30  # a window with fewer labelled rows gets no interval and cannot alert


@dataclass
class Window:
    start: str
    end: str
    n: int
    value: float | None
    low: float | None
    high: float | None
    worse: bool = False  # the rule holds for this window
    reason: str | None = None

    def to_dict(self) -> dict:
        return {k: _json(v) for k, v in asdict(self).items()}


@dataclass
class PerformanceReport:
    metric: str
    greater_is_better: bool
    windows: list[Window]
    training: dict | None
    threshold: float | None
    alerts: list[Alert] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def fired(self) -> bool:
        return bool(self.alerts)

    def to_dict(self) -> dict:
        return {
            "metric": self.metric,
            "greater_is_better": self.greater_is_better,
            "training": self.training,
            "threshold": self.threshold,
            "windows": [w.to_dict() for w in self.windows],
            "alerts": [a.to_dict() for a in self.alerts],
            "notes": list(self.notes),
        }


def performance_over_time(
    metric: Metric,
    y: np.ndarray,
    raw: np.ndarray,
    *,
    n_classes: int = 0,
    times=None,
    every: str | None = None,
    rows: int | None = None,
    training: dict | None = None,
    threshold: float | None = None,
    alert_on: str = "last",
    seed: int = 0,
) -> PerformanceReport:
    """The metric per window of labelled rows: by time with `every` (a pandas frequency such as
    "1D", "6h", "1W") and `times`, else by `rows` consecutive rows, else one window of all rows.
    y: encoded labels; raw: probabilities (n, K) or values (n,), as the model's metrics take them."""
    if alert_on not in ("last", "all"):
        raise ConfigError(
            problem(f"alert_on must be 'last' or 'all', not {alert_on!r}", where="alert_on", fix="'last'")
        )
    y, raw = np.asarray(y), np.asarray(raw, dtype=float)
    report = PerformanceReport(metric.name, metric.greater_is_better, [], training, threshold)
    for label_start, label_end, idx in _windows(len(y), times, every, rows):
        window = Window(label_start, label_end, len(idx), None, None, None)
        if len(idx) >= MIN_ROWS:
            iv = metric_interval(metric, y[idx], raw[idx], n_classes, seed=seed)
            window.value, window.low, window.high = _num(iv.value), _num(iv.low), _num(iv.high)
            window.worse, window.reason = _judge(window, metric, training, threshold)
        else:
            window.reason = f"fewer than {MIN_ROWS} labelled rows: not judged"
        report.windows.append(window)
    judged = [w for w in report.windows if w.value is not None]
    if not judged:
        report.notes.append(f"no window has {MIN_ROWS} or more labelled rows: performance not judged")
    candidates = judged[-1:] if alert_on == "last" else judged
    for w in candidates:
        if w.worse:
            values = {"window_start": w.start, "window_end": w.end, "value": w.value, "low": w.low, "high": w.high}
            report.alerts.append(Alert("performance", metric.name, w.reason, values))
    return report


def encode_labels(task, labels: pd.Series) -> np.ndarray:
    """Labels as the model's metrics take them. Classes match by their spelling, so a label sent
    back as "1" (from a CSV or JSON) is the class 1."""
    if not task.is_classification:
        values = pd.to_numeric(pd.Series(labels), errors="coerce")
        if values.isna().any():
            raise TargetError(
                problem(
                    "some labels are not numbers", where="feedback labels", fix="send numeric labels for regression"
                )
            )
        return values.to_numpy(dtype=float)
    index = {class_key(c): i for i, c in enumerate(task.classes)}
    codes = pd.Series(labels).map(lambda v: index.get(class_key(v)))
    if codes.isna().any():
        unseen = sorted({str(v) for v, c in zip(labels, codes, strict=True) if pd.isna(c)})[:5]
        raise TargetError(
            problem(
                f"labels name classes the model does not know: {unseen}",
                where="feedback labels",
                fix=f"labels must be among {list(task.classes)[:10]}",
            )
        )
    return codes.to_numpy(dtype=np.int64)


def _judge(w: Window, metric: Metric, training: dict | None, threshold: float | None) -> tuple[bool, str | None]:
    gib = metric.greater_is_better
    span = f"{w.start} to {w.end}" if w.start != w.end else w.start
    shown = f"{metric.name} {w.value:.4g}" + (
        f" (95% interval {w.low:.4g} to {w.high:.4g})" if w.low is not None else ""
    )
    if threshold is not None and (w.value < threshold if gib else w.value > threshold):
        side = "below" if gib else "above"
        return True, f"performance {span}: {shown}, {side} the threshold {threshold:g} ({w.n} labelled rows)"
    estimate = None if training is None else training.get("value")
    if estimate is not None and w.low is not None and ((w.high < estimate) if gib else (w.low > estimate)):
        return True, (
            f"performance {span}: {shown} is worse than the training estimate {estimate:.4g} "
            f"beyond its interval ({w.n} labelled rows)"
        )
    return False, None


def _windows(n: int, times, every: str | None, rows: int | None):
    """(start label, end label, row indices) per window, in time order."""
    if every is not None:
        if times is None:
            raise ConfigError(
                problem("windows by time need a time for each row", where="--every", fix="pass --time-col, or --rows")
            )
        stamps = pd.to_datetime(pd.Series(times).reset_index(drop=True), utc=True, errors="coerce")
        if stamps.isna().all():
            raise ConfigError(
                problem("no readable times for the windows", where="--time-col", fix="an ISO date column")
            )
        try:
            groups = stamps.groupby(stamps.dt.floor(every), sort=True).groups
        except ValueError as exc:
            raise ConfigError(
                problem(f"unknown window length {every!r}", where="--every", fix="e.g. 1h, 6h, 1D, 7D")
            ) from exc
        for key, idx in groups.items():
            end = key + pd.tseries.frequencies.to_offset(every)
            yield key.isoformat(), end.isoformat(), np.asarray(idx)
        return
    if rows is not None and (not isinstance(rows, int) or rows < 1):
        raise ConfigError(problem(f"rows per window must be >= 1, got {rows!r}", where="--rows", fix="e.g. 1000"))
    size = rows or max(n, 1)
    for start in range(0, n, size):
        stop = min(start + size, n)
        labels = [f"row {start}", f"row {stop - 1}"]
        if times is not None:
            stamps = pd.to_datetime(pd.Series(times).iloc[[start, stop - 1]], utc=True, errors="coerce")
            labels = [f"{lab} ({_stamp(t)})" if not pd.isna(t) else lab for lab, t in zip(labels, stamps, strict=True)]
        yield labels[0], labels[1], np.arange(start, stop)


def _stamp(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M")


def class_key(value) -> str:
    """One spelling per class: 1, 1.0 and "1" are the same label (a CSV or JSON round trip changes types)."""
    if isinstance(value, bool | np.bool_):
        return str(bool(value))
    try:
        number = float(value)
    except (TypeError, ValueError):
        return str(value)
    return str(int(number)) if math.isfinite(number) and number.is_integer() else str(number)


def _num(v) -> float | None:
    return None if v is None or not math.isfinite(v) else float(v)


def _json(v):
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v
