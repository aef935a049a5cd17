"""POST /v1/models/{name}/predict (JSON records or one uploaded table, answered in one JSON body)
and POST /v1/models/{name}/predict/stream (a large table in, CSV predictions streamed out).

The streaming endpoint spools the upload to a temporary file (within --max-body-mb), predicts it
chunk by chunk with assay.stream (the same code as `assay predict --chunk-rows`: the contract is
checked across the whole file, and nothing is answered until every chunk has succeeded, so an
error is a clean 422 rather than a truncated file), writes the predictions to a Parquet file
beside it, and streams that back as CSV a chunk at a time. Memory stays bounded by the chunk size
on the way in and on the way out; the prediction hooks get one event per chunk afterwards.
"""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
from pathlib import Path

import pandas as pd
from fastapi import APIRouter, BackgroundTasks, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import ValidationError
from starlette.background import BackgroundTask

from assay.serve.answers import event, predict_rows, records_frame
from assay.serve.deps import get_model, get_state, request_id
from assay.serve.events import PredictionEvent, all_quick, emit, emit_tracked, emit_tracked_here
from assay.serve.schemas import ErrorBody, PredictRequest, PredictResponse
from assay.serve.store import LoadedModel
from assay.serve.uploads import FILE_TYPES, media_type, paths_hidden, spool

router = APIRouter(tags=["predict"])

_TABLE_BODY = {
    "text/csv": {"schema": {"type": "string", "format": "binary"}},
    "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}},
    "multipart/form-data": {
        "schema": {
            "type": "object",
            "properties": {"file": {"type": "string", "format": "binary"}},
            "required": ["file"],
        }
    },
}
_ERRORS = {
    401: {"model": ErrorBody, "description": "no token, or an invalid or revoked one"},
    404: {"model": ErrorBody, "description": "no such model served here"},
    413: {"model": ErrorBody, "description": "body or number of records over the server's limits"},
    415: {"model": ErrorBody, "description": "a body that is neither JSON nor " + FILE_TYPES},
    422: {"model": ErrorBody, "description": "rows that do not fit the model's input schema, one error per field"},
}
_SCALAR_TAGS = {"str", "int", "float", "bool"}
INLINE_ROWS = 32  # requests with at most this many rows are predicted on the event loop itself
STRICT = Query(False, description="refuse values of the wrong type and unknown columns instead of working around them")


@router.post(
    "/v1/models/{name}/predict",
    response_model=PredictResponse,
    responses=_ERRORS,
    summary="Predict rows given as JSON records or as one uploaded CSV / Parquet table",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": PredictRequest.model_json_schema()}, **_TABLE_BODY},
        }
    },
)
async def predict(
    request: Request,
    background: BackgroundTasks,
    model: LoadedModel = Depends(get_model),
    rid: str = Depends(request_id),
    strict: bool = STRICT,
    explain: bool = Query(False, description="add each row's baseline and per-column contributions"),
):
    state = get_state(request)
    limit = state.limits.max_records
    if media_type(request) in ("application/json", ""):
        try:
            body = PredictRequest.model_validate_json(await request.body())
        except ValidationError as exc:
            raise RequestValidationError(_body_errors(exc)) from None
        if not body.records:
            raise HTTPException(422, 'records is empty: send at least one row, e.g. {"records": [{...}]}')
        if len(body.records) > limit:
            raise HTTPException(
                413,
                f"{len(body.records):,} records is more than {limit:,} per request: "
                "split them, or send a CSV to /v1/models/NAME/predict/stream",
            )
        frame, source, lines = records_frame(body.records), "json", None
    else:
        frame, lines = await _read_upload(request, limit)
        source = "csv"
    work = functools.partial(
        predict_rows, model, frame, strict=strict, explain=explain, request_id=rid, line_offset=lines
    )
    # A few rows take about a millisecond of pure-Python CPU: a hop to a worker thread would only add
    # its own cost (the GIL lets one of them run at a time anyway). More rows go to a worker thread
    # so the event loop stays free to answer /health and read other requests meanwhile.
    answer = work() if len(frame) <= INLINE_ROWS and not explain else await run_in_threadpool(work)
    if state.hooks:
        state.in_flight.begin(rid)  # until the hooks have run: feedback for `rid` waits for them
        here = len(frame) <= INLINE_ROWS and all_quick(state.hooks)  # no thread hop for queueing a few rows
        emitter = emit_tracked_here if here else emit_tracked
        background.add_task(emitter, state.in_flight, state.hooks, event(model, rid, frame, answer, source))
    return JSONResponse(answer.body, headers={"X-Request-ID": rid})


def _body_errors(exc: ValidationError) -> list[dict]:
    """Pydantic's errors under "body"; a value that is none of a record's scalar types gets one
    error naming its record and field, not one per type it failed to be."""
    out, seen = [], set()
    for e in exc.errors(include_url=False, include_context=False):
        loc = e["loc"]
        if len(loc) == 4 and loc[0] == "records" and loc[3] in _SCALAR_TAGS:
            if loc[:3] in seen:
                continue
            seen.add(loc[:3])
            e = {
                "type": "scalar_type",
                "msg": "a value must be a string, number, boolean or null",
                "input": e["input"],
                "loc": loc[:3],
            }
        out.append({**e, "loc": ("body", *e["loc"])})
    return out


async def _read_upload(request: Request, limit: int) -> tuple[pd.DataFrame, int | None]:
    from assay.data.read import read_with_report

    folder = Path(tempfile.mkdtemp(prefix="assay-upload-"))
    try:
        path = await spool(request, folder)
        with paths_hidden(folder):
            frame, report = await run_in_threadpool(read_with_report, path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if len(frame) > limit:
        raise HTTPException(
            413,
            f"{len(frame):,} rows is more than {limit:,} per request: "
            "send the file to /v1/models/NAME/predict/stream instead",
        )
    clean_lines = report.format in ("csv", "tsv") and not (report.rejected or report.comment_lines)
    return frame, 2 if clean_lines else None


@router.post(
    "/v1/models/{name}/predict/stream",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}}, "description": "predicted_<target> (and proba_<class>) per row"},
        **_ERRORS,
    },
    summary="Predict a large CSV / Parquet upload chunk by chunk; CSV predictions streamed back",
    openapi_extra={"requestBody": {"required": True, "content": _TABLE_BODY}},
)
async def predict_stream(
    request: Request,
    model: LoadedModel = Depends(get_model),
    rid: str = Depends(request_id),
    strict: bool = STRICT,
    proba: bool = Query(False, description="add a proba_<class> column per class (classification)"),
):
    state = get_state(request)
    folder = Path(tempfile.mkdtemp(prefix="assay-stream-"))
    try:
        src = await spool(request, folder)
        classify = model.predictor.info["task"]["kind"] != "regression"
        with paths_hidden(folder):
            result = await run_in_threadpool(
                model.predictor.predict_file,
                src,
                folder / "predictions.parquet",
                chunk_rows=state.limits.chunk_rows,
                proba=classify,
                strict=strict,
            )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    warnings = [i.describe(result.report.line_offset) for i in result.report.issues]
    headers = {
        "X-Request-ID": rid,
        "X-Assay-Rows": str(result.n_rows),
        "X-Assay-Warnings": json.dumps(warnings[:20])[:4000],  # ASCII: json escapes the rest
        "Content-Disposition": f'attachment; filename="{model.name}-predictions.csv"',
    }
    if model.version is not None:
        headers["X-Model-Version"] = str(model.version)
    target = f"predicted_{model.predictor.target}"
    if state.hooks:
        state.in_flight.begin(rid)  # ended by _after_stream once the chunk events are out
    return StreamingResponse(
        _csv(result.path, target, proba, state.limits.chunk_rows),
        media_type="text/csv",
        headers=headers,
        background=BackgroundTask(_after_stream, state, model, rid, src, result.path, folder, state.limits.chunk_rows),
    )


def _csv(path: Path, target: str, proba: bool, rows: int):
    """The Parquet predictions as CSV text, one chunk at a time (a sync generator: Starlette runs
    it in a worker thread, so pandas' formatting never blocks the event loop). A client that hangs
    up stops it early, and then no background task runs: the files go here instead."""
    import pyarrow.parquet as pq

    header, done = True, False
    try:
        with pq.ParquetFile(path) as reader:
            for batch in reader.iter_batches(batch_size=rows):
                frame = batch.to_pandas()
                if not proba:
                    frame = frame[[target]]
                yield frame.to_csv(index=False, header=header)
                header = False
        done = True
    finally:
        if not done:
            shutil.rmtree(path.parent, ignore_errors=True)


def _after_stream(
    state, model: LoadedModel, rid: str, src: Path, predictions: Path, folder: Path, chunk_rows: int
) -> None:
    """After the response: one PredictionEvent per chunk (inputs re-read in the same chunks), then
    the temporary files go."""
    try:
        if state.hooks:
            _stream_events(state.hooks, model, rid, src, predictions, chunk_rows)
    finally:
        if state.hooks:
            state.in_flight.end(rid)
        shutil.rmtree(folder, ignore_errors=True)


def _stream_events(hooks, model: LoadedModel, rid: str, src: Path, predictions: Path, chunk_rows: int) -> None:
    import pyarrow.parquet as pq

    from assay.data.chunks import iter_chunks

    target = f"predicted_{model.predictor.target}"
    offset = 0
    with pq.ParquetFile(predictions) as reader:
        outputs = reader.iter_batches(batch_size=1 << 16)
        pending = pd.DataFrame()
        for chunk in iter_chunks(src, chunk_rows):
            while len(pending) < len(chunk):
                pending = pd.concat([pending, next(outputs).to_pandas()], ignore_index=True)
            out, pending = pending.iloc[: len(chunk)], pending.iloc[len(chunk) :].reset_index(drop=True)
            proba = out.drop(columns=[target])
            proba.columns = [c.removeprefix("proba_") for c in proba.columns]
            proba.index = chunk.index
            emit(
                hooks,
                PredictionEvent(
                    model.name,
                    model.version,
                    rid,
                    chunk,
                    out[target].tolist(),
                    proba if len(proba.columns) else None,
                    "stream",
                    offset,
                ),
            )
            offset += len(chunk)
