"""The prediction log: what a model was asked, what it answered, and later the truth, in the
registry's database (SQLite by default, PostgreSQL by URL; the same resolution as assay.config).

One table row per predicted row: (model, request id, row) is unique, with the version, the time,
the source, the inputs as JSON, the prediction, the class probabilities, and the label once
feedback attaches it. Inputs are kept as JSON rather than columns because each model has its own
columns and a log outlives many versions of them.

A prediction must not wait on the database, so `record` only queues the rows and returns; a
background thread writes them in batches (one transaction per batch: on SQLite a single writer
lock taken per batch, not per request). `flush` waits for the queue to drain, `close` flushes
and stops the thread, and every open log is closed at interpreter exit, so a row recorded is a
row written. Feedback and reads flush first, so a label sent right after its prediction finds it.

Sampling is decided per request from a hash of (seed, request id): the same request gets the
same decision in every process and every replica that shares the seed, rows of one request
(chunks of a stream) are kept or dropped together, and feedback can tell a request that was
sampled out (ignored, 0 rows labelled) from one that never existed (an error).
"""

from __future__ import annotations

import atexit
import datetime as dt
import hashlib
import json
import logging
import math
import secrets
import threading
import time
import uuid
import weakref

import numpy as np
import pandas as pd
from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    and_,
    bindparam,
    select,
    text,
    update,
)
from sqlalchemy.exc import IntegrityError

from assay.config import Settings
from assay.errors import ConfigError, DataError, problem
from assay.registry.db import connect, reader

log = logging.getLogger("assay.monitor")
metadata = MetaData()
_SCHEMA_LOCK = 4_242_002  # PostgreSQL advisory lock: concurrent first starts create the table once
_IN_CHUNK = 500  # request ids per IN (...) clause

predictions = Table(
    "prediction_log",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("model", String(100), nullable=False),
    Column("version", String(50), nullable=True),
    Column("request_id", String(100), nullable=False),
    Column("row", Integer, nullable=False),
    Column("created", DateTime(timezone=True), nullable=False),
    Column("source", String(20), nullable=True),
    Column("inputs", JSON, nullable=False),
    Column("prediction", JSON(none_as_null=True), nullable=True),
    Column("probabilities", JSON(none_as_null=True), nullable=True),
    Column("label", JSON(none_as_null=True), nullable=True),
    Column("labelled", DateTime(timezone=True), nullable=True),
    Column("label_updates", Integer, nullable=False, default=0),  # > 1: feedback was sent again and overwrote
    UniqueConstraint("model", "request_id", "row", name="uq_prediction_log_request_row"),
    Index("ix_prediction_log_model_created", "model", "created"),
)

META = ("request_id", "row", "timestamp", "version", "source", "prediction", "label", "label_updates")


class UnknownRequestError(DataError):
    """Feedback names a request id the log does not hold."""


class PredictionLog:
    def __init__(
        self,
        url: str | None = None,
        home=None,
        *,
        sample_rate: float = 1.0,
        seed: int | None = None,
        batch_rows: int = 1_000,
        flush_seconds: float = 0.2,
    ):
        if not isinstance(sample_rate, int | float) or not 0.0 <= float(sample_rate) <= 1.0:
            raise ConfigError(
                problem(f"sample_rate must be in [0, 1], got {sample_rate!r}", where="sample_rate", fix="e.g. 0.1")
            )
        settings = Settings.resolve(home=home, registry_url=url)
        self.url = settings.registry_url
        self.sample_rate = float(sample_rate)
        self._salt = str(seed) if seed is not None else secrets.token_hex(8)
        self._batch_rows, self._flush_seconds = batch_rows, flush_seconds
        self._engine = _connect(self.url)
        self._pending: list[dict] = []
        self._busy = 0  # rows taken by the writer and not yet committed
        self._queued = 0  # rows ever queued, and rows ever written: flush waits for the first to be
        self._written = 0  # reached by the second, so rows queued after it began do not hold it up
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._flushing = 0  # callers waiting in flush(): the writer stops lingering for them
        _OPEN.add(self)

    # --- writing ---------------------------------------------------------------------------------
    def sampled(self, request_id: str) -> bool:
        """Is this request kept? The same answer for the same (seed, request id), everywhere."""
        if self.sample_rate >= 1.0:
            return True
        if self.sample_rate <= 0.0:
            return False
        digest = hashlib.sha256(f"{self._salt}:{request_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < self.sample_rate

    def record(
        self,
        model: str,
        version,
        inputs: pd.DataFrame,
        predictions,
        probabilities: pd.DataFrame | None = None,
        *,
        request_id: str | None = None,
        source: str = "api",
        row_offset: int = 0,
        timestamp: float | dt.datetime | None = None,
    ) -> str:
        """Queue one request's rows and return its id (a new one unless given). Rows are numbered
        from `row_offset` (a streamed request's later chunks continue the count)."""
        if self._closed:
            raise ConfigError(problem("this PredictionLog is closed", where="record", fix="open a new one"))
        _check_model(model)
        request_id = str(request_id) if request_id is not None else uuid.uuid4().hex
        if not self.sampled(request_id):
            return request_id
        if not isinstance(inputs, pd.DataFrame):
            raise ConfigError(problem("inputs must be a DataFrame", where="record", fix="pass the rows predicted"))
        values = _plain(predictions)
        if len(values) != len(inputs):
            raise ConfigError(
                problem(
                    f"{len(values)} prediction(s) for {len(inputs)} input row(s)",
                    where="record",
                    fix="pass one prediction per input row",
                )
            )
        rows_in = _json_records(inputs)
        probas = [None] * len(inputs) if probabilities is None else _json_records(pd.DataFrame(probabilities))
        created = _when(timestamp)
        version = None if version is None else str(version)
        rows = [
            {
                "model": model,
                "version": version,
                "request_id": request_id,
                "row": row_offset + i,
                "created": created,
                "source": source,
                "inputs": row,
                "prediction": value,
                "probabilities": proba,
                "label_updates": 0,
            }
            for i, (row, value, proba) in enumerate(zip(rows_in, values, probas, strict=True))
        ]
        with self._cond:
            self._pending.extend(rows)
            self._queued += len(rows)
            if self._thread is None:
                self._thread = threading.Thread(target=self._write_loop, name="assay-prediction-log", daemon=True)
                self._thread.start()
            self._cond.notify_all()
        return request_id

    def flush(self, timeout: float | None = 60.0) -> bool:
        """Wait until every row queued before this call is written; False if `timeout` passed
        first. Rows queued meanwhile are not waited for: under steady traffic the queue is never
        empty, and feedback (which flushes) would otherwise wait for a lull."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            self._flushing += 1
            self._cond.notify_all()
            try:
                target = self._queued
                while self._written < target:
                    left = None if deadline is None else deadline - time.monotonic()
                    if left is not None and left <= 0:
                        return False
                    self._cond.wait(0.05 if left is None else min(left, 0.05))
            finally:
                self._flushing -= 1
        return True

    def close(self) -> None:
        """Write what is queued, stop the writer, release the database."""
        if self._closed:
            return
        self._closed = True
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
        if self._pending:  # the writer gave up (database unreachable): one last synchronous try
            try:
                self._insert(self._pending)
                self._written += len(self._pending)
                self._pending = []
            except Exception as exc:
                log.error("prediction log: %d row(s) could not be written at close: %s", len(self._pending), exc)
        self._engine.dispose()
        _OPEN.discard(self)

    def __enter__(self) -> PredictionLog:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _write_loop(self) -> None:
        backoff = 0.1
        while True:
            with self._cond:
                while not self._pending and not self._closed:
                    self._cond.wait(self._flush_seconds)
                if not self._pending and self._closed:
                    return
                # Linger up to flush_seconds for more rows: a transaction per request cost the
                # server ~6 ms of CPU per single-row request (SQLAlchemy's per-statement work,
                # holding the GIL the event loop needs); a flush or close cuts the wait short.
                until = time.monotonic() + self._flush_seconds
                while len(self._pending) < self._batch_rows and not self._closed and not self._flushing:
                    left = until - time.monotonic()
                    if left <= 0:
                        break
                    self._cond.wait(left)
                batch, self._pending = self._pending[: self._batch_rows], self._pending[self._batch_rows :]
                self._busy = len(batch)
            try:
                self._insert(batch)
                backoff = 0.1
            except Exception as exc:
                log.error("prediction log: writing %d row(s) failed (%s); retrying", len(batch), exc)
                with self._cond:
                    self._pending[:0] = batch
                    self._busy = 0
                    if self._closed:  # close() makes the last attempt itself
                        return
                time.sleep(backoff)
                backoff = min(backoff * 2, 2.0)
                continue
            with self._cond:
                self._busy = 0
                self._written += len(batch)
                self._cond.notify_all()

    def _insert(self, rows: list[dict]) -> None:
        try:
            with self._engine.begin() as conn:
                conn.execute(predictions.insert(), rows)
        except IntegrityError:
            # A request id sent twice: keep every other request of the batch, report the repeats.
            by_request: dict[str, list[dict]] = {}
            for row in rows:
                by_request.setdefault(row["request_id"], []).append(row)
            for request_id, group in by_request.items():
                try:
                    with self._engine.begin() as conn:
                        conn.execute(predictions.insert(), group)
                except IntegrityError:
                    log.error(
                        "prediction log: request id %r of model %r was logged before; %d row(s) not logged twice",
                        request_id,
                        group[0]["model"],
                        len(group),
                    )

    # --- feedback --------------------------------------------------------------------------------
    def feedback(self, model: str, request_id: str, labels, rows=None) -> int:
        """Attach true labels to one request's rows (all of them in order, or `rows`). Returns the
        rows labelled: 0 if the request was sampled out. Sending again overwrites the label, and
        the row's label_updates counts how often that happened."""
        labels = [labels] if _scalar(labels) else list(_plain(labels))
        rows = list(range(len(labels))) if rows is None else [rows] if _scalar(rows) else list(_plain(rows))
        if len(rows) != len(labels):
            raise ConfigError(
                problem(
                    f"{len(labels)} label(s) for {len(rows)} row number(s)",
                    where=f"feedback for request {request_id!r}",
                    fix="pass one label per row",
                )
            )
        frame = pd.DataFrame({"request_id": [str(request_id)] * len(rows), "row": rows, "label": labels})
        return self.feedback_many(model, frame)

    def feedback_many(self, model: str, records: pd.DataFrame) -> int:
        """Labels for many requests at once: columns request_id, row, label. All or nothing: an
        unknown request id or row number writes no label at all."""
        _check_model(model)
        missing = [c for c in ("request_id", "row", "label") if c not in records.columns]
        if missing:
            raise ConfigError(
                problem(f"feedback lacks column(s) {missing}", where="feedback", fix="give request_id, row and label")
            )
        if records.empty:
            return 0
        records = records.assign(request_id=records["request_id"].astype(str))
        if records["label"].isna().any():
            bad = records.loc[records["label"].isna(), ["request_id", "row"]].head(3).to_dict("records")
            raise ConfigError(problem(f"missing label(s), e.g. {bad}", where="feedback", fix="send a label per row"))
        row_numbers = pd.to_numeric(records["row"], errors="coerce")
        if row_numbers.isna().any() or (row_numbers < 0).any() or (row_numbers % 1 != 0).any():
            raise ConfigError(
                problem(
                    "row numbers must be whole numbers >= 0", where="feedback", fix="row 0 is a request's first row"
                )
            )
        records = records.assign(row=row_numbers.astype(int))
        self.flush()
        found = self._existing(model, records["request_id"].unique().tolist())
        known = {rid for rid, _ in found}
        unknown = [rid for rid in records["request_id"].unique() if rid not in known]
        absent = [rid for rid in unknown if self.sampled(rid)]
        if absent:
            shown = ", ".join(repr(r) for r in absent[:5]) + (f" and {len(absent) - 5} more" if len(absent) > 5 else "")
            raise UnknownRequestError(
                problem(
                    f"no logged prediction of model {model!r} has request id {shown}",
                    where="feedback",
                    fix="send the request_id the prediction answered with, to the model that made it",
                )
            )
        records = records[records["request_id"].isin(known)]
        if records.empty:  # every request named was sampled out
            return 0
        pairs = list(zip(records["request_id"], records["row"], strict=True))
        bad_rows = [p for p in pairs if p not in found]
        if bad_rows:
            rid, row = bad_rows[0]
            n = sum(1 for r, _ in found if r == rid)
            raise ConfigError(
                problem(
                    f"request {rid!r} has {n} row(s) (0 to {n - 1}); row {row} does not exist",
                    where="feedback",
                    fix="number rows from 0 in the order they were sent",
                )
            )
        overwritten = sum(1 for p in pairs if found[p] > 0)
        now = dt.datetime.now(dt.UTC)
        statement = (
            update(predictions)
            .where(
                and_(
                    predictions.c.model == model,
                    predictions.c.request_id == bindparam("rid"),
                    predictions.c.row == bindparam("rownum"),
                )
            )
            .values(label=bindparam("new_label"), labelled=now, label_updates=predictions.c.label_updates + 1)
        )
        params = [
            {"rid": rid, "rownum": int(row), "new_label": _plain([label])[0]}
            for rid, row, label in zip(records["request_id"], records["row"], records["label"], strict=True)
        ]
        with self._engine.begin() as conn:
            conn.execute(statement, params)
        if overwritten:
            log.info("feedback for model %r overwrote %d earlier label(s)", model, overwritten)
        return len(params)

    def _existing(self, model: str, request_ids: list[str]) -> dict[tuple[str, int], int]:
        """(request id, row) -> times labelled, for the rows of these requests."""
        out: dict[tuple[str, int], int] = {}
        with reader(self._engine).connect() as conn:
            for start in range(0, len(request_ids), _IN_CHUNK):
                chunk = request_ids[start : start + _IN_CHUNK]
                query = select(predictions.c.request_id, predictions.c.row, predictions.c.label_updates).where(
                    predictions.c.model == model, predictions.c.request_id.in_(chunk)
                )
                for rid, row, updates in conn.execute(query):
                    out[(rid, int(row))] = int(updates or 0)
        return out

    # --- reading ---------------------------------------------------------------------------------
    def window(
        self,
        model: str,
        *,
        version=None,
        since=None,
        until=None,
        limit: int | None = None,
        labelled_only: bool = False,
    ) -> pd.DataFrame:
        """Logged rows of `model`, oldest first: the inputs as columns, then request_id, row,
        timestamp (UTC), version, source, prediction, label, label_updates (how often feedback
        set the label) and proba_<class> columns. `limit`
        keeps the most recent rows. frame.attrs["columns"] names each of those columns (an input
        called "label" pushes the log's own to "log_label") and attrs["inputs"] the input columns."""
        _check_model(model)
        self.flush()
        c = predictions.c
        query = select(predictions).where(c.model == model)
        if version is not None:
            query = query.where(c.version == str(version))
        if since is not None:
            query = query.where(c.created >= parse_when(since, "since"))
        if until is not None:
            query = query.where(c.created < parse_when(until, "until"))
        if labelled_only:
            query = query.where(c.label.is_not(None))
        if limit is not None:
            if not isinstance(limit, int) or limit < 1:
                raise ConfigError(
                    problem(f"limit must be a whole number >= 1, got {limit!r}", where="limit", fix="e.g. 10000")
                )
            query = query.order_by(c.created.desc(), c.id.desc()).limit(limit)
        else:
            query = query.order_by(c.created, c.id)
        with reader(self._engine).connect() as conn:
            records = conn.execute(query).mappings().all()
        if limit is not None:
            records = list(reversed(records))
        return _frame(records)

    def labelled(self, model: str, **kwargs) -> pd.DataFrame:
        """window(..., labelled_only=True): the rows that have their true label."""
        return self.window(model, labelled_only=True, **kwargs)

    def count(self, model: str, *, labelled_only: bool = False) -> int:
        from sqlalchemy import func

        self.flush()
        query = select(func.count()).select_from(predictions).where(predictions.c.model == model)
        if labelled_only:
            query = query.where(predictions.c.label.is_not(None))
        with reader(self._engine).connect() as conn:
            return int(conn.execute(query).scalar_one())

    def __repr__(self) -> str:
        return f"PredictionLog(sample_rate={self.sample_rate})"


def parse_when(value, where: str) -> dt.datetime:
    """A datetime, an ISO date/time (UTC unless it says otherwise), or an age such as 30m, 24h, 7d."""
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day, tzinfo=dt.UTC)
    text_value = str(value).strip()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    if text_value[-1:].lower() in units and text_value[:-1].replace(".", "", 1).isdigit():
        seconds = float(text_value[:-1]) * units[text_value[-1].lower()]
        return dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds)
    try:
        stamp = pd.Timestamp(text_value)
    except ValueError:
        stamp = None
    if stamp is None or pd.isna(stamp):
        raise ConfigError(
            problem(
                f"cannot read {value!r} as a time",
                where=f"--{where}",
                fix="give an ISO date or time (2026-11-21, 2026-11-21T09:00) or an age (30m, 24h, 7d)",
            )
        )
    stamp = stamp.tz_localize("UTC") if stamp.tzinfo is None else stamp.tz_convert("UTC")
    return stamp.to_pydatetime()


# ---- helpers --------------------------------------------------------------------------------------


def _connect(url: str):
    """The registry's engine (its tables created if missing) plus the log's own table."""
    engine = connect(url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK})
        metadata.create_all(conn)
    return engine


def _frame(records) -> pd.DataFrame:
    inputs = pd.DataFrame.from_records([r["inputs"] for r in records]) if records else pd.DataFrame()
    names = {m: (m if m not in inputs.columns else f"log_{m}") for m in META}
    meta = pd.DataFrame(
        {
            names["request_id"]: [r["request_id"] for r in records],
            names["row"]: pd.array([r["row"] for r in records], dtype="int64"),
            names["timestamp"]: pd.to_datetime([_utc(r["created"]) for r in records], utc=True),
            names["version"]: [r["version"] for r in records],
            names["source"]: [r["source"] for r in records],
            names["prediction"]: [r["prediction"] for r in records],
            names["label"]: [r["label"] for r in records],
            names["label_updates"]: pd.array([r["label_updates"] for r in records], dtype="int64"),
        }
    )
    probas = [r["probabilities"] for r in records]
    parts = [inputs.reset_index(drop=True), meta]
    if any(p is not None for p in probas):
        proba = pd.DataFrame.from_records([p or {} for p in probas]).add_prefix("proba_")
        names["probabilities"] = list(proba.columns)
        parts.append(proba)
    out = pd.concat(parts, axis=1)
    out.attrs["columns"] = names
    out.attrs["inputs"] = list(inputs.columns)
    return out


def _utc(value: dt.datetime) -> dt.datetime:
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def _when(timestamp) -> dt.datetime:
    if timestamp is None:
        return dt.datetime.now(dt.UTC)
    if isinstance(timestamp, dt.datetime):
        return _utc(timestamp)
    return dt.datetime.fromtimestamp(float(timestamp), dt.UTC)


def _json_records(frame: pd.DataFrame) -> list[dict]:
    """The rows as JSON-ready dicts, as `to_json(orient="records")` gives them (NaN and infinities
    as null, column names as text), built column by column for numbers, booleans and text: pandas'
    JSON writer on Arrow-backed text columns (pandas 3) was a tenth of a serving process's CPU.
    A frame with any other kind of column (dates, categories, mixed objects) still goes through it."""
    columns = {}
    for name, column in frame.items():
        values = _json_column(column)
        if values is None:
            return json.loads(
                frame.to_json(orient="records", date_format="iso", default_handler=str, double_precision=15)
            )
        columns[str(name)] = values
    if not columns:
        return [{} for _ in range(len(frame))]
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _json_column(column: pd.Series) -> list | None:
    dtype = column.dtype
    if isinstance(dtype, np.dtype) and dtype.kind == "f":
        return [v if math.isfinite(v) else None for v in column.tolist()]
    if isinstance(dtype, np.dtype) and dtype.kind in "iub":
        return column.tolist()
    if isinstance(dtype, pd.StringDtype) or (isinstance(dtype, np.dtype) and dtype.kind == "O"):
        values = column.tolist()
        if all(isinstance(v, str) or v is None or v is pd.NA or (isinstance(v, float) and v != v) for v in values):
            return [v if isinstance(v, str) else None for v in values]
    return None


def _plain(values) -> list:
    """Plain Python values (numpy scalars and NaN become numbers and None) for JSON columns."""
    series = pd.Series(list(values), dtype=object)
    return json.loads(series.to_json(orient="values", default_handler=str, double_precision=15))


def _scalar(value) -> bool:
    return isinstance(value, str | bytes | int | float | bool) or value is None


def _check_model(model) -> None:
    if not isinstance(model, str) or not model.strip() or len(model) > 100:
        raise ConfigError(
            problem(f"model name {model!r} is not usable", where="model", fix="a name of 1 to 100 characters")
        )


_OPEN: weakref.WeakSet[PredictionLog] = weakref.WeakSet()


@atexit.register
def _close_all() -> None:
    for open_log in list(_OPEN):
        open_log.close()


__all__ = ["PredictionLog", "UnknownRequestError", "parse_when"]
