"""URL handling shared by the safety and link checks: what a browser's URL parser would see.

Two questions are answered here, both on attribute values that the HTML parser has already
entity-decoded:

* does this URL run script (``javascript:``, ``vbscript:``, script-bearing ``data:``)?
* which host does this URL point at, normalised the way a browser normalises it (case, trailing
  dot, userinfo, port, percent-decoding, IDNA/UTS #46 mapping including full-width dots)?
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import unquote

import idna

__all__ = [
    "SCRIPT_SCHEMES",
    "data_url_media_type",
    "extract_host",
    "is_script_bearing_media_type",
    "lenient_scheme",
    "normalise_host",
    "strip_url",
    "url_scheme",
]

# Schemes that run code when followed; jscript/mocha/livescript are legacy (IE, Netscape) but cost nothing.
SCRIPT_SCHEMES = frozenset({"javascript", "vbscript", "vbs", "livescript", "jscript", "mocha"})

# The URL parser strips leading/trailing C0 controls and spaces, and removes tab/LF/CR anywhere.
_C0_AND_SPACE = "".join(chr(c) for c in range(0x21))
_TAB_NEWLINE = str.maketrans("", "", "\t\n\r")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_SPECIAL_SCHEMES = frozenset({"http", "https", "ftp", "ws", "wss", "file"})


def strip_url(value: str) -> str:
    """The URL string as the URL parser reads it (C0/space trimmed, tab/CR/LF removed)."""
    value = value.strip(_C0_AND_SPACE)
    if "\t" in value or "\n" in value or "\r" in value:
        value = value.translate(_TAB_NEWLINE)
    return value


# Characters old engines skipped inside or around a scheme ("java\x01script:", "\u2028javascript:",
# NUL turned into U+FFFD by the parser). Only used to decide "does this run script", never for hosts.
_SCHEME_JUNK = re.compile(
    r"[\x00-\x20\x7f-\xa0\u1680\u180e\u2000-\u200f\u2028-\u202f\u205f-\u206f\u3000\ufeff\ufffd]+"
)


def lenient_scheme(value: str) -> str | None:
    """The scheme as the most lenient legacy engine would read it (junk characters removed)."""
    colon = value.find(":")
    if colon < 0:
        return None
    match = _SCHEME.match(value)
    if match is not None:
        return match.group(1).lower()  # the usual "https:": nothing to skip before the colon
    return url_scheme(_SCHEME_JUNK.sub("", value[: min(colon + 1, 200)]))


def url_scheme(value: str) -> str | None:
    """The lower-cased scheme of an already stripped URL, or None for a relative URL."""
    match = _SCHEME.match(value)
    return match.group(1).lower() if match else None


def data_url_media_type(stripped: str) -> str:
    """The media type of a ``data:`` URL (lower-case essence, '' when absent)."""
    body = stripped[5:]
    head = body.split(",", 1)[0]
    essence = unquote(head.split(";", 1)[0])
    return "".join(essence.split()).lower()


# Keywords that make a data: URL able to run script when loaded as a document, plugin or script.
_SCRIPT_BEARING_KEYWORDS = ("html", "xml", "script", "flash", "shockwave", "scriptlet", "hta")


def is_script_bearing_media_type(media_type: str, *, image_context: bool) -> bool:
    """Whether a ``data:`` URL with this media type can carry running script.

    SVG loaded as an *image* (``<img src>``, CSS backgrounds) never runs script, so ``image/svg+xml``
    is only dangerous outside image contexts (``<embed>``, ``<object>``, frames, links, SVG ``<use>``).
    """
    if image_context and media_type.startswith("image/"):
        return False
    return any(keyword in media_type for keyword in _SCRIPT_BEARING_KEYWORDS)


_PATH_START = re.compile(r"[/?#\\]")
_HOSTLIKE_FIRST_SEGMENT = re.compile(r"[^\s/?#\\@:]+\.[^\s/?#\\@:.]+\.?(?::\d*)?$")


def extract_host(value: str, *, allow_schemeless: bool = True) -> str | None:
    """The raw (not yet normalised) host of a URL, or None when it has none.

    Handles ``scheme://``, scheme-relative ``//host``, special schemes written with missing or
    backward slashes (``https:\\\\bit.ly``, as browsers accept), userinfo (``https://bit.ly@example.com``
    points at example.com) and, with ``allow_schemeless``, bare ``host.tld/path``.
    """
    url = strip_url(value)
    if not url:
        return None
    scheme = url_scheme(url)
    if scheme is not None:
        rest = url[len(scheme) + 1 :]
        if scheme in _SPECIAL_SCHEMES:
            rest = rest.lstrip("/\\")
        elif rest.startswith("//"):
            rest = rest[2:]
        else:
            return None  # mailto:, tel:, data:, javascript: ... have no host
    elif url.startswith(("//", "\\\\", "/\\", "\\/")):
        rest = url[2:]
    elif allow_schemeless:
        first = _PATH_START.split(url, maxsplit=1)[0]
        if "/" not in url[len(first) : len(first) + 1] or not _HOSTLIKE_FIRST_SEGMENT.match(first):
            return None  # needs a path: "bit.ly" alone is a domain mention, not a link
        rest = url
    else:
        return None
    authority = _PATH_START.split(rest, maxsplit=1)[0]
    host = authority.rpartition("@")[2]
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.split(":", 1)[0] or None


@lru_cache(maxsize=4096)
def normalise_host(raw: str) -> str:
    """A host as a browser would resolve it: percent-decoded, UTS #46 mapped, ASCII, no trailing dot.

    One leading ``www.`` is *not* removed here (that is the shortener rule's business). Labels that
    cannot be converted to punycode are kept in their mapped Unicode form, which never equals a listed
    ASCII domain — the right answer for homographs such as a Cyrillic ``bіt.ly``.
    """
    host = unquote(raw) if "%" in raw else raw
    if host.isascii():
        host = host.lower()
    else:
        try:
            host = idna.uts46_remap(host, std3_rules=False, transitional=False)
        except idna.IDNAError:
            host = host.lower()
        labels = []
        for label in host.split("."):
            if label.isascii():
                labels.append(label)
                continue
            try:
                labels.append("xn--" + label.encode("punycode").decode("ascii"))
            except UnicodeError:
                labels.append(label)
        host = ".".join(labels)
    return host.rstrip(".")
