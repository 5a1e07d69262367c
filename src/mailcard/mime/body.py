"""Body parts: line-ending normalisation and the choice of Content-Transfer-Encoding.

Every part leaves here 7-bit clean with CRLF line endings and lines of at most 78 octets, so it
survives any relay, including ones without 8BITMIME. The rule, per part:

* ``7bit`` when the text is printable ASCII (plus tab), every line is <= 78 octets, no line ends in
  whitespace (some relays strip it) and no line starts with ``From `` (mbox delivery would turn it
  into ``>From ``);
* otherwise ``quoted-printable`` when it is at least a tenth smaller than ``base64`` (mostly-ASCII
  text, which it keeps readable), else ``base64``. Mostly-Latin text ends up quoted-printable;
  Cyrillic and CJK text, and HTML whose words are Cyrillic, base64 (quoted-printable would be at
  most a few percent smaller there, unreadable, and costs twice the CPU to make).
"""

from __future__ import annotations

import binascii
from typing import Final

from mailcard.errors import InputError

__all__ = ["EncodedBody", "encode_body", "normalize_text"]

_SEVEN_BIT_ALLOWED: Final = bytes(range(0x20, 0x7F)) + b"\t\r\n"
# Bytes quoted-printable may leave literal (binascii.b2a_qp with quotetabs=False); every other byte
# becomes "=XX", three octets.
_QP_LITERAL: Final = bytes(b for b in range(0x21, 0x7F) if b != ord("=")) + b" \t\r\n"
_MAX_7BIT_LINE: Final = 78
_B64_LINE: Final = 76  # RFC 2045 §6.8: at most 76 characters per encoded line

EncodedBody = tuple[str, bytes]
"""``(content_transfer_encoding, encoded_bytes)``; the bytes use CRLF and end without a newline."""


def normalize_text(text: str, what: str) -> bytes:
    """UTF-8 bytes of ``text`` with every CRLF, lone CR and lone LF turned into CRLF."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(
            f"the {what} part contains an unpaired surrogate and cannot be encoded as UTF-8",
            details={"field": what},
        ) from exc
    return data.replace(b"\n", b"\r\n")


def _is_7bit_safe(data: bytes) -> bool:
    # isascii() is a fast C scan; most non-English parts fail it at once, before the translate pass.
    if not data.isascii() or data.translate(None, _SEVEN_BIT_ALLOWED):
        return False
    if b" \r\n" in data or b"\t\r\n" in data or data.endswith((b" ", b"\t")):
        return False
    if data.startswith(b"From ") or b"\nFrom " in data:
        return False
    return max(map(len, data.split(b"\r\n"))) <= _MAX_7BIT_LINE


def _quoted_printable(data: bytes) -> bytes:
    # binascii's encoder is C and does what RFC 2045 §6.7 needs: soft breaks at 76, trailing
    # whitespace before a line break (and at the very end) encoded, '=' and 8-bit bytes encoded.
    encoded = binascii.b2a_qp(data, quotetabs=False, istext=True, header=False)
    if b"\n" not in data:
        # It copies the line-ending style of the input; input without any line break gets LF
        # soft breaks, so make them CRLF.
        encoded = encoded.replace(b"\n", b"\r\n")
    # Protect "From " at a line start against mbox munging: =46 is "F".
    if encoded.startswith(b"From "):
        encoded = b"=46" + encoded[1:]
    if b"\nFrom " in encoded:
        encoded = encoded.replace(b"\nFrom ", b"\n=46rom ")
    return encoded


def _base64(data: bytes) -> bytes:
    # One C call for the whole part, then the line breaks: the same bytes as encoding it 57 bytes (a
    # multiple of 3) at a time, without a call per line.
    encoded = binascii.b2a_base64(data, newline=False)
    return b"\r\n".join([encoded[i : i + _B64_LINE] for i in range(0, len(encoded), _B64_LINE)])


def _base64_size(size: int) -> int:
    chars = (size + 2) // 3 * 4
    return chars + 2 * max(0, (chars - 1) // _B64_LINE)


def encode_body(data: bytes) -> EncodedBody:
    """Pick and apply the transfer encoding for normalised (CRLF) UTF-8 ``data``."""
    if _is_7bit_safe(data):
        return "7bit", data
    b64_size = _base64_size(len(data))
    # Quoted-printable is at least the input plus two octets per byte it must escape (soft line
    # breaks only add). When even that is not a tenth smaller than base64 (Cyrillic, CJK, HTML
    # with Russian text), don't encode it at all: the choice is the same, and b2a_qp costs about
    # twice base64 (a third of the MIME time of such a message).
    if not _clearly_smaller(len(data) + 2 * len(data.translate(None, _QP_LITERAL)), b64_size):
        return "base64", _base64(data)
    qp = _quoted_printable(data)
    if _clearly_smaller(len(qp), b64_size):
        return "quoted-printable", qp
    return "base64", _base64(data)


def _clearly_smaller(qp_size: int, b64_size: int) -> bool:
    """Whether quoted-printable is at least a tenth smaller than base64: then the text is mostly
    ASCII and stays readable. Closer than that, base64 is cheaper to make and to decode."""
    return 10 * qp_size <= 9 * b64_size
