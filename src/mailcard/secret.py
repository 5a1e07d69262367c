"""``Secret``: a string that never shows itself by accident.

Passwords and tokens travel through the code as ``Secret`` so that ``repr``, ``str``, f-strings,
logging and JSON dumps print a mask; only an explicit ``reveal()`` gives the value. Encryption at rest
lives in :mod:`mailcard.crypto`.
"""

from __future__ import annotations

from typing import Final

MASK: Final = "********"


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))
