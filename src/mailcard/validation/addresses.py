"""Turning user text into validated :class:`~mailcard.domain.mailbox.Mailbox` values.

Syntax and internationalisation are checked with email-validator (IDN domains, UTF-8 local parts);
no DNS look-ups. Accepted forms: ``addr``, ``<addr>``, ``Name <addr>``, ``"Doe, John" <addr>``,
UTF-8 names (``客服团队 <support@company.com>``) and RFC 2047 encoded names. Recipient lists are
split on commas, semicolons and line breaks outside quotes and angle brackets.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from email.header import decode_header, make_header
from typing import Final

import email_validator
from email_validator import EmailNotValidError, validate_email

from mailcard.domain.mailbox import Mailbox
from mailcard.errors import AddressError, HeaderInjectionError
from mailcard.validation.findings import Finding, Location, Part
from mailcard.validation.headers import assert_header_safe, find_header_injection

__all__ = ["parse_mailbox", "parse_recipient_list", "split_recipients"]

_SEPARATORS = frozenset(",;\n\r")
# Characters that make split_recipients look at every character; most inputs (one address) have none.
_SPLIT_SYNTAX: Final = re.compile(r'[,;\n\r"<>]')

# The everyday address — ASCII letters, digits, ``_+-`` and dots in the local part, a domain of
# plain ASCII labels ending in a letters-only TLD — is the one shape whose email-validator result
# is known without running it (about 40 µs an address, paid for every recipient of a mailing). For
# it, email-validator only lower-cases the domain, so that is all the fast path does. Anything else
# (quotes, Unicode, IDNA ``xn--`` or other ``--`` labels, one-letter TLDs, lengths near the limits,
# special-use domains) goes to email-validator, which also words the error. tests/validation
# compares both on generated addresses.
_PLAIN_ADDRESS: Final = re.compile(
    r"[A-Za-z0-9_+\-]+(?:\.[A-Za-z0-9_+\-]+)*"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63})"
)
# email-validator's own list, minus "test" (we pass test_environment=True), as ".name" suffixes:
# "." + domain ends with one exactly when the domain is that name or a subdomain of it, which one
# C-level endswith() answers (a generator over the names cost a fifth of the fast path).
_SPECIAL_USE: Final = tuple("." + d for d in email_validator.SPECIAL_USE_DOMAIN_NAMES if d != "test")


def _plain_address(address: str) -> str | None:
    """email-validator's ``normalized`` form of ``address`` when it is an everyday address, else None."""
    match = _PLAIN_ADDRESS.fullmatch(address)
    if match is None or len(address) > 200 or address.index("@") > 64 or "--" in match.group(1):
        return None
    domain = match.group(1).lower()
    if ("." + domain).endswith(_SPECIAL_USE):
        return None
    return address[: match.start(1)] + domain


def split_recipients(text: str) -> list[str]:
    """Split a recipient list on ``,``, ``;`` and line breaks that are not inside quotes or ``<...>``."""
    if _SPLIT_SYNTAX.search(text) is None:
        # No separator, quote or bracket: one entry, and the loop below would only copy it.
        entry = text.strip()
        return [entry] if entry else []
    entries: list[str] = []
    current: list[str] = []
    in_quotes = in_angle = escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif in_quotes and char == "\\":
            escaped = True
        elif char == '"' and not in_angle:
            in_quotes = not in_quotes
        elif char == "<" and not in_quotes:
            in_angle = True
        elif char == ">" and not in_quotes:
            in_angle = False
        elif char in _SEPARATORS and not in_quotes and not in_angle:
            entries.append("".join(current))
            current = []
            continue
        current.append(char)
    entries.append("".join(current))
    return [entry.strip() for entry in entries if entry.strip()]


def _unquote(name: str) -> str:
    name = name.strip()
    if len(name) >= 2 and name[0] == name[-1] == '"':
        inner = name[1:-1]
        out: list[str] = []
        escaped = False
        for char in inner:
            if escaped or char != "\\":
                out.append(char)
                escaped = False
            else:
                escaped = True
        return "".join(out)
    if "=?" in name:
        try:
            return str(make_header(decode_header(name)))
        except (ValueError, LookupError, UnicodeDecodeError):
            return name
    return name


def _split_name(text: str) -> tuple[str, str]:
    """(display name, address) of one entry."""
    if text.endswith(">") and "<" in text:
        index = text.rindex("<")
        return _unquote(text[:index]), text[index + 1 : -1].strip()
    return "", text


@functools.lru_cache(maxsize=4096)
def parse_mailbox(text: str) -> Mailbox:
    """One mailbox from text such as ``Иван <ivan@пример.рф>``.

    Memoised: the same sender parses on every message of a mailing, and email-validator costs about
    200 µs an address. ``Mailbox`` is immutable, so sharing the result is safe.

    Raises :class:`AddressError` (``details['address']`` is the input) when it does not parse, and
    :class:`HeaderInjectionError` when the display name contains CR, LF or NUL.
    """
    entry = text.strip()
    if not entry:
        raise AddressError(
            "The e-mail address is empty.",
            hint="Enter an address such as name@example.com.",
            details={"address": text},
        )
    name, address = _split_name(entry)
    if find_header_injection(name) is not None:
        assert_header_safe(name, f"display name of {address!r}")
    normalized = _plain_address(address)
    if normalized is None:
        try:
            # test_environment: accept RFC 2606 ".test" domains, used by demo and test set-ups; they never reach anyone.
            result = validate_email(address, check_deliverability=False, test_environment=True)
        except EmailNotValidError as error:
            raise AddressError(
                f"{entry!r} is not a valid e-mail address: {error}",
                hint="Check the address for typos; it should look like name@example.com.",
                details={"address": entry},
            ) from None
        normalized = result.normalized
    return Mailbox(address=normalized, display_name=name.strip())


def parse_recipient_list(
    recipients: str | Iterable[str], *, part: Part = "to"
) -> tuple[list[Mailbox], list[Finding]]:
    """All good mailboxes (duplicates removed, case-insensitively) and one finding per bad entry.

    Each bad entry is reported by itself (``invalid_address`` or ``header_injection``), so one typo
    does not hide the rest of the list.
    """
    texts = [recipients] if isinstance(recipients, str) else list(recipients)
    mailboxes: list[Mailbox] = []
    findings: list[Finding] = []
    seen: set[str] = set()
    for text in texts:
        for entry in split_recipients(text):
            try:
                mailbox = parse_mailbox(entry)
            except AddressError as error:
                findings.append(
                    Finding("invalid_address", "error", error.message, error.hint, Location(part), entry)
                )
                continue
            except HeaderInjectionError as error:
                findings.append(
                    Finding("header_injection", "error", error.message, error.hint, Location(part), entry)
                )
                continue
            key = mailbox.address.lower()
            if key not in seen:
                seen.add(key)
                mailboxes.append(mailbox)
    return mailboxes, findings
