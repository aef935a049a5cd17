"""What the server tells the rest of the system after each prediction: one PredictionEvent.

Monitoring (assay.monitor) must not be imported by serve, and serve must not wait for it, so the
server only knows "callables that take an event". Plug one in with

    create_app(source, on_predict=[my_hook])      # my_hook(event: PredictionEvent) -> None

A hook runs after the answer has gone out (JSON and CSV predictions: as a Starlette background
task, on a worker thread; a hook with `quick = True`, one that only queues the event, runs on
the event loop itself for requests of a few rows, where the hop to a thread cost more than the
hook) or after each streamed chunk has been sent (the streaming endpoint: one event per chunk,
all with the request's id, `row_offset` saying where the chunk starts). A hook that raises is
logged on the "assay.serve" logger and the request is unaffected; a slow hook delays nothing the
client waits for, except the next chunk of a stream (which bounds memory: no queue of chunks).
A route that reads what a hook writes (feedback on logged predictions) first waits for the
request's hooks: `state.in_flight.settle([request_id])` (InFlight below).
"""

from __future__ import annotations

import logging
import threading
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


class InFlight:
    """Request ids whose hooks have not run to the end yet.

    Hooks run after the answer has gone out, so a client can act on an answer before the hooks
    have seen it: feedback for a request id sent the moment its prediction arrives would find no
    logged row and be refused (or, worse, be counted as sampled out). A route that reads what
    hooks write calls `settle(ids)` first; ids not in flight cost nothing. An entry whose hooks
    never ran (the client hung up before the background task started) stops counting after
    `max_age` seconds, and is then forgotten."""

    def __init__(self, max_age: float = 30.0):
        self.max_age = float(max_age)
        self._cond = threading.Condition()
        self._ids: dict[str, tuple[int, float]] = {}  # request id -> (hooks pending, since when)

    def begin(self, request_id: str) -> None:
        now = time.monotonic()
        with self._cond:
            if len(self._ids) > 10_000:
                self._ids = {k: v for k, v in self._ids.items() if now - v[1] < self.max_age}
            count, _ = self._ids.get(request_id, (0, now))
            self._ids[request_id] = (count + 1, now)

    def end(self, request_id: str) -> None:
        with self._cond:
            count, since = self._ids.get(request_id, (1, 0.0))
            if count <= 1:
                self._ids.pop(request_id, None)
            else:
                self._ids[request_id] = (count - 1, since)
            self._cond.notify_all()

    def settle(self, request_ids: Iterable[str], timeout: float = 5.0) -> bool:
        """Wait until no hook of these requests is still running; False if `timeout` passed first."""
        wanted = set(request_ids)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                now = time.monotonic()
                busy = [r for r in wanted if r in self._ids and now - self._ids[r][1] < self.max_age]
                if not busy:
                    return True
                if now >= deadline:
                    return False
                self._cond.wait(deadline - now)


def emit_tracked(in_flight: InFlight, hooks: Iterable[PredictionHook], event: PredictionEvent) -> None:
    """emit, then mark the event's request as done with its hooks (see InFlight)."""
    try:
        emit(hooks, event)
    finally:
        in_flight.end(event.request_id)


async def emit_tracked_here(in_flight: InFlight, hooks: Iterable[PredictionHook], event: PredictionEvent) -> None:
    """emit_tracked on the event loop (a coroutine: Starlette awaits it instead of sending it to a
    thread); only for quick hooks and small events (see the module docstring)."""
    emit_tracked(in_flight, hooks, event)


def all_quick(hooks: Iterable[PredictionHook]) -> bool:
    """Do all these hooks promise to return at once (`quick = True`)?"""
    return all(getattr(hook, "quick", False) for hook in hooks)
