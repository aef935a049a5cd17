"""Monitoring a deployed model: what it was asked, whether that still looks like its training
data, how well it does once the truth is known, and who to tell.

    PredictionLog      log.py          predictions, inputs and later labels, in the registry database
    monitor            check.py        recent rows (file or frame) vs the training reference
    monitor_log        check.py        the same on a window of the prediction log
    detect_drift       drift.py        the column-by-column and multivariate drift checks, and when they fire
    performance_over_time  performance.py  the metric per window with intervals, against the training estimate
    Alert, to_webhook  alerts.py       alerts in words, to the log, a webhook, the exit status
    write_page         page.py         one self-contained HTML page of a run
    router, LogPredictions  routes.py  the REST endpoints and the server hook (FastAPI)
    reference.py                       the training reference saved in every model folder

Exit codes of `assay monitor` (defined in alerts.py):
    0  nothing fired
    3  an alert fired (drift, missing values, unseen categories, predictions, labels, performance)
    2  a user error: bad arguments, unreadable data, a model without a reference (AssayError)
    1  an unexpected failure (a bug; the traceback is printed)
"""

from assay.monitor.alerts import EXIT_ALERT, EXIT_FAILURE, EXIT_OK, EXIT_USER_ERROR, Alert, to_log, to_webhook
from assay.monitor.check import MonitorResult, monitor, monitor_log
from assay.monitor.drift import DriftReport, Thresholds, detect_drift
from assay.monitor.log import PredictionLog, UnknownRequestError
from assay.monitor.performance import PerformanceReport, performance_over_time

__all__ = [
    "EXIT_ALERT",
    "EXIT_FAILURE",
    "EXIT_OK",
    "EXIT_USER_ERROR",
    "Alert",
    "DriftReport",
    "MonitorResult",
    "PerformanceReport",
    "PredictionLog",
    "Thresholds",
    "UnknownRequestError",
    "detect_drift",
    "monitor",
    "monitor_log",
    "performance_over_time",
    "to_log",
    "to_webhook",
]
