"""Bulk import of reference data: reading a JSON or CSV upload into numbered rows, and the result shape.

The import routes of customers, stores and users share this: the body is read with a size limit,
CSV is decoded (UTF-8 with or without a BOM, UTF-16 from Excel's "Unicode text"), its delimiter
(``,``, ``;`` or tab) is taken from the header line, and every row keeps the number a user sees in
a spreadsheet (the header is row 1) or, for JSON, its 1-based position in the list. A bad row is
reported by that number and never stops the other rows.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import AsyncIterable, Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import Connection

from mailcard.errors import InputError, MailcardError

MAX_IMPORT_BYTES: Final = 10 * 1024 * 1024
MAX_IMPORT_ROWS: Final = 20_000
CUSTOM_PREFIX: Final = "custom."
LIST_SEPARATOR: Final = ";"

JSON_TYPES: Final = ("application/json",)
CSV_TYPES: Final = ("text/csv", "application/csv", "text/plain")

Model = TypeVar("Model", bound=BaseModel)


class _NumberedRow(Protocol):
    @property
    def row(self) -> int: ...


Item = TypeVar("Item", bound=_NumberedRow)


class RowError(BaseModel):
    """One row that was not imported: its number, a stable code and what was wrong."""

    model_config = ConfigDict(frozen=True)

    row: int = Field(
        description="Spreadsheet row number for CSV (the header is row 1); 1-based item for JSON."
    )
    code: str
    message: str


class ImportResult(BaseModel):
    """How many records an import created and updated, and every row it refused."""

    model_config = ConfigDict(frozen=True)

    created: int = 0
    updated: int = 0
    errors: tuple[RowError, ...] = ()

    def with_errors(self, more: Iterable[RowError]) -> ImportResult:
        errors = sorted((*self.errors, *more), key=lambda e: e.row)
        return ImportResult(created=self.created, updated=self.updated, errors=tuple(errors))

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def import_each(conn: Connection, rows: Iterable[Item], apply: Callable[[Item], bool]) -> ImportResult:
    """``apply`` to every row, each in its own savepoint of ``conn``; ``apply`` says whether it created.

    A row whose ``apply`` raises a :class:`MailcardError` (even half-way) is rolled back alone and
    reported by its number; the others are kept.
    """
    created = updated = 0
    errors: list[RowError] = []
    for item in rows:
        savepoint = conn.begin_nested()
        try:
            was_created = apply(item)
        except MailcardError as error:
            savepoint.rollback()
            errors.append(RowError(row=item.row, code=error.code, message=error.message))
            continue
        savepoint.commit()
        if was_created:
            created += 1
        else:
            updated += 1
    return ImportResult(created=created, updated=updated, errors=tuple(errors))


@dataclass
class ParsedRows:
    """Rows as ``(row number, field → value)``, and the rows already refused while reading."""

    rows: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


async def read_limited(chunks: AsyncIterable[bytes], limit: int = MAX_IMPORT_BYTES) -> bytes:
    """The whole body, refusing it as soon as it grows past ``limit`` (never buffered unbounded)."""
    buffer = bytearray()
    async for chunk in chunks:
        buffer += chunk
        if len(buffer) > limit:
            raise InputError(
                f"The upload is larger than {limit // (1024 * 1024)} MB.",
                code="import_too_large",
                hint="Split the file and import the parts one after another.",
            )
    return bytes(buffer)


def parse_upload(
    content_type: str,
    data: bytes,
    *,
    key: str,
    columns: Collection[str],
    list_columns: Collection[str] = (),
    custom_columns: bool = False,
) -> ParsedRows:
    """JSON ``{key: [...]}`` or CSV with the given ``columns`` into numbered rows.

    CSV cells that are empty are left out (an import never clears a stored value), columns named in
    ``list_columns`` are split on ``;``, and with ``custom_columns`` every ``custom.<name>`` column
    goes into the row's ``custom_fields``.
    """
    media_type = content_type.split(";", 1)[0].strip().lower()
    if media_type in JSON_TYPES or media_type.endswith("+json"):
        return _json_rows(data, key)
    if media_type in CSV_TYPES:
        return _csv_rows(data, columns, list_columns, custom_columns)
    raise InputError(
        f"Cannot import {media_type or 'a body without a Content-Type'}.",
        code="unsupported_content_type",
        hint=f'Send application/json ({{"{key}": [...]}}) or text/csv.',
    )


def validate_rows(parsed: ParsedRows, model: type[Model]) -> tuple[list[tuple[int, Model]], list[RowError]]:
    """Each row through the pydantic ``model``; a row that does not fit becomes a ``RowError``."""
    valid: list[tuple[int, Model]] = []
    errors = list(parsed.errors)
    for number, values in parsed.rows:
        try:
            valid.append((number, model.model_validate(values)))
        except ValidationError as error:
            errors.append(RowError(row=number, code="invalid_row", message=describe_validation_error(error)))
    return valid, errors


def describe_validation_error(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_input=False, include_url=False):
        where = ".".join(str(p) for p in item["loc"])
        parts.append(f"{where}: {item['msg']}" if where else item["msg"])
    return "; ".join(parts)


def import_request_body(key: str, item_model: type[BaseModel], csv_description: str) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of an import route: JSON ``{key: [items]}`` or a CSV file."""
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": [key],
                        "properties": {
                            key: {"type": "array", "maxItems": MAX_IMPORT_ROWS, "items": _inline(item_model)}
                        },
                    }
                },
                "text/csv": {"schema": {"type": "string", "description": csv_description}},
            },
        }
    }


def _inline(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    if "$defs" in schema:  # the import items are flat on purpose: a $ref here would not resolve
        raise TypeError(f"{model.__name__} must not nest models")
    return schema


def _too_many_rows() -> InputError:
    return InputError(
        f"The upload has more than {MAX_IMPORT_ROWS} rows.",
        code="import_too_large",
        hint="Split the file and import the parts one after another.",
    )


def _json_rows(data: bytes, key: str) -> ParsedRows:
    def refuse_constant(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    try:
        document = json.loads(data.decode("utf-8-sig"), parse_constant=refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise InputError(f"The body is not valid JSON: {error}", code="invalid_json") from None
    items = document.get(key) if isinstance(document, dict) else None
    if not isinstance(items, list):
        raise InputError(f'The body must be {{"{key}": [...]}}.', code="invalid_import")
    if len(items) > MAX_IMPORT_ROWS:
        raise _too_many_rows()
    parsed = ParsedRows()
    for number, item in enumerate(items, start=1):
        if isinstance(item, dict):
            parsed.rows.append((number, item))
        else:
            parsed.errors.append(
                RowError(row=number, code="invalid_row", message="Each item must be an object.")
            )
    return parsed


def decode_text(data: bytes) -> str:
    """UTF-8 (a BOM is dropped) or BOM-marked UTF-16; anything else is refused rather than guessed."""
    try:
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return data.decode("utf-16")
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(
            "The file is not UTF-8 text.",
            code="import_not_utf8",
            hint='Save it as "CSV UTF-8" (Excel: File → Save As → CSV UTF-8 (Comma delimited)).',
        ) from None


def _delimiter(header_line: str) -> str:
    # Excel writes ";" where the decimal separator is a comma (Russian locales); Google Sheets writes ",".
    counts = {d: header_line.count(d) for d in (",", ";", "\t")}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _header(cells: list[str], columns: Collection[str], custom_columns: bool) -> list[str]:
    names: list[str] = []
    for cell in cells:
        name = cell.strip()
        if custom_columns and name.lower().startswith(CUSTOM_PREFIX):
            name = CUSTOM_PREFIX + name[len(CUSTOM_PREFIX) :].strip()
            if name == CUSTOM_PREFIX:
                raise InputError("A custom. column needs a name: custom.<name>.", code="import_bad_header")
        else:
            name = name.lower()
            if name not in columns:
                allowed = ", ".join(columns) + (", custom.<name>" if custom_columns else "")
                raise InputError(
                    f"Unknown column {cell.strip()[:60]!r}.",
                    code="import_unknown_column",
                    hint=f"The columns are: {allowed}.",
                )
        if name in names:
            raise InputError(f"The column {name!r} appears twice.", code="import_bad_header")
        names.append(name)
    return names


def _csv_rows(
    data: bytes, columns: Collection[str], list_columns: Collection[str], custom_columns: bool
) -> ParsedRows:
    text = decode_text(data)
    if "\x00" in text:
        raise InputError("The file contains NUL characters; it is not a CSV file.", code="import_bad_csv")
    delimiter = _delimiter(text.split("\n", 1)[0])
    _check_quotes_close(text, delimiter)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    parsed = ParsedRows()
    try:
        header_cells = next(reader, None)
        if header_cells is None or not any(c.strip() for c in header_cells):
            raise InputError("The file is empty: the first row must name the columns.", code="import_empty")
        names = _header(header_cells, columns, custom_columns)
        # Row numbers as a spreadsheet shows them: the header is row 1.
        for number, cells in enumerate(reader, start=2):
            if number - 1 > MAX_IMPORT_ROWS:
                raise _too_many_rows()
            if not any(c.strip() for c in cells):
                continue
            if len(cells) > len(names) and any(c.strip() for c in cells[len(names) :]):
                parsed.errors.append(
                    RowError(
                        row=number,
                        code="invalid_row",
                        message=f"The row has {len(cells)} cells; the header has {len(names)}.",
                    )
                )
                continue
            parsed.rows.append((number, _row(dict(zip(names, cells, strict=False)), list_columns)))
    except csv.Error as error:
        raise InputError(
            f"The CSV cannot be read near line {reader.line_num}: {error}", code="import_bad_csv"
        ) from None
    return parsed


def _check_quotes_close(text: str, delimiter: str) -> None:
    """Refuse a file in which a quoted value is never closed.

    The lenient reader the import uses (a stray quote inside a value is kept as text, as
    spreadsheets do) reads an unclosed quote to the end of the file: every row after it would
    become part of one value and be lost without an error. A strict pass finds that case; its
    other complaints are left to the lenient reader, which accepts them as before, so the pass
    goes on after them (the strict reader resumes at the next line) to the end of the file."""
    strict = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    records = 0
    while True:
        try:
            next(strict)
        except StopIteration:
            return
        except csv.Error as error:
            if "unexpected end of data" in str(error):
                raise InputError(
                    f"A quoted value that starts in row {records + 1} is never closed, so the rows "
                    "after it cannot be told apart.",
                    code="import_bad_csv",
                    hint='Close the quote, or write a quote inside a value twice ("").',
                    details={"row": records + 1},
                ) from None
        records += 1


def _row(cells: Mapping[str, str], list_columns: Collection[str]) -> dict[str, Any]:
    row: dict[str, Any] = {}
    custom: dict[str, str] = {}
    for name, raw in cells.items():
        value = raw.strip()
        if not value:
            continue
        if name.startswith(CUSTOM_PREFIX):
            custom[name[len(CUSTOM_PREFIX) :]] = value
        elif name in list_columns:
            row[name] = [item.strip() for item in value.split(LIST_SEPARATOR) if item.strip()]
        else:
            row[name] = value
    if custom:
        row["custom_fields"] = custom
    return row
