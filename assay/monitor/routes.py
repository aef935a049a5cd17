"""Monitoring over REST, for `assay serve`: the feedback endpoint, the drift endpoint and its
page, and the hook that logs every prediction the server makes.

    log = PredictionLog(registry_url, sample_rate=0.2, seed=0)
    app = create_app(source, routers=[monitor_router(log)], on_predict=[LogPredictions(log)])

    POST /v1/models/{name}/feedback   {"request_id": "...", "labels": [...], "rows": [...]?}
                                      or [{"request_id": "...", "row": 0, "label": ...}, ...]
    POST /v1/models/{name}/monitor    {"records": [...]} to compare uploaded rows, or
                                      {"since": "24h", "until": ..., "limit": ..., "version": ...}
                                      for the logged window; thresholds and "every" optional
    GET  /v1/models/{name}/monitor.html   the same as a page (query parameters since, until, limit)

create_app puts every route behind the server's token check. The routes are plain `def`s: FastAPI
runs them in its thread pool, so a drift check (about a second) never blocks the event loop.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from fastapi import APIRouter, Body, Depends, HTTPException, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from assay.monitor.check import DEFAULT_LIMIT, monitor, monitor_log
from assay.monitor.drift import Thresholds
from assay.monitor.log import PredictionLog, UnknownRequestError
from assay.serve.deps import get_model, get_state
from assay.serve.events import PredictionEvent
from assay.serve.store import LoadedModel


class LogPredictions:
    """An on_predict hook: writes each PredictionEvent to the PredictionLog. Recording only
    queues the rows (the log's writer thread does the database work), so it costs the server
    well under a millisecond per request."""

    quick = True  # only queues: the server may run it on the event loop (assay.serve.events)

    def __init__(self, log: PredictionLog):
        self.log = log
        self.__name__ = "LogPredictions"  # how serve's hook errors name it

    def __call__(self, event: PredictionEvent) -> None:
        self.log.record(
            event.model,
            event.version,
            event.inputs,
            event.predictions,
            event.probabilities,
            request_id=event.request_id,
            source=event.source,
            row_offset=event.row_offset,
            timestamp=event.timestamp,
        )


class FeedbackRow(BaseModel):
    request_id: str = Field(..., max_length=128, description="the id the prediction was answered with")
    row: int = Field(0, ge=0, description="the row within that request, from 0")
    label: Any = Field(..., description="the true label (a class, or a number for regression)")


class FeedbackRequest(BaseModel):
    request_id: str = Field(..., max_length=128, description="the id the prediction was answered with")
    labels: list[Any] = Field(..., min_length=1, description="true labels, one per row predicted")
    rows: list[int] | None = Field(None, description="the rows the labels belong to (default: 0, 1, ...)")


class FeedbackResponse(BaseModel):
    model: str
    labelled: int = Field(..., description="rows that got their label (0 for a request the log sampled out)")


class MonitorRequest(BaseModel):
    records: list[dict[str, Any]] | None = Field(
        None, description="recent rows to compare (with the target column, performance too); else the logged window"
    )
    since: str | None = Field(None, description="logged window: from this ISO time or age (24h, 7d)")
    until: str | None = Field(None, description="logged window: up to this ISO time or age")
    limit: int | None = Field(DEFAULT_LIMIT, ge=1, description="logged window: at most this many most recent rows")
    version: str | None = Field(None, description="logged window: only this model version ('current': the one served)")
    alpha: float | None = None
    psi: float | None = None
    distance: float | None = None
    auc: float | None = None
    multivariate: bool = True
    every: str | None = Field(None, description="performance per time window, e.g. 1D")
    rows: int | None = Field(None, ge=1, description="performance per window of this many labelled rows")
    threshold: float | None = Field(None, description="alert when the metric is worse than this")


def monitor_router(log: PredictionLog) -> APIRouter:
    router = APIRouter(tags=["monitor"])

    @router.post("/v1/models/{name}/feedback", response_model=FeedbackResponse)
    def feedback(
        name: str,
        request: Request,
        body: FeedbackRequest | list[FeedbackRow] = Body(...),
        model: LoadedModel = Depends(get_model),
    ) -> FeedbackResponse:
        """Attach true labels to logged predictions, by request id. Sending again overwrites."""
        if isinstance(body, list):
            frame = pd.DataFrame([r.model_dump() for r in body], columns=["request_id", "row", "label"])
            call = lambda: log.feedback_many(model.name, frame)  # noqa: E731
            named = {r.request_id for r in body}
        else:
            call = lambda: log.feedback(model.name, body.request_id, body.labels, body.rows)  # noqa: E731
            named = {body.request_id}
        # the prediction is logged by a hook that runs after its answer went out: a label sent
        # the moment the answer arrived must wait for that, or it would find no logged row
        get_state(request).in_flight.settle(named)
        try:
            return FeedbackResponse(model=model.name, labelled=call())
        except UnknownRequestError as exc:
            raise HTTPException(404, str(exc)) from None

    @router.post("/v1/models/{name}/monitor")
    def drift(name: str, body: MonitorRequest | None = None, model: LoadedModel = Depends(get_model)) -> dict:
        """Drift of uploaded rows, or of the logged window, against the model's training data;
        the JSON `assay monitor --json` writes."""
        return _run(log, model, body or MonitorRequest()).to_dict()

    @router.get("/v1/models/{name}/monitor.html", response_class=HTMLResponse)
    def page(
        name: str,
        since: str | None = Query(None),
        until: str | None = Query(None),
        limit: int = Query(DEFAULT_LIMIT, ge=1),
        model: LoadedModel = Depends(get_model),
    ) -> HTMLResponse:
        """The monitoring page of the logged window (self-contained HTML)."""
        from assay.monitor.page import render_page

        result = _run(log, model, MonitorRequest(since=since, until=until, limit=limit))
        return HTMLResponse(render_page(result.to_dict()))

    return router


def _run(log: PredictionLog, model: LoadedModel, body: MonitorRequest):
    shared = dict(
        thresholds=Thresholds.given(alpha=body.alpha, psi=body.psi, distance=body.distance, auc=body.auc),
        multivariate=body.multivariate,
        every=body.every,
        rows=body.rows,
        threshold=body.threshold,
    )
    if body.records is not None:
        return monitor(model.predictor, pd.DataFrame(body.records), name=model.name, **shared)
    version = model.version if body.version == "current" else body.version
    return monitor_log(
        model.predictor, log, model.name, version=version, since=body.since, until=body.until, limit=body.limit,
        **shared,
    )  # fmt: skip
