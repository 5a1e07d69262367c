"""Engine creation for SQLite (WAL, full fsync) and PostgreSQL (psycopg 3), and schema upgrade.

SQLite is tuned for a durable single-machine outbox: WAL so readers never block the writer,
``synchronous=FULL`` so a committed message survives power loss, and a busy timeout so several
processes (server, worker, CLI) can share the file.

Reads go through :func:`reading`; writes through ``engine.begin()``. On SQLite a write transaction
begins IMMEDIATE (it takes the write lock up front), a reading one DEFERRED (it never waits for the
lock or holds it while a worker in another process writes).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.dialects import registry
from sqlalchemy.dialects.sqlite.pysqlite import SQLiteDialect_pysqlite
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool, StaticPool

from mailcard.errors import ConfigurationError

# Set in a pooled SQLite connection's info while it serves reading(): the BEGIN it wants.
_BEGIN = "mailcard_begin"


class DurableSQLiteDialect(SQLiteDialect_pysqlite):
    """pysqlite, with mailcard issuing each transaction's BEGIN: IMMEDIATE for a writer, DEFERRED for a reader.

    A writer's IMMEDIATE takes the write lock up front, so a claim never fails half-way with SQLITE_BUSY
    on upgrade; a reader's DEFERRED takes no write lock at all. This is a dialect method, not
    SQLAlchemy's "begin" event (the documented recipe): with any connection event on the engine,
    SQLAlchemy dispatches its event hooks around every statement, a third of a simple read's cost.
    """

    supports_statement_cache = True

    def do_begin(self, dbapi_connection: Any) -> None:
        # On the driver's connection: through SQLAlchemy's execute it cost as much as a query.
        dbapi_connection.driver_connection.execute(dbapi_connection.info.get(_BEGIN, "BEGIN IMMEDIATE"))


registry.register("sqlite.mailcard", __name__, DurableSQLiteDialect.__name__)


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


@contextmanager
def reading(engine: Engine, conn: Connection | None = None) -> Iterator[Connection]:
    """A connection for reads only; with ``conn``, that open connection of the caller's, left open.

    Passing ``conn`` lets one use case (the card's send) do all its reads in one transaction, where
    each store's own connection would cost a pool checkout, a BEGIN and a rollback.
    """
    if conn is not None:
        yield conn
        return
    with engine.connect() as own:
        if not is_sqlite(engine):
            yield own
            return
        info = own.connection.info  # the pooled connection's, kept across checkouts: cleared below
        info[_BEGIN] = "BEGIN"
        try:
            yield own
        finally:
            info.pop(_BEGIN, None)


def driver_connection(conn: Connection) -> Any:
    """The DB-API connection under ``conn``, for statements run on the driver directly (a checked-out
    connection always has one). It begins no transaction: a caller that needs one begins it."""
    driver = conn.connection.driver_connection
    assert driver is not None
    return driver


def create_db_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except Exception as exc:  # SQLAlchemy raises ArgumentError; the message names the problem
        raise ConfigurationError(f"MAILCARD_DATABASE_URL is not a valid database URL: {exc}") from exc
    if parsed.get_backend_name() == "sqlite":
        parsed = parsed.set(drivername="sqlite+mailcard")
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        if database in ("", ":memory:"):
            engine = create_engine(
                parsed, poolclass=StaticPool, connect_args={"timeout": 30, "check_same_thread": False}
            )
        else:
            # A pool matters: opening a WAL database costs PRAGMAs, and closing the last connection checkpoints.
            engine = create_engine(
                parsed, poolclass=QueuePool, pool_size=4, max_overflow=4, connect_args={"timeout": 30}
            )
        # A pool event: it runs once per new DB-API connection, not around statements.
        event.listen(engine, "connect", _sqlite_on_connect)
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
    # Take over transaction control so that DurableSQLiteDialect.do_begin issues every BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
