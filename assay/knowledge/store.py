"""The knowledge base: past tasks (meta-features) and every trial run on them (config and score).

One SQLite file (ASSAY_HOME/knowledge.db unless a path is given), for the same reasons as the
bench store: each append is one transaction, so a portfolio build killed at any moment loses at
most the trial in flight and resumes where it stopped, and several runs can share the file.

A task is keyed by (name, fingerprint, protocol): the same table fitted under another protocol
(a user fit vs the portfolio build's fixed 3-fold protocol) gives scores that must not be mixed.
Recording from a fit is a search callback (`KnowledgeRecorder`) that never fails the fit.
"""

from __future__ import annotations

import json
import math
import sqlite3
import warnings
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from assay.search.events import Callback

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL,
    source TEXT NOT NULL,
    fingerprint TEXT NOT NULL,
    protocol TEXT NOT NULL,
    kind TEXT NOT NULL,
    metric TEXT NOT NULL,
    meta TEXT NOT NULL,
    created TEXT NOT NULL,
    UNIQUE (name, fingerprint, protocol)
);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task INTEGER NOT NULL REFERENCES tasks(id),
    family TEXT NOT NULL,
    params TEXT NOT NULL,
    origin TEXT NOT NULL,
    status TEXT NOT NULL,
    error REAL,
    fit_seconds REAL NOT NULL,
    message TEXT NOT NULL,
    created TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS trials_task ON trials (task);
"""


@dataclass(frozen=True)
class TaskRecord:
    id: int
    name: str
    source: str
    fingerprint: str
    protocol: str
    kind: str
    metric: str
    meta: dict
    created: str


@dataclass(frozen=True)
class TrialRecord:
    task: int
    family: str
    params: dict
    origin: str
    status: str
    error: float
    fit_seconds: float
    message: str = ""


def default_path() -> Path:
    from assay.config import home_folder

    return home_folder() / "knowledge.db"


def params_key(family: str, params: dict) -> str:
    """One spelling per configuration, so a resumed build recognises what it already measured."""
    return json.dumps([family, params], sort_keys=True, default=str)


class KnowledgeStore:
    def __init__(self, path: str | Path | None = None):
        self.path = Path(path) if path is not None else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.executescript(_SCHEMA)

    @staticmethod
    def exists_default() -> bool:
        return default_path().is_file()

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30)
        db.execute("PRAGMA journal_mode=WAL")
        return db

    # --- writing -----------------------------------------------------------------------------
    def add_task(
        self,
        name: str,
        fingerprint: str,
        kind: str,
        metric: str,
        meta: dict,
        *,
        source: str = "",
        protocol: str = "fit",
    ) -> int:
        """The task's id; an existing (name, fingerprint, protocol) keeps its id and gets fresh meta-features."""
        meta_json = json.dumps({k: (None if _nan(v) else v) for k, v in meta.items()})
        with closing(self._connect()) as db, db:
            row = db.execute(
                "SELECT id FROM tasks WHERE name=? AND fingerprint=? AND protocol=?", (name, fingerprint, protocol)
            ).fetchone()
            if row:
                db.execute("UPDATE tasks SET meta=? WHERE id=?", (meta_json, row[0]))
                return int(row[0])
            cur = db.execute(
                "INSERT INTO tasks (name, source, fingerprint, protocol, kind, metric, meta, created)"
                " VALUES (?,?,?,?,?,?,?,?)",
                (name, source, fingerprint, protocol, kind, metric, meta_json, _now()),
            )
            return int(cur.lastrowid)

    def add_trials(self, records: list[TrialRecord]) -> None:
        rows = [
            (
                r.task,
                r.family,
                json.dumps(r.params, sort_keys=True, default=str),
                r.origin,
                r.status,
                None if _nan(r.error) else float(r.error),
                float(r.fit_seconds),
                r.message[:500],
                _now(),
            )
            for r in records
        ]
        with closing(self._connect()) as db, db:
            db.executemany(
                "INSERT INTO trials (task, family, params, origin, status, error, fit_seconds, message, created)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                rows,
            )

    # --- reading -----------------------------------------------------------------------------
    def tasks(self, protocol: str | None = None, kind: str | None = None) -> list[TaskRecord]:
        query, args = "SELECT * FROM tasks WHERE 1=1", []
        if protocol is not None:
            query, args = query + " AND protocol=?", [*args, protocol]
        if kind is not None:
            query, args = query + " AND kind=?", [*args, kind]
        with closing(self._connect()) as db:
            rows = db.execute(query + " ORDER BY id", args).fetchall()
        return [
            TaskRecord(*r[:7], {k: (math.nan if v is None else v) for k, v in json.loads(r[7]).items()}, r[8])
            for r in rows
        ]

    def trials(self, task: int | None = None) -> list[TrialRecord]:
        query, args = "SELECT task, family, params, origin, status, error, fit_seconds, message FROM trials", ()
        if task is not None:
            query, args = query + " WHERE task=?", (task,)
        with closing(self._connect()) as db:
            rows = db.execute(query + " ORDER BY id", args).fetchall()
        return [
            TrialRecord(t, f, json.loads(p), o, s, math.nan if e is None else e, fs, m)
            for t, f, p, o, s, e, fs, m in rows
        ]

    def measured(self, task: int) -> dict[str, TrialRecord]:
        """params_key -> the first record of each configuration measured on `task`."""
        out: dict[str, TrialRecord] = {}
        for r in self.trials(task):
            out.setdefault(params_key(r.family, r.params), r)
        return out

    def summary(self) -> dict:
        with closing(self._connect()) as db:
            by_protocol = db.execute("SELECT protocol, kind, COUNT(*) FROM tasks GROUP BY protocol, kind").fetchall()
            n_trials = db.execute("SELECT COUNT(*) FROM trials").fetchone()[0]
        return {"path": str(self.path), "tasks": [list(r) for r in by_protocol], "trials": int(n_trials)}


class KnowledgeRecorder(Callback):
    """Records a fit's trials into the store when the search ends. Meta-features are computed then,
    from the context the fit hands over; any failure becomes a warning, never a failed fit."""

    def __init__(
        self,
        store: KnowledgeStore,
        name: str,
        fingerprint: str,
        *,
        source="fit",
        protocol="fit",
        meta: dict | None = None,
    ):
        self.store, self.name, self.fingerprint = store, name, fingerprint
        self.source, self.protocol, self.meta = source, protocol, meta
        self.ctx = None
        self.schema = None

    def attach(self, ctx, schema=None) -> None:
        self.ctx, self.schema = ctx, schema

    def on_search_end(self, *, results) -> None:
        if self.ctx is None:
            return
        try:
            from assay.knowledge.metafeatures import meta_features

            ctx = self.ctx
            meta = self.meta if self.meta is not None else meta_features(ctx.X, ctx.y, ctx.task, self.schema)
            task_id = self.store.add_task(
                self.name,
                self.fingerprint,
                ctx.task.kind,
                ctx.metric.name,
                meta,
                source=self.source,
                protocol=self.protocol,
            )
            self.store.add_trials(
                [
                    TrialRecord(
                        task_id,
                        r.spec.family,
                        r.spec.params,
                        r.spec.origin,
                        r.status,
                        r.error,
                        r.fit_seconds + r.predict_seconds,
                        r.message,
                    )
                    for r in results
                ]
            )
        except Exception as exc:  # the knowledge base is a by-product: it must never cost the user a model
            warnings.warn(f"knowledge base not updated ({type(exc).__name__}: {exc})", UserWarning, stacklevel=2)


def _nan(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
