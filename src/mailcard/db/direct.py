"""Prebuilt Core statements run straight on SQLite's DB-API connection.

Every API call reads its token, and the card's send reads a customer, a user and the SMTP accounts
and writes its history row. Through SQLAlchemy's execution path each such statement costs about
40 µs on a warm CPU (6 µs is SQLite's own work), and several times that on the cold CPU a paced
request meets (the ``card_send`` benchmark). So, on SQLite, a :class:`Direct` statement is compiled
once for the dialect, its bind and result processors are taken from the column types through the
public type API (``dialect_impl`` → ``bind_processor`` / ``result_processor``), and each call is one
``execute`` on the driver's connection. The statement stays written in Core, the one source of the
SQL; on other dialects (PostgreSQL) it runs through ``Connection.execute`` unchanged.

The connection is the caller's SQLAlchemy ``Connection``: its transaction is begun first (the
dialect's BEGIN, see :mod:`mailcard.db.engine`), so a direct statement reads and writes inside the
same transaction as the caller's other statements.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from sqlalchemy import Connection, Dialect, Insert, Select

from mailcard.db.engine import driver_connection

__all__ = ["Direct"]

Processor = Callable[[Any], Any] | None
_NO_DEFAULT = object()


@dataclass(frozen=True)
class _Compiled:
    sql: str
    # (parameter name, bind processor, value the statement itself carries or _NO_DEFAULT), in order.
    binds: tuple[tuple[str, Processor, Any], ...]
    columns: tuple[str, ...]
    results: tuple[Processor, ...]
    has_results: bool


class Direct:
    """A Core ``select`` or ``insert`` compiled once for SQLite and run with the driver's cursor."""

    def __init__(self, statement: Select[Any] | Insert) -> None:
        self.statement = statement

    def mappings(self, conn: Connection, params: Mapping[str, Any]) -> list[Mapping[str, Any]]:
        """Every row, as a mapping of the selected columns' keys to their values in Python types."""
        if conn.dialect.name != "sqlite":
            return [dict(row._mapping) for row in conn.execute(self.statement, dict(params))]
        compiled = _compile(self.statement, conn.dialect, None)
        rows = _in_transaction(conn).execute(compiled.sql, _arguments(compiled, params)).fetchall()
        columns, results = compiled.columns, compiled.results
        if not compiled.has_results:
            return [dict(zip(columns, row, strict=True)) for row in rows]
        return [
            {
                key: value if process is None else process(value)
                for key, process, value in zip(columns, results, row, strict=True)
            }
            for row in rows
        ]

    def first(self, conn: Connection, params: Mapping[str, Any]) -> Mapping[str, Any] | None:
        rows = self.mappings(conn, params)
        return rows[0] if rows else None

    def execute(self, conn: Connection, params: Mapping[str, Any]) -> None:
        """Run an ``insert`` with ``params`` (a value for each column it sets)."""
        if conn.dialect.name != "sqlite":
            conn.execute(self.statement, dict(params))
            return
        compiled = _compile(self.statement, conn.dialect, tuple(params))
        _in_transaction(conn).execute(compiled.sql, _arguments(compiled, params))


def _in_transaction(conn: Connection) -> Any:
    """The driver's connection of ``conn``, once ``conn``'s transaction has begun."""
    if not conn.in_transaction():
        conn.begin()  # the dialect's BEGIN: DEFERRED in reading(), IMMEDIATE in engine.begin()
    return driver_connection(conn)


def _arguments(compiled: _Compiled, params: Mapping[str, Any]) -> tuple[Any, ...]:
    values = []
    for name, process, default in compiled.binds:
        value = params[name] if default is _NO_DEFAULT else params.get(name, default)
        values.append(value if process is None else process(value))
    return tuple(values)


@lru_cache(maxsize=256)
def _compile(statement: Select[Any] | Insert, dialect: Dialect, keys: Sequence[str] | None) -> _Compiled:
    compiled = statement.compile(dialect=dialect, column_keys=list(keys) if keys is not None else None)
    if "POSTCOMPILE" in compiled.string:
        raise ValueError("a direct statement cannot use expanding (IN list) parameters")
    binds = []
    for name in compiled.positiontup or ():
        bind = compiled.binds[name]
        process = bind.type.dialect_impl(dialect).bind_processor(dialect)
        default = _NO_DEFAULT if bind.required else bind.effective_value
        binds.append((name, process, default))
    columns: tuple[str, ...] = ()
    results: tuple[Processor, ...] = ()
    if isinstance(statement, Select):
        selected = list(statement.selected_columns)
        columns = tuple(str(c.key) for c in selected)
        results = tuple(c.type.dialect_impl(dialect).result_processor(dialect, None) for c in selected)
    return _Compiled(
        sql=compiled.string,
        binds=tuple(binds),
        columns=columns,
        results=results,
        has_results=any(p is not None for p in results),
    )
