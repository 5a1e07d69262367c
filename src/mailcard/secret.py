"""``Secret``: a string that never shows itself by accident.

Passwords and tokens travel through the code as ``Secret`` so that ``repr``, ``str``, f-strings,
logging and JSON dumps print a mask; only an explicit ``reveal()`` gives the value. ``masked_url``
masks the password a URL carries in its user-info. Encryption at rest lives in :mod:`mailcard.crypto`.
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


def masked_url(url: str, mask: str = MASK, *, cautious: bool = False) -> str:
    """``url`` with the password of its user-info replaced by ``mask`` (safe to print).

    ``cautious``, for text that may not even be a URL (an error message about it): a user-info
    without a password is masked too, and text without a scheme is all mask when it holds ``@`` or
    ``:``. Otherwise such text is all mask only when it holds ``@``.
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        return mask if "@" in url or (cautious and ":" in url) else url
    userinfo, at, host = rest.rpartition("@")
    if not at:
        return url
    user, colon, _ = userinfo.partition(":")
    return f"{scheme}://{user}:{mask}@{host}" if colon or cautious else f"{scheme}://{user}@{host}"
