"""Shared checks for the MIME tests: parse our bytes back with the stdlib and check wire rules."""

from __future__ import annotations

import email.header
import email.parser
import email.policy
import email.utils
import re
from email.message import EmailMessage, MIMEPart

from mailcard.mime import BuiltMessage

ENCODED_WORD = re.compile(rb"=\?([^?\s]+)\?([BbQq])\?([^?\s]*)\?=")


def parse(built: BuiltMessage) -> EmailMessage:
    """Parse with ``policy.default``. SMTPUTF8 messages are UTF-8 text (RFC 6532), so they are parsed
    as ``str``: the stdlib's *bytes* parser leaves raw UTF-8 header bytes undecoded."""
    if built.smtputf8:
        msg = email.parser.Parser(policy=email.policy.default).parsestr(built.data.decode("utf-8"))
    else:
        msg = email.parser.BytesParser(policy=email.policy.default).parsebytes(built.data)
    assert isinstance(msg, EmailMessage)
    return msg


def newlines(text: str) -> str:
    """What a body becomes on the wire, back in Python: every line break is one LF."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def assert_wire_rules(built: BuiltMessage) -> None:
    """CRLF only, no line over 998 octets, body lines <= 78, encoded-words <= 75 and self-contained."""
    data = built.data
    assert data.endswith(b"\r\n")
    assert b"\r" not in data.replace(b"\r\n", b""), "lone CR"
    assert b"\n" not in data.replace(b"\r\n", b""), "lone LF"
    assert b"\0" not in data
    if not built.smtputf8:
        assert data.isascii()
    head, _, body = data.partition(b"\r\n\r\n")
    for line in data.split(b"\r\n"):
        assert len(line) <= 998
    for line in body.split(b"\r\n"):
        assert len(line) <= 78, line
    for match in ENCODED_WORD.finditer(head):
        assert len(match.group(0)) <= 75, match.group(0)
        word = email.header.decode_header(match.group(0).decode("ascii"))
        raw, charset = word[0]
        assert charset == "utf-8"
        assert isinstance(raw, bytes)
        raw.decode("utf-8")  # each word holds whole characters


def content(part: MIMEPart) -> str:
    """Decoded text of a part with LF line endings (the stdlib keeps the wire's CRLF)."""
    text = part.get_content()
    assert isinstance(text, str)
    return newlines(text)


def mailboxes(msg: EmailMessage, field: str) -> list[tuple[str, str]]:
    """``(display_name, addr_spec)`` pairs of an address field.

    Works around CPython gh-128110 (fixed upstream in 2025, present in 3.11): the modern parser keeps
    the white space *between* two adjacent encoded-words of a display name, which RFC 2047 §6.2 says
    to ignore. When a name is split over several encoded-words we decode it with the legacy
    ``email.header`` decoder, which follows the RFC.
    """
    parsed = [(a.display_name, a.addr_spec) for a in msg[field].addresses]
    raw = next(value for name, value in msg.raw_items() if name.lower() == field.lower())
    raw_pairs = email.utils.getaddresses([raw.replace("\r\n", "").replace("\n", "")])
    assert len(raw_pairs) == len(parsed)
    result = []
    for (name, addr), (raw_name, _) in zip(parsed, raw_pairs, strict=True):
        if len(ENCODED_WORD.findall(raw_name.encode("utf-8"))) > 1:
            name = str(email.header.make_header(email.header.decode_header(raw_name)))
        result.append((name, addr))
    return result
