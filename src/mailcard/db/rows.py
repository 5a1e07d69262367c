"""Reading one record: a row by its integer id, and a record dataclass from a row whose columns carry its field names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from functools import cache
from typing import TYPE_CHECKING, Any, Final, TypeVar

from sqlalchemy import Connection, Table, bindparam, select

from mailcard.db.direct import Direct

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Record = TypeVar("Record", bound="DataclassInstance")

# The largest value an INTEGER id column holds on PostgreSQL (and a JavaScript client reads exactly).
MAX_ID: Final = 2_147_483_647


def could_be_row_id(value: int) -> bool:
    """Whether a row can have this id: others are never sent to the driver, which could not even bind them."""
    return 1 <= value <= MAX_ID


def row_by_id(conn: Connection, table: Table, row_id: int) -> Mapping[str, Any] | None:
    """The row of ``table`` with this id, or ``None`` (see :func:`could_be_row_id`)."""
    if not could_be_row_id(row_id):
        return None
    return _select_by_id(table).first(conn, {"row_id": row_id})


@cache
def _select_by_id(table: Table) -> Direct:
    # Built once per table: building a statement costs more than running it.
    return Direct(select(table).where(table.c.id == bindparam("row_id")))


@cache
def _names(cls: type[DataclassInstance]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def from_row(cls: type[Record], row: Mapping[Any, Any], **computed: Any) -> Record:
    """``cls`` with each field from the column of its name; ``computed`` gives those a column does not hold as is."""
    return cls(**{name: row[name] for name in _names(cls) if name not in computed}, **computed)
