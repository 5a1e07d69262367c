"""Header field text: RFC 2047 encoded-words, folding, mailbox lists, extra-header checks.

This module owns the *text* of header fields; :mod:`mailcard.mime.builder` decides which fields a
message has and in what order. Everything here returns ``str`` lines ending in CRLF. In SMTPUTF8
mode (RFC 6532) non-ASCII text may go out as raw UTF-8; otherwise the result is pure ASCII.

Length rules we keep: every encoded-word is at most 75 characters (RFC 2047 §2), lines are folded
at 76 octets where a fold point exists (RFC 2047 §2 asks for that on lines carrying encoded-words;
we use the same limit everywhere, below RFC 5322's recommended 78), and no line ever exceeds 998
octets (RFC 5322 §2.1.1) -- when raw text cannot be folded under that, we fall back to encoded-words.
"""

from __future__ import annotations

import binascii
import re
import unicodedata
from collections.abc import Sequence
from typing import Final

from mailcard.errors import HeaderInjectionError, InputError

__all__ = [
    "FOLD_LIMIT",
    "HARD_LIMIT",
    "check_no_injection",
    "encoded_words",
    "extra_header",
    "fold",
    "mailbox_list_header",
    "name_tokens",
    "unstructured_header",
]

FOLD_LIMIT: Final = 76
HARD_LIMIT: Final = 998
_EW_MAX: Final = 75
_EW_OVERHEAD: Final = len("=?utf-8?B?") + len("?=")  # 12, the same for Q
# Smallest first-word budget we accept: one 4-byte character in B encoding (8 chars) + overhead.
_EW_MIN_BUDGET: Final = _EW_OVERHEAD + 8

# RFC 2047 §5(3): the characters a Q encoded-word may carry literally inside a phrase. We use the
# phrase-safe set for unstructured text too, so one encoder serves both places.
_Q_SAFE: Final = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")
_Q_SAFE_BYTES: Final = bytes(sorted(_Q_SAFE)) + b" "
_Q_TRANS: Final = {b: (chr(b) if b in _Q_SAFE else f"={b:02X}") for b in range(256)} | {0x20: "_"}
_Q_COST: Final = bytes(1 if (b in _Q_SAFE or b == 0x20) else 3 for b in range(256))

# atext (RFC 5322 §3.2.3); in UTF-8 mode any non-ASCII character is atext too (RFC 6532 §3.2).
_ATEXT_ASCII: Final = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]"
_ATEXT_UTF8: Final = r"[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~\u0080-\U0010ffff]"
_ATOM_PHRASE_ASCII: Final = re.compile(rf"{_ATEXT_ASCII}+(?: {_ATEXT_ASCII}+)*")
_ATOM_PHRASE_UTF8: Final = re.compile(rf"{_ATEXT_UTF8}+(?: {_ATEXT_UTF8}+)*")
# Printable ASCII only: such text can go out raw in any header.
_PRINTABLE_ASCII: Final = re.compile(r"[\x20-\x7e]*")
# For raw UTF-8 (SMTPUTF8) text: no C0/C1 controls, DEL or Unicode line/paragraph separators,
# which some readers treat as line breaks, and no lone surrogates, which UTF-8 cannot carry (such
# text goes to the encoder, which refuses it with a clear error).
_UNSAFE_UTF8: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff]")
_PRINTABLE_OR_TAB: Final = re.compile(r"[\x20-\x7e\t]*")
_LOOKS_ENCODED: Final = re.compile(r"=\?.*\?=")
_NAME_JUNK: Final = re.compile(r"[ \x00-\x1f\x7f-\x9f]{2,}|[\x00-\x1f\x7f-\x9f]|^ | $")
_HEADER_NAME: Final = re.compile(r"[\x21-\x39\x3b-\x7e]+")
_WSP_PIECES: Final = re.compile(r"[ \t]+[^ \t]+")
# A display name longer than this goes out as encoded-words, which fold; a quoted-string does not.
_MAX_RAW_NAME: Final = 200

# Characters a split must not precede: they attach to the character before them (combining
# marks are checked through unicodedata). Splitting is legal anywhere between code points, but
# an encoded-word boundary inside a grapheme cluster renders badly in some clients.
_GLUE: Final = re.compile(
    r"[\u200c\u200d\ufe00-\ufe0f\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f\U000e0100-\U000e01ef]"
)
_ZWJ_UTF8: Final = "\u200d".encode()


class _TooLong(Exception):
    """Raw text cannot be folded under the 998-octet hard limit."""


def check_no_injection(value: str, what: str) -> None:
    """Refuse CR, LF and NUL in anything that becomes header text."""
    if "\r" in value or "\n" in value or "\0" in value:
        raise HeaderInjectionError(
            f"{what} contains a line break or NUL character",
            hint="header values must be a single line",
            details={"field": what},
        )


def _octets(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def fold(name: str, pieces: Sequence[str], *, allow_first_fold: bool = False) -> str:
    """Join ``pieces`` into one header field, folding before a piece when the line would pass 76.

    Every piece starts with its own whitespace (the folding white space), so folding only inserts
    CRLF and unfolding gives back exactly the joined text. The first piece stays on the name's line
    unless ``allow_first_fold``. Raises ``_TooLong`` if a line ends up over 998 octets.
    """
    parts = [name, ":"]
    line = len(name) + 1
    for index, piece in enumerate(pieces):
        size = _octets(piece)
        if line + size > FOLD_LIMIT and (index > 0 or allow_first_fold):
            parts.append("\r\n")
            if line > HARD_LIMIT:
                raise _TooLong
            line = 0
        parts.append(piece)
        line += size
    if line > HARD_LIMIT:
        raise _TooLong
    parts.append("\r\n")
    return "".join(parts)


def _utf8(text: str, what: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InputError(
            f"{what} contains an unpaired surrogate and cannot be encoded as UTF-8",
            details={"field": what},
        ) from exc


def _char_start(data: bytes, cut: int) -> int:
    """Move ``cut`` back to the first byte of the UTF-8 character it points into."""
    while cut > 0 and 0x80 <= data[cut] <= 0xBF:
        cut -= 1
    return cut


def _char_at(data: bytes, start: int) -> str:
    lead = data[start]
    size = 1 if lead < 0x80 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4
    return data[start : start + size].decode("utf-8")


def _prev_char_start(data: bytes, start: int) -> int:
    return _char_start(data, start - 1)


def _is_glued(data: bytes, cut: int) -> bool:
    """True when a split at byte ``cut`` (a character start) would break a grapheme cluster."""
    # The character before is a ZWJ exactly when the three bytes before are its UTF-8 (the data is
    # valid UTF-8 and ``cut`` a character start); for cut < 3 the slice is shorter, never equal.
    after_zwj = data[cut - 3 : cut] == _ZWJ_UTF8
    if data[cut] < 0x80:
        # An ASCII character only glues when the character before is a ZWJ.
        return after_zwj
    char = _char_at(data, cut)
    if after_zwj or _GLUE.match(char) or unicodedata.category(char).startswith("M"):
        return True
    # Regional indicators come in pairs (flags); never split right after the first of a pair.
    return "\U0001f1e6" <= char <= "\U0001f1ff"


def _split_point(data: bytes, start: int, limit: int) -> int:
    """Best end (exclusive) for a chunk ``data[start:limit]``: a character start outside a cluster."""
    if limit >= len(data):
        return len(data)
    cut = _char_start(data, limit)
    if cut <= start:
        # Not even one character fits: take exactly one character (the word runs a bit long).
        lead = data[start]
        return start + (1 if lead < 0x80 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4)
    best = cut
    # Back off over a cluster, but give up after a few characters: a valid code-point split is
    # better than an endless cluster (long ZWJ chains, runs of regional indicators).
    for _ in range(8):
        if not _is_glued(data, best):
            return best
        previous = _prev_char_start(data, best)
        if previous <= start:
            break
        best = previous
    return cut


def encoded_words(text: str, first_budget: int = _EW_MAX, *, what: str = "header") -> list[str]:
    """RFC 2047 encoded-words for ``text``: UTF-8, B or Q (whichever is shorter), each <= 75 chars.

    Every word holds whole characters (never half a UTF-8 sequence) and, where possible, whole
    grapheme clusters. The first word is at most ``first_budget`` characters so it fits after the
    field name. All whitespace is inside the words: the spaces between words carry no meaning.
    """
    data = _utf8(text, what)
    unsafe = len(data.translate(None, _Q_SAFE_BYTES))
    use_q = len(data) + 2 * unsafe <= (len(data) + 2) // 3 * 4
    budget = max(_EW_MIN_BUDGET, min(first_budget, _EW_MAX)) - _EW_OVERHEAD
    words: list[str] = []
    start = 0
    while start < len(data):
        if use_q:
            # Walk byte costs (1 or 3) until the payload budget is used up.
            end = start
            cost = 0
            while end < len(data) and cost + _Q_COST[data[end]] <= budget:
                cost += _Q_COST[data[end]]
                end += 1
            end = _split_point(data, start, end)
            payload = data[start:end].decode("latin-1").translate(_Q_TRANS)
            words.append(f"=?utf-8?Q?{payload}?=")
        else:
            end = _split_point(data, start, start + budget // 4 * 3)
            payload = binascii.b2a_base64(data[start:end], newline=False).decode("ascii")
            words.append(f"=?utf-8?B?{payload}?=")
        start = end
        budget = _EW_MAX - _EW_OVERHEAD
    return words


def _raw_ok(text: str, utf8: bool) -> bool:
    """Can ``text`` go out unencoded? Printable, single-line, and not mistakable for an encoded-word."""
    if "=?" in text:
        return False
    if text.isascii():
        return _PRINTABLE_ASCII.fullmatch(text) is not None
    return utf8 and _UNSAFE_UTF8.search(text) is None


def unstructured_header(name: str, value: str, *, utf8: bool, what: str | None = None) -> str:
    """A Subject-like field. Raw when safe (ASCII, or UTF-8 in SMTPUTF8 mode), else encoded-words.

    Raw text must have no leading/trailing whitespace (readers strip it) and fold only where it
    already has spaces; when that is impossible the value is encoded instead, so it always
    survives exactly.
    """
    label = what or name
    check_no_injection(value, label)
    if not value:
        return f"{name}:\r\n"
    if value == value.strip(" ") and _raw_ok(value, utf8):
        try:
            return fold(name, _WSP_PIECES.findall(" " + value))
        except _TooLong:
            pass
    words = encoded_words(value, FOLD_LIMIT - len(name) - 2, what=label)
    return fold(name, [" " + word for word in words], allow_first_fold=True)


def normalize_display_name(display_name: str) -> str:
    """Turn control characters into spaces, collapse runs of spaces and trim the ends.

    RFC 5322 §3.2.2 makes white-space runs in a phrase mean one space, and readers (the stdlib
    included) collapse them even inside encoded-words; control characters in a name are junk at
    best and terminal/display spoofing at worst. Doing it here means what we send is what they show.
    """
    if _NAME_JUNK.search(display_name):
        return _NAME_JUNK.sub(" ", display_name).strip(" ")
    return display_name


def name_tokens(display_name: str, *, utf8: bool, first_budget: int = _EW_MAX) -> list[str]:
    """The display-name part of a mailbox as tokens (no spaces between them are significant)."""
    if not display_name:
        return []
    if len(display_name) <= _MAX_RAW_NAME and _raw_ok(display_name, utf8):
        atoms = _ATOM_PHRASE_UTF8 if utf8 else _ATOM_PHRASE_ASCII
        if atoms.fullmatch(display_name):
            return display_name.split(" ")
        return ['"' + display_name.replace("\\", "\\\\").replace('"', '\\"') + '"']
    return encoded_words(display_name, first_budget, what="display name")


def mailbox_list_header(name: str, mailboxes: Sequence[tuple[str, str]], *, utf8: bool) -> str:
    """``From``/``To``/``Cc``/``Reply-To`` from ``(display_name, wire_address)`` pairs."""
    pieces: list[str] = []
    first_budget = FOLD_LIMIT - len(name) - 2
    for index, (display_name, address) in enumerate(mailboxes):
        check_no_injection(display_name, "display name")
        display_name = normalize_display_name(display_name)
        tokens = name_tokens(display_name, utf8=utf8, first_budget=first_budget if index == 0 else _EW_MAX)
        tokens.append(f"<{address}>" if tokens else address)
        if index < len(mailboxes) - 1:
            tokens[-1] += ","
        pieces.extend(" " + token for token in tokens)
    try:
        return fold(name, pieces)
    except _TooLong as exc:  # an address or quoted name of ~1000 octets: refuse, don't corrupt
        raise InputError(f"the {name} header is too long to send", details={"field": name}) from exc


# Fields the builder writes itself; letting a caller add them would duplicate or contradict ours.
RESERVED_HEADERS: Final = frozenset(
    {
        "from",
        "sender",
        "to",
        "cc",
        "bcc",
        "reply-to",
        "subject",
        "date",
        "message-id",
        "mime-version",
        "return-path",
    }
)


def extra_header(name: str, value: str, *, utf8: bool) -> str:
    """A caller-supplied field such as ``X-Mailcard-Id`` or ``List-Unsubscribe``.

    The name must be a valid field name and not one the builder owns; the value must be one line.
    ASCII values go out raw (folded at their own whitespace, surrounding whitespace trimmed) because
    structured fields like ``List-Unsubscribe`` must not be encoded; non-ASCII values are treated as
    unstructured text (encoded-words, or raw UTF-8 in SMTPUTF8 mode).
    """
    check_no_injection(name, "header name")
    check_no_injection(value, f"header {name}")
    if not _HEADER_NAME.fullmatch(name):
        raise InputError(f"{name!r} is not a valid header name", details={"field": name})
    lowered = name.lower()
    if lowered in RESERVED_HEADERS or lowered.startswith("content-"):
        raise InputError(
            f"the {name} header is set by mailcard itself",
            hint="use the message fields (sender, to, subject, ...) instead of extra headers",
            details={"field": name},
        )
    value = value.strip(" \t")
    if not value:
        return f"{name}:\r\n"
    # Text that looks like an encoded-word would be decoded by readers, so it must be encoded.
    if _PRINTABLE_OR_TAB.fullmatch(value) and not _LOOKS_ENCODED.search(value):
        try:
            return fold(name, _WSP_PIECES.findall(" " + value))
        except _TooLong as exc:
            raise InputError(
                f"the {name} header has a line longer than 998 characters",
                details={"field": name},
            ) from exc
    return unstructured_header(name, value, utf8=utf8)
