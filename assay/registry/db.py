"""The registry's tables and the engine that reaches them: SQLite by default, PostgreSQL by URL.

Concurrency is the database's job, not ours. On SQLite every transaction starts with
BEGIN IMMEDIATE, so writers queue on the database lock (WAL mode keeps readers of committed data
unblocked, a busy timeout makes a waiting writer wait instead of failing). On PostgreSQL the
model's row is locked FOR UPDATE (see service.py). Either way the unique constraints below are the
last line: two rows can never claim the same version, nor two versions the production stage.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.pool import NullPool

STAGES = ("candidate", "production", "archived")
BUSY_TIMEOUT_S = 60.0
READ_ONLY = "assay_read_only"  # an execution option: this transaction only reads
_SCHEMA_LOCK = 4_242_001  # a PostgreSQL advisory lock id: concurrent first starts create the tables once


class Base(DeclarativeBase):
    pass


class ModelRow(Base):
    """One row per model name. `last_version` hands out numbers, so a deleted version's number is
    never reused (a folder or a log line naming 'churn v3' keeps meaning one thing)."""

    __tablename__ = "models"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    last_version: Mapped[int] = mapped_column(Integer, default=0)


class VersionRow(Base):
    __tablename__ = "versions"
    __table_args__ = (
        UniqueConstraint("name", "version", name="uq_versions_name_version"),
        # At most one production version per name, enforced by the database itself.
        Index(
            "uq_versions_one_production",
            "name",
            unique=True,
            sqlite_where=text("stage = 'production'"),
            postgresql_where=text("stage = 'production'"),
        ),
    )
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), ForeignKey("models.name"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(20), default="candidate")
    metrics: Mapped[dict] = mapped_column(JSON, default=dict)
    data_fingerprint: Mapped[str | None] = mapped_column(String(128), nullable=True)
    source: Mapped[str | None] = mapped_column(String(1000), nullable=True)  # which data trained it
    assay_version: Mapped[str | None] = mapped_column(String(50), nullable=True)  # which assay trained it
    trained: Mapped[str | None] = mapped_column(String(40), nullable=True)  # the manifest's own timestamp
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))  # when it was registered
    tags: Mapped[dict] = mapped_column(JSON, default=dict)
    path: Mapped[str] = mapped_column(String(1000))  # relative to the home folder, so the home can move
    manifest_sha256: Mapped[str] = mapped_column(String(64))


class TokenRow(Base):
    """An API token: only a salted SHA-256 of its secret is kept, never the secret."""

    __tablename__ = "tokens"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    label: Mapped[str] = mapped_column(String(200))
    salt: Mapped[str] = mapped_column(String(64))
    secret_sha256: Mapped[str] = mapped_column(String(64))
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    revoked: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class DecisionRow(Base):
    """One row per champion/challenger decision: a promotion (by hand or by retraining), a
    challenger kept out, a rollback, a failed retraining. Rows are only ever added, so the table is
    also the history of which version served when; `id` orders them (timestamps can tie).
    A registry.db from before this table existed gets it on open (`connect` creates missing tables)."""

    __tablename__ = "decisions"
    __table_args__ = (Index("ix_decisions_name_id", "name", "id"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), ForeignKey("models.name"))
    created: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    action: Mapped[str] = mapped_column(String(20))  # see decisions.ACTIONS
    champion_version: Mapped[int | None] = mapped_column(Integer, nullable=True)  # production before
    challenger_version: Mapped[int | None] = mapped_column(Integer, nullable=True)  # the one considered
    metric: Mapped[str | None] = mapped_column(String(40), nullable=True)
    champion_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    champion_low: Mapped[float | None] = mapped_column(Float, nullable=True)
    champion_high: Mapped[float | None] = mapped_column(Float, nullable=True)
    challenger_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    challenger_low: Mapped[float | None] = mapped_column(Float, nullable=True)
    challenger_high: Mapped[float | None] = mapped_column(Float, nullable=True)
    p_value: Mapped[float | None] = mapped_column(Float, nullable=True)
    holdout_rows: Mapped[int | None] = mapped_column(Integer, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    details: Mapped[dict] = mapped_column(JSON, default=dict)


def connect(url: str) -> Engine:
    """An engine for `url` with the tables created; a bare postgresql:// URL gets the psycopg 3 driver.
    Tables added in later assay versions are created here too, so an older registry keeps working."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        engine = _sqlite_engine(parsed)
    else:
        engine = create_engine(parsed, pool_pre_ping=True)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _SCHEMA_LOCK})
        Base.metadata.create_all(conn)
    return engine


def _sqlite_engine(url) -> Engine:
    if url.database and url.database != ":memory:":
        Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    # No pool: each operation opens its own connection, so a forked or killed process never shares one.
    engine = create_engine(url, poolclass=NullPool, connect_args={"timeout": BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # pysqlite's own BEGIN would be deferred; we issue ours below
        cursor = dbapi_conn.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_S * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn):
        # Writers take the write lock up front: a read-then-write transaction (allocate a version
        # number) that upgraded its lock later could fail with SQLITE_BUSY instead of waiting its
        # turn. Readers (see `reader`) begin deferred, so checking a token never queues behind a write.
        read_only = conn.get_execution_options().get(READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def reader(engine: Engine) -> Engine:
    """The same engine, for transactions that only read."""
    return engine.execution_options(**{READ_ONLY: True})
