"""Alerts and where they go: the log, a webhook, and the command's exit status.

An alert is a finding someone should act on, said in words ("age: distribution shifted, PSI 0.31
...") with the numbers beside it for machines. Sinks never raise: a webhook that is down must
not turn a monitoring run that found drift into one that crashed and said nothing, so a failed
delivery is logged and returned, and the run goes on.

Exit codes of `assay monitor` (the one place they are defined; README and the package docstring
repeat them): 0 nothing fired, 3 an alert fired, 2 a user error (AssayError), 1 an unexpected
failure.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass, field

from assay.errors import ConfigError, problem

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USER_ERROR = 2
EXIT_ALERT = 3

log = logging.getLogger("assay.monitor")


@dataclass(frozen=True)
class Alert:
    kind: str  # drift | missing | unseen | prediction | target | multivariate | performance
    subject: str  # the feature, "prediction", "rows" (multivariate) or the metric
    message: str  # the finding in words, numbers included
    values: dict = field(default_factory=dict)  # the numbers behind it, for machines

    def to_dict(self) -> dict:
        return asdict(self)


def exit_code(alerts) -> int:
    return EXIT_ALERT if alerts else EXIT_OK


def to_log(alerts, *, model: str | None = None, logger: logging.Logger = log) -> None:
    """One WARNING per alert on the "assay.monitor" logger (a server's log handlers pick them up)."""
    for alert in alerts:
        logger.warning("%s%s", f"[{model}] " if model else "", alert.message)


@dataclass(frozen=True)
class Delivery:
    ok: bool
    status: int | None
    error: str | None = None


def to_webhook(url: str, alerts, *, model: str | None = None, extra: dict | None = None, timeout: float = 5.0):
    """POST {"model", "created", "alerts": [...], ...extra} as JSON to `url`. Never raises on a
    failed delivery: the failure is logged and returned as a Delivery."""
    check_webhook(url)
    body = {
        "model": model,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "n_alerts": len(alerts),
        "alerts": [a.to_dict() for a in alerts],
        **(extra or {}),
    }
    request = urllib.request.Request(
        url,
        data=json.dumps(body, default=str).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "assay-monitor"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (the scheme is checked)
            return Delivery(True, response.status)
    except urllib.error.HTTPError as exc:
        log.error("webhook %s answered HTTP %s; %d alert(s) not delivered", url, exc.code, len(alerts))
        return Delivery(False, exc.code, f"HTTP {exc.code}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        log.error("webhook %s unreachable (%s); %d alert(s) not delivered", url, reason, len(alerts))
        return Delivery(False, None, str(reason))


def check_webhook(url: str) -> None:
    """Only http(s) URLs: urllib would also open file:// and ftp:// ones."""
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        raise ConfigError(
            problem(f"webhook URL {url!r} is not http(s)", where="--webhook", fix="pass an http:// or https:// URL")
        )
