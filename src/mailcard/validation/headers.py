"""Header safety: CR, LF or NUL in a value that becomes a header (subject, display names, preheader).

A line break in a header value lets whoever controls the value add headers of their own (``Bcc:``)
or end the header block early. The preheader is checked too: it often travels in a header or is
copied into the subject line by templates.
"""

from __future__ import annotations

import re

from mailcard.errors import HeaderInjectionError
from mailcard.validation.findings import Finding, Location, Part

__all__ = ["assert_header_safe", "find_header_injection", "header_injection_finding"]

_FORBIDDEN = re.compile(r"[\r\n\x00]")
_NAMES = {"\r": "a carriage return (CR)", "\n": "a line feed (LF)", "\x00": "a NUL character"}


def find_header_injection(value: str) -> int | None:
    """The index of the first CR, LF or NUL in ``value``, or None when the value is safe."""
    match = _FORBIDDEN.search(value)
    return None if match is None else match.start()


def _message(value: str, field: str, index: int) -> str:
    what = _NAMES[value[index]]
    return (
        f"The {field} contains {what} at position {index + 1}: a header value must be one line, "
        f"otherwise it can inject extra headers. Remove the line break."
    )


def assert_header_safe(value: str, field: str) -> None:
    """Raise :class:`HeaderInjectionError` if ``value`` (for header ``field``) has CR, LF or NUL."""
    index = find_header_injection(value)
    if index is not None:
        raise HeaderInjectionError(
            _message(value, field, index),
            hint="Type the text on one line.",
            details={"field": field, "position": index + 1},
        )


def header_injection_finding(value: str, field: str, part: Part) -> Finding | None:
    """The ``header_injection`` error finding for ``value``, or None when it is safe."""
    index = find_header_injection(value)
    if index is None:
        return None
    line = value.count("\n", 0, index) + 1
    column = index - (value.rfind("\n", 0, index) + 1) + 1
    excerpt = value[max(0, index - 20) : index + 20]
    return Finding(
        code="header_injection",
        severity="error",
        message=_message(value, field, index),
        hint="Type the text on one line.",
        location=Location(part, line, column),
        excerpt=excerpt,
    )
