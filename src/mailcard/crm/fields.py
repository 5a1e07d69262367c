"""Checking and normalising the values people type into CRM records (names, addresses, locales, ...).

One place for these rules, so a customer created through the API, the CSV import or the library
is cleaned the same way, and every refusal is an :class:`~mailcard.errors.InputError` with a
stable code. Also the ``UNSET`` marker that patches use to tell "leave as is" from "clear".
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any, Final

from mailcard.db.rows import could_be_row_id
from mailcard.errors import InputError
from mailcard.validation.addresses import parse_mailbox

# Custom numbers stay inside what every JavaScript client can hold exactly.
MAX_SAFE_INTEGER: Final = 2**53 - 1

MAX_CUSTOM_FIELDS: Final = 100
MAX_CUSTOM_NAME: Final = 64
MAX_CUSTOM_TEXT: Final = 10_000
MAX_CUSTOM_LIST: Final = 100
MAX_TAGS: Final = 100
MAX_TAG: Final = 64

CUSTOM_NAME_PATTERN: Final = r"^[\w-]+$"
LOCALE_PATTERN: Final = r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8}){0,3}$"

_custom_name = re.compile(CUSTOM_NAME_PATTERN)
_locale = re.compile(LOCALE_PATTERN)


class Unset(Enum):
    """The type of :data:`UNSET`: a patch field nobody set, as opposed to one set to ``None``."""

    UNSET = "unset"

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Final = Unset.UNSET


def _has_control(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def optional_text(value: str | None, *, field: str, max_length: int, code: str) -> str | None:
    """Whitespace collapsed to single spaces; empty becomes ``None``; control characters refused."""
    if value is None:
        return None
    if "\x00" in value or "\x7f" in value:
        raise InputError(f"The {field} contains a control character.", code=code, details={"field": field})
    cleaned = " ".join(value.split())
    if _has_control(cleaned):
        raise InputError(f"The {field} contains a control character.", code=code, details={"field": field})
    if len(cleaned) > max_length:
        raise InputError(
            f"The {field} is longer than {max_length} characters.", code=code, details={"field": field}
        )
    return cleaned or None


def required_text(value: str, *, field: str, max_length: int, code: str) -> str:
    cleaned = optional_text(value, field=field, max_length=max_length, code=code)
    if cleaned is None:
        raise InputError(f"The {field} is required.", code=code, details={"field": field})
    return cleaned


def optional_email(value: str | None) -> str | None:
    """The bare, normalised address; empty means "no address" (allowed: sending to it fails later)."""
    if value is None or not value.strip():
        return None
    mailbox = parse_mailbox(value.strip())
    if len(mailbox.address) > 320:
        raise InputError("The e-mail address is longer than 320 characters.", code="invalid_address")
    return mailbox.address


def optional_locale(value: str | None) -> str | None:
    """``ru``, ``en``, ``zh-CN``, ``zh-Hans-CN``: language lower case, region upper, script title case."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    if len(text) > 16 or not _locale.match(text):
        raise InputError(
            f"{text[:40]!r} is not a locale.",
            code="invalid_locale",
            hint="Use a language code such as ru, en or zh-CN.",
            details={"field": "locale"},
        )
    language, *rest = re.split(r"[-_]", text)
    parts = [language.lower()]
    for part in rest:
        if len(part) == 4 and part.isalpha():
            parts.append(part.title())
        elif len(part) in (2, 3):
            parts.append(part.upper())
        else:
            parts.append(part.lower())
    return "-".join(parts)


def optional_phone(value: str | None) -> str | None:
    cleaned = optional_text(value, field="phone", max_length=64, code="invalid_phone")
    if cleaned is None:
        return None
    # CRMs keep phones as free text ("+7 495 123-45-67 доб. 12"); only a text without digits is refused.
    if not any(c.isdigit() for c in cleaned):
        raise InputError(
            f"{cleaned!r} is not a phone number.",
            code="invalid_phone",
            hint="Write digits, optionally with +, spaces, dashes and brackets: +7 495 123-45-67.",
            details={"field": "phone"},
        )
    return cleaned


def optional_id(value: int | None, *, field: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not could_be_row_id(value):
        raise InputError(f"The {field} is not a valid id.", code="invalid_id", details={"field": field})
    return value


def tag_list(values: Sequence[str]) -> list[str]:
    """Tags trimmed, duplicates dropped (first spelling kept), order kept."""
    if isinstance(values, str):
        raise InputError("Tags are a list of words.", code="invalid_tag")
    tags: list[str] = []
    seen: set[str] = set()
    for value in values:
        if not isinstance(value, str):
            raise InputError("Tags are a list of words.", code="invalid_tag")
        tag = optional_text(value, field="tag", max_length=MAX_TAG, code="invalid_tag")
        if tag is not None and tag.casefold() not in seen:
            seen.add(tag.casefold())
            tags.append(tag)
    if len(tags) > MAX_TAGS:
        raise InputError(f"A customer has at most {MAX_TAGS} tags.", code="invalid_tag")
    return tags


def custom_field_map(values: Mapping[str, Any]) -> dict[str, Any]:
    """Custom fields: names of letters, digits, ``_`` and ``-``; values JSON scalars or lists of them."""
    if not isinstance(values, Mapping):
        raise InputError("Custom fields are an object of name: value.", code="invalid_custom_field")
    if len(values) > MAX_CUSTOM_FIELDS:
        raise InputError(
            f"A customer has at most {MAX_CUSTOM_FIELDS} custom fields.", code="invalid_custom_field"
        )
    cleaned: dict[str, Any] = {}
    for name, value in values.items():
        if not isinstance(name, str) or len(name) > MAX_CUSTOM_NAME or not _custom_name.match(name):
            raise InputError(
                f"{str(name)[:80]!r} is not a custom field name.",
                code="invalid_custom_field",
                hint=f"Use up to {MAX_CUSTOM_NAME} letters, digits, _ and -, e.g. birthday or loyalty_level.",
            )
        if isinstance(value, list):
            if len(value) > MAX_CUSTOM_LIST:
                raise InputError(
                    f"The custom field {name!r} has more than {MAX_CUSTOM_LIST} items.",
                    code="invalid_custom_field",
                )
            cleaned[name] = [_custom_scalar(name, item) for item in value]
        else:
            cleaned[name] = _custom_scalar(name, value)
    return cleaned


def _custom_scalar(name: str, value: Any) -> Any:
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise InputError(f"The custom field {name!r} is too large a number.", code="invalid_custom_field")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(
                f"The custom field {name!r} is not a finite number.", code="invalid_custom_field"
            )
        return value
    if isinstance(value, str):
        if "\x00" in value:
            raise InputError(
                f"The custom field {name!r} contains a NUL character.", code="invalid_custom_field"
            )
        if len(value) > MAX_CUSTOM_TEXT:
            raise InputError(
                f"The custom field {name!r} is longer than {MAX_CUSTOM_TEXT} characters.",
                code="invalid_custom_field",
            )
        return value
    raise InputError(
        f"The custom field {name!r} must be text, a number, true/false, null or a list of them.",
        code="invalid_custom_field",
    )


def like_patterns(word: str) -> list[str]:
    """``%word%`` LIKE patterns in the spellings a case-insensitive search must try.

    SQLite folds only ASCII case in LIKE and lower(), so "ольга" would not find "Ольга"; trying the
    word as typed, lower, upper and capitalised covers how names are written, on every database.
    """
    escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    spellings = dict.fromkeys([escaped, escaped.lower(), escaped.upper(), escaped.capitalize()])
    return [f"%{s}%" for s in spellings]
