"""Twig's escaping strategies (html, js, css, url, html_attr), byte-compatible with Twig 3.

HTML escaping is PHP's ``htmlspecialchars(ENT_QUOTES | ENT_SUBSTITUTE)``: ``'`` becomes ``&#039;``
and ``"`` becomes ``&quot;`` (markupsafe would give ``&#39;``/``&#34;``, which differs from Twig).
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

from mailcard.errors import TemplateRuntimeError
from mailcard.rendering.values import Markup, to_str

__all__ = ["STRATEGIES", "auto_escape", "escape", "escape_html"]

STRATEGIES = ("html", "js", "css", "url", "html_attr")


def escape_html(text: str) -> str:
    # Cheap membership tests first: most values in e-mails contain nothing to escape.
    if "&" in text:
        text = text.replace("&", "&amp;")
    if "<" in text:
        text = text.replace("<", "&lt;")
    if ">" in text:
        text = text.replace(">", "&gt;")
    if '"' in text:
        text = text.replace('"', "&quot;")
    if "'" in text:
        text = text.replace("'", "&#039;")
    return text


_JS_RE = re.compile(r"[^a-zA-Z0-9,._]")
_JS_SHORT = {"\\": "\\\\", "/": "\\/", "\x08": "\\b", "\x0c": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _js_char(match: re.Match[str]) -> str:
    char = match.group(0)
    short = _JS_SHORT.get(char)
    if short is not None:
        return short
    code = ord(char)
    if code < 0x10000:
        return f"\\u{code:04X}"
    code -= 0x10000
    return f"\\u{0xD800 | (code >> 10):04X}\\u{0xDC00 | (code & 0x3FF):04X}"


def escape_js(text: str) -> str:
    return _JS_RE.sub(_js_char, text)


_CSS_RE = re.compile(r"[^a-zA-Z0-9]")


def escape_css(text: str) -> str:
    return _CSS_RE.sub(lambda m: f"\\{ord(m.group(0)):X} ", text)


_ATTR_RE = re.compile(r"[^a-zA-Z0-9,.\-_]")
_ATTR_NAMED = {34: "&quot;", 38: "&amp;", 60: "&lt;", 62: "&gt;"}


def _attr_char(match: re.Match[str]) -> str:
    char = match.group(0)
    code = ord(char)
    if (code <= 0x1F and char not in "\t\n\r") or 0x7F <= code <= 0x9F:
        return "&#xFFFD;"
    named = _ATTR_NAMED.get(code)
    if named is not None:
        return named
    if code < 0x100:
        return f"&#x{code:02X};"
    return f"&#x{code:04X};"


def escape_html_attr(text: str) -> str:
    return _ATTR_RE.sub(_attr_char, text)


def escape_url(text: str) -> str:
    return quote(text.encode("utf-8"), safe="-_.~")


_ESCAPERS = {
    "html": escape_html,
    "js": escape_js,
    "css": escape_css,
    "url": escape_url,
    "html_attr": escape_html_attr,
}


def escape(value: Any, strategy: Any = "html") -> str:
    """The ``escape``/``e`` filter: always escapes, even safe (Markup) strings."""
    if strategy is None:
        strategy = "html"
    escaper = _ESCAPERS.get(strategy)
    if escaper is None:
        raise TemplateRuntimeError(
            f'invalid escaping strategy "{strategy}"', hint="use html, js, css, url or html_attr"
        )
    if value is None:
        return ""
    text = to_str(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        # Twig returns numbers untouched; their text has nothing to escape except in css/js.
        return text if strategy in ("html", "html_attr", "url") else escaper(text)
    return escaper(text)


def auto_escape(value: Any, strategy: str = "html") -> str:
    """What autoescaping inserts around ``{{ }}``: safe strings pass through unchanged."""
    t = type(value)
    if t is str:
        if strategy == "html":
            return escape_html(value)
        return _ESCAPERS[strategy](value)
    if t is Markup:
        return str.__str__(value)
    if value is None:
        return ""
    if t is int and strategy == "html":
        return str(value)
    return escape(value, strategy)
