"""CSS checks: legacy script hooks in style sheets and ``style`` attributes, and the URLs CSS loads.

CSS is normalised before it is judged, the way old engines read it: comments removed, CSS escapes
(``\\65 xpression``, ``\\ja\\vascript``) resolved, full-width letters folded (IE accepted
``ｅｘｐｒｅｓｓｉｏｎ``), case folded. Then we look for ``expression(``, ``behavior:``,
``-moz-binding``, script URLs anywhere (``url(javascript:)``, Opera's ``-o-link``), ``@import`` of
``data:``/script and ``url(data:...)`` with a script-bearing media type.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from mailcard.validation.urls import data_url_media_type, is_script_bearing_media_type, strip_url

__all__ = ["CssProblem", "css_problems", "css_urls", "normalise_css"]

_COMMENT = re.compile(r"/\*.*?(?:\*/|\Z)", re.S)
_ESCAPE = re.compile(r"\\(?:([0-9A-Fa-f]{1,6})(?:\r\n|[ \t\r\n\f])?|(\r\n|[\r\n\f])|(.))", re.S)
_WHITESPACE_AND_CONTROLS = re.compile(r"[\s\x00-\x1f\x7f]+")
_EXPRESSION = re.compile(r"expression\s*\(")
_BEHAVIOR = re.compile(r"behaviou?r\s*:")
_SCRIPT_SCHEME = re.compile(r"(?:java|vb|live|j)script:|vbs:|mocha:")
_IMPORT_TARGET = re.compile(r"@import\s*(?:url\(\s*)?['\"]?\s*([^'\"\s);]*)")
_URL_FUNCTION = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.S)
_QUICK_MARKERS = ("expression", "behavio", "binding", "script", "import", "data:", "mocha", "vbs")


def _unescape(match: re.Match[str]) -> str:
    hex_digits, newline, other = match.groups()
    if hex_digits is not None:
        code = int(hex_digits, 16)
        if code == 0:
            return ""  # old IE dropped escaped NULs; dropping them can only reveal more
        if code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return "\ufffd"
        return chr(code)
    if newline is not None:
        return ""
    return str(other)


def normalise_css(css: str) -> str:
    """CSS text as an engine's tokenizer sees it: no comments, no escapes, NFKC-folded, lower-case."""
    if "/*" in css:
        css = _COMMENT.sub("", css)
    if "\\" in css:
        css = _ESCAPE.sub(_unescape, css)
        if "/*" in css:
            css = _COMMENT.sub("", css)
    if not css.isascii():
        css = unicodedata.normalize("NFKC", css)
    return css.replace("\x00", "").lower()


@dataclass(frozen=True, slots=True)
class CssProblem:
    """One dangerous construct: ``what`` names it for the message (``expression()``, ``behavior``...)."""

    what: str
    excerpt: str


def _excerpt(text: str, start: int) -> str:
    return text[max(0, start - 10) : start + 50].strip()


def css_problems(css: str) -> list[CssProblem]:
    """Every script hook found in a style sheet or ``style`` attribute value (empty when safe)."""
    lowered_raw = css.lower()
    if "\\" not in css and "/*" not in css and css.isascii():
        if not any(marker in lowered_raw for marker in _QUICK_MARKERS):
            return []  # the common case: plain CSS without anything that could hide a hook
    text = normalise_css(css)
    problems: list[CssProblem] = []
    if m := _EXPRESSION.search(text):
        problems.append(CssProblem("expression()", _excerpt(text, m.start())))
    if m := _BEHAVIOR.search(text):
        problems.append(CssProblem("behavior", _excerpt(text, m.start())))
    if (i := text.find("-moz-binding")) >= 0:
        problems.append(CssProblem("-moz-binding", _excerpt(text, i)))
    compact = _WHITESPACE_AND_CONTROLS.sub("", text)
    if m := _SCRIPT_SCHEME.search(compact):
        problems.append(CssProblem("a script URL", _excerpt(compact, m.start())))
    for m in _IMPORT_TARGET.finditer(text):
        target = strip_url(m.group(1))
        if target.startswith("data:"):
            problems.append(CssProblem("@import of a data: style sheet", _excerpt(text, m.start())))
    for m in _URL_FUNCTION.finditer(text):
        target = strip_url(m.group(2))
        if target.startswith("data:") and is_script_bearing_media_type(
            data_url_media_type(target), image_context=True
        ):
            problems.append(CssProblem("a script-bearing data: URL", _excerpt(text, m.start())))
    return problems


def css_urls(css: str) -> list[str]:
    """The URLs a style sheet loads (``url(...)`` and ``@import "..."``), escapes resolved."""
    lowered = css.lower()
    if "url(" not in lowered and "@import" not in lowered and "\\" not in css:
        return []
    text = css
    if "/*" in text:
        text = _COMMENT.sub("", text)
    if "\\" in text:
        text = _ESCAPE.sub(_unescape, text)
    urls = [m.group(2).strip() for m in re.finditer(r"url\(\s*(['\"]?)(.*?)\1\s*\)", text, re.S | re.I)]
    urls += [m.group(2) for m in re.finditer(r"@import\s+(['\"])(.*?)\1", text, re.I)]
    return urls
