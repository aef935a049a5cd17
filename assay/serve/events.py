"""What the server tells the rest of the system after each prediction: one PredictionEvent.

Monitoring (assay.monitor) must not be imported by serve, and serve must not wait for it, so the
server only knows "callables that take an event". Plug one in with

    create_app(source, on_predict=[my_hook])      # my_hook(event: PredictionEvent) -> None

A hook runs after the answer has gone out (JSON and CSV predictions: as a Starlette background
task) or after each streamed chunk has been sent (the streaming endpoint: one event per chunk,
all with the request's id, `row_offset` saying where the chunk starts). A hook that raises is
logged on the "assay.serve" logger and the request is unaffected; a slow hook delays nothing the
client waits for, except the next chunk of a stream (which bounds memory: no queue of chunks).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import pandas as pd

log = logging.getLogger("assay.serve")


@dataclass(frozen=True)
class PredictionEvent:
    """One successful prediction request (or one chunk of a streamed one).

    inputs: the rows as received (before cleaning), one per prediction, columns as sent.
    predictions: labels (classification) or values (regression), plain Python, one per row.
    probabilities: one column per class (classification), index aligned with `inputs`; else None.
    source: "json", "csv" (an uploaded file answered in one response) or "stream".
    """

    model: str
    version: int | None
    request_id: str
    inputs: pd.DataFrame
    predictions: list
    probabilities: pd.DataFrame | None
    source: str
    row_offset: int = 0  # rows of the same request before these (streamed chunks)
    timestamp: float = field(default_factory=time.time)  # seconds since the epoch, when predicted


PredictionHook = Callable[[PredictionEvent], None]


def emit(hooks: Iterable[PredictionHook], event: PredictionEvent) -> None:
    """Call every hook; a failing hook is logged and never reaches the client or the next hook."""
    for hook in hooks:
        try:
            hook(event)
        except Exception:  # a monitoring bug must not fail or slow down a prediction
            log.exception("on_predict hook %r failed for request %s", getattr(hook, "__name__", hook), event.request_id)
