"""The results store: one SQLite file that benchmark runs append to and reports read from.

Why SQLite rather than a JSON or Parquet file rewritten after each run: an append is one
transaction, so a run killed at any moment loses at most the cell in flight, and several sessions
(a 60 s run today, a 300 s run tomorrow, an ablation) can share one file. Each record keeps the
whole JSON the runner wrote; the columns beside it are only what queries filter on. A session row
holds the versions of everything (assay, its libraries, the peers, the suite and data hashes), and
every record names its session.

A cell is (suite, dataset, system, budget, seed); a cell may be run more than once (a retry after
a failure), and reports read the latest record of each cell.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path

FINISHED = ("ok", "error", "timeout", "crashed")  # "unavailable" is retried once the peer exists

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    started TEXT NOT NULL,
    meta TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session TEXT NOT NULL,
    cell TEXT NOT NULL,
    suite TEXT NOT NULL,
    dataset TEXT NOT NULL,
    system TEXT NOT NULL,
    budget REAL,
    seed INTEGER NOT NULL,
    status TEXT NOT NULL,
    error REAL,
    finished TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_cell ON runs (cell);
"""


def cell_key(suite: str, dataset: str, system: str, budget: float | None, seed: int) -> str:
    budget_part = "-" if budget is None else f"{float(budget):g}"
    return "|".join([suite, dataset, system, budget_part, str(int(seed))])


class ResultStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as db, db:
            db.executescript(_SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def add_session(self, session_id: str, started: str, meta: dict) -> None:
        with closing(self._connect()) as db, db:
            db.execute(
                "INSERT OR REPLACE INTO sessions (id, started, meta) VALUES (?, ?, ?)",
                (session_id, started, json.dumps(meta, default=str)),
            )

    def add(self, session_id: str, suite: str, record: dict, finished: str) -> None:
        key = cell_key(suite, record["dataset"], record["system"], record.get("budget"), record["seed"])
        with closing(self._connect()) as db, db:
            db.execute(
                "INSERT INTO runs (session, cell, suite, dataset, system, budget, seed, status, error, finished,"
                " record) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    session_id,
                    key,
                    suite,
                    record["dataset"],
                    record["system"],
                    record.get("budget"),
                    int(record["seed"]),
                    record["status"],
                    record.get("error"),
                    finished,
                    json.dumps({**record, "session": session_id, "suite": suite}, default=_jsonable),
                ),
            )

    def latest(self, suite: str | None = None) -> list[dict]:
        """The newest record of each cell, oldest cell first (the order runs happened in)."""
        query = (
            "SELECT record FROM runs WHERE id IN (SELECT MAX(id) FROM runs GROUP BY cell)"
            + (" AND suite = ?" if suite else "")
            + " ORDER BY id"
        )
        with closing(self._connect()) as db:
            rows = db.execute(query, (suite,) if suite else ()).fetchall()
        return [json.loads(r[0]) for r in rows]

    def statuses(self) -> dict[str, str]:
        """cell -> status of its newest record: what a resumed run may skip."""
        with closing(self._connect()) as db:
            rows = db.execute("SELECT cell, status FROM runs WHERE id IN (SELECT MAX(id) FROM runs GROUP BY cell)")
            return dict(rows.fetchall())

    def sessions(self) -> list[dict]:
        with closing(self._connect()) as db:
            rows = db.execute("SELECT id, started, meta FROM sessions ORDER BY started").fetchall()
        return [{"id": i, "started": s, **json.loads(m)} for i, s, m in rows]

    def count(self) -> int:
        with closing(self._connect()) as db:
            return int(db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])


def _jsonable(value):
    if hasattr(value, "item"):
        return value.item()
    return str(value)
