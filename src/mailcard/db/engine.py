"""Engine creation for SQLite (WAL, full fsync) and PostgreSQL (psycopg 3), and schema upgrade.

SQLite is tuned for a durable single-machine outbox: WAL so readers never block the writer,
``synchronous=FULL`` so a committed message survives power loss, and a busy timeout so several
processes (server, worker, CLI) can share the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool, StaticPool

from mailcard.errors import ConfigurationError


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def create_db_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except Exception as exc:  # SQLAlchemy raises ArgumentError; the message names the problem
        raise ConfigurationError(f"MAILCARD_DATABASE_URL is not a valid database URL: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        if database in ("", ":memory:"):
            engine = create_engine(
                url, poolclass=StaticPool, connect_args={"timeout": 30, "check_same_thread": False}
            )
        else:
            # A pool matters: opening a WAL database costs PRAGMAs, and closing the last connection checkpoints.
            engine = create_engine(
                url, poolclass=QueuePool, pool_size=4, max_overflow=4, connect_args={"timeout": 30}
            )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    if parsed.get_backend_name() == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(parsed, pool_pre_ping=True, pool_size=5, max_overflow=5)
    raise ConfigurationError(
        f"Unsupported database {parsed.get_backend_name()!r}.",
        code="database_unsupported",
        hint="Use sqlite:///path/to/file.db or postgresql+psycopg://user:pass@host/db.",
    )


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take over transaction control so BEGIN IMMEDIATE can be issued (see _sqlite_on_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    # IMMEDIATE takes the write lock up front: a claim never fails half-way with SQLITE_BUSY on upgrade.
    # Issued on the driver's connection: through SQLAlchemy's execute it cost as much as a query.
    connection.connection.driver_connection.execute("BEGIN IMMEDIATE")
