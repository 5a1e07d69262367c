"""A record dataclass from a table row whose columns carry the record's field names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Record = TypeVar("Record", bound="DataclassInstance")


@cache
def _names(cls: type[DataclassInstance]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


def from_row(cls: type[Record], row: Mapping[Any, Any], **computed: Any) -> Record:
    """``cls`` with each field from the column of its name; ``computed`` gives those a column does not hold as is."""
    return cls(**{name: row[name] for name in _names(cls) if name not in computed}, **computed)
