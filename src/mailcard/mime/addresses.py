"""Wire form of addresses: IDNA for domains, SMTPUTF8 detection, light structural checks.

Parsing and full validation happen upstream (:mod:`mailcard.validation.addresses`); here we only make
sure nothing that reaches a header can break it, and decide how the address is spelled on the wire:

* ASCII local part + Unicode domain -> domain as IDNA A-labels (``xn--...``), in headers and envelope;
* non-ASCII local part -> the address stays raw UTF-8 and the message needs SMTPUTF8 (RFC 6531/6532).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

import idna

from mailcard.domain.mailbox import Mailbox
from mailcard.errors import AddressError
from mailcard.mime.headers import check_no_injection

__all__ = ["ascii_domain", "needs_smtputf8", "wire_address"]

_BAD_DOMAIN: Final = re.compile(r"[\x00-\x20\x7f<>,;:\"\\()@]")
_BAD_UNQUOTED_LOCAL: Final = re.compile(r"[\x00-\x20\x7f<>,;:\"\\()\[\]@]")


def _invalid(address: str, why: str) -> AddressError:
    return AddressError(f"{address!r} is not a usable e-mail address: {why}", details={"address": address})


@lru_cache(maxsize=4096)
def ascii_domain(domain: str) -> str:
    """``domain`` as IDNA A-labels (UTS #46 mapping, as browsers and MTAs do). Cached: idna is slow."""
    if domain.isascii():
        return domain.lower()
    try:
        return idna.encode(domain, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise _invalid(domain, f"the domain cannot be converted to IDNA ({exc})") from exc


def _check(address: str) -> tuple[str, str]:
    check_no_injection(address, "address")
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise _invalid(address, "it needs a local part, '@' and a domain")
    if _BAD_DOMAIN.search(domain):
        raise _invalid(address, "the domain contains characters that are not allowed")
    quoted = len(local) > 1 and local.startswith('"') and local.endswith('"')
    if not quoted and _BAD_UNQUOTED_LOCAL.search(local):
        raise _invalid(address, "the local part contains characters that are not allowed")
    return local, domain


def needs_smtputf8(mailbox: Mailbox) -> bool:
    """True when the address can only be written in UTF-8 (non-ASCII local part)."""
    return not mailbox.local_part.isascii()


def wire_address(address: str) -> str:
    """The address as it appears in headers and in MAIL FROM / RCPT TO."""
    local, domain = _check(address)
    if address.isascii():
        return address
    if local.isascii():
        return f"{local}@{ascii_domain(domain)}"
    return address  # SMTPUTF8: local part and domain travel as UTF-8
