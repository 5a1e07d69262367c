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

__all__ = [
    "CssProblem",
    "css_comments",
    "css_problems",
    "css_problems_and_urls",
    "css_problems_urls_and_comments",
    "css_urls",
    "may_hide_anything",
    "may_load_urls",
    "normalise_css",
]

# Unrolled form of /\*.*?\*/ (several times faster on large style blocks); an unterminated comment
# runs to the end, as in the CSS tokenizer.
_COMMENT = re.compile(r"/\*[^*]*\*+(?:[^/*][^*]*\*+)*/|/\*.*\Z", re.S)
# The same with a group, for re.split: comment-free pieces and the comments, alternating.
_COMMENT_SPLIT = re.compile(f"({_COMMENT.pattern})", re.S)
_ESCAPE = re.compile(r"\\(?:([0-9A-Fa-f]{1,6})(?:\r\n|[ \t\r\n\f])?|(\r\n|[\r\n\f])|(.))", re.S)
_WHITESPACE_AND_CONTROLS = re.compile(r"[\s\x00-\x1f\x7f]+")
_EXPRESSION = re.compile(r"expression\s*\(")
_BEHAVIOR = re.compile(r"(?<![\w.#-])(?:-ms-)?behaviou?r\s*:")
_SCRIPT_SCHEME = re.compile(r"(?:java|vb|live|j)script:|vbs:|mocha:")
_IMPORT_TARGET = re.compile(r"@import\s*(?:url\(\s*)?['\"]?\s*([^'\"\s);]*)")
_URL_FUNCTION = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.S)
_URL_ARGUMENT = re.compile(r"\s*(['\"]?)(.*?)\1\s*\)", re.S)
_IMPORT_STRING = re.compile(r"@[iI][mM][pP][oO][rR][tT]\s+(['\"])(.*?)\1")


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


def _decode(css: str) -> str:
    """Comments removed, escapes resolved, NFKC-folded; case kept (URL paths are case-sensitive)."""
    if "/*" in css:
        css = _COMMENT.sub("", css)
    return _decode_without_comments(css)


def _decode_without_comments(css: str) -> str:
    """:func:`_decode` for CSS whose comments are already removed."""
    if "\\" in css:
        css = _ESCAPE.sub(_unescape, css)
        if "/*" in css:
            css = _COMMENT.sub("", css)
    if not css.isascii():
        css = unicodedata.normalize("NFKC", css)
    return css.replace("\x00", "")


def css_comments(css: str) -> list[str]:
    """The comments of a style sheet (they can hold URLs that spam filters still read)."""
    return _COMMENT.findall(css) if "/*" in css else []


def normalise_css(css: str) -> str:
    """CSS text as an engine's tokenizer sees it: no comments, no escapes, NFKC-folded, lower-case."""
    return _decode(css).lower()


@dataclass(frozen=True, slots=True)
class CssProblem:
    """One dangerous construct: ``what`` names it for the message (``expression()``, ``behavior``...)."""

    what: str
    excerpt: str


def _excerpt(text: str, start: int) -> str:
    return text[max(0, start - 10) : start + 50].strip()


def may_hide_anything(css: str) -> bool:
    """False for the common inline style with no escape, comment, non-ASCII or suspicious word."""
    if not css.isascii() or "\\" in css or "/*" in css:
        return True
    low = css.lower()
    return (
        "expression" in low
        or "behavio" in low
        or "binding" in low
        or "script" in low
        or "import" in low
        or "data:" in low
        or "mocha" in low
        or "vbs" in low
    )


def _problems_in(text: str) -> list[CssProblem]:
    problems: list[CssProblem] = []
    if "expression" in text and (m := _EXPRESSION.search(text)):
        problems.append(CssProblem("expression()", _excerpt(text, m.start())))
    if "behavio" in text and (m := _BEHAVIOR.search(text)):
        problems.append(CssProblem("behavior", _excerpt(text, m.start())))
    if (i := text.find("-moz-binding")) >= 0:
        problems.append(CssProblem("-moz-binding", _excerpt(text, i)))
    if "script" in text or "vbs" in text or "mocha" in text:
        # Tabs and newlines inside a URL are dropped by the URL parser ("java\tscript:").
        compact = _WHITESPACE_AND_CONTROLS.sub("", text)
        if m := _SCRIPT_SCHEME.search(compact):
            problems.append(CssProblem("a script URL", _excerpt(compact, m.start())))
    if "@import" in text:
        for m in _IMPORT_TARGET.finditer(text):
            if strip_url(m.group(1)).startswith("data:"):
                problems.append(CssProblem("@import of a data: style sheet", _excerpt(text, m.start())))
    if "data:" in text:
        for m in _URL_FUNCTION.finditer(text):
            target = strip_url(m.group(2))
            if target.startswith("data:") and is_script_bearing_media_type(
                data_url_media_type(target), image_context=True
            ):
                problems.append(CssProblem("a script-bearing data: URL", _excerpt(text, m.start())))
    return problems


def css_problems(css: str) -> list[CssProblem]:
    """Every script hook found in a style sheet or ``style`` attribute value (empty when safe)."""
    if not may_hide_anything(css):
        return []
    return _problems_in(normalise_css(css))


def may_load_urls(css: str) -> bool:
    """False when the CSS certainly has no ``url(...)`` or ``@import``."""
    return "\\" in css or "url(" in css.lower() or "@" in css


def css_problems_and_urls(css: str) -> tuple[list[CssProblem], list[str]]:
    """Both answers for one style sheet, decoding it once (style blocks can be large)."""
    if "(" not in css and "@" not in css:
        return css_problems(css), []
    text = _decode(css)
    lowered = text.lower()
    problems = _problems_in(lowered) if may_hide_anything(css) else []
    return problems, _urls_in(text, lowered)


def css_problems_urls_and_comments(css: str) -> tuple[list[CssProblem], list[str], list[str]]:
    """:func:`css_problems_and_urls` and :func:`css_comments` together, for ``<style>`` blocks.

    Style blocks are the largest CSS (tens of KB) and usually commented: one split finds the comments
    and the comment-free text at once instead of two regex passes over the block.
    """
    if "/*" not in css:
        problems, urls = css_problems_and_urls(css)
        return problems, urls, []
    parts = _COMMENT_SPLIT.split(css)
    text = _decode_without_comments("".join(parts[0::2]))
    lowered = text.lower()
    # may_hide_anything(css) is true here ("/*" is in css), so the problems are always looked for.
    problems = _problems_in(lowered)
    urls = _urls_in(text, lowered) if "(" in css or "@" in css else []
    return problems, urls, parts[1::2]


def _urls_in(text: str, lowered: str) -> list[str]:
    # Find "url(" in the lower-cased copy (a fast literal search) and cut the URL from the original,
    # whose case matters for paths; lower() keeps positions unless exotic characters change length.
    source = text if len(text) == len(lowered) else lowered
    urls = []
    start = lowered.find("url(")
    while start >= 0:
        match = _URL_ARGUMENT.match(source, start + 4)
        if match:
            urls.append(match.group(2).strip())
        start = lowered.find("url(", start + 4)
    if "@import" in lowered:
        urls += [m.group(2) for m in _IMPORT_STRING.finditer(source)]
    return urls


def css_urls(css: str) -> list[str]:
    """The URLs a style sheet loads (``url(...)`` and ``@import "..."``), escapes resolved."""
    if "(" not in css and "@" not in css:
        return []
    text = _decode(css)
    return _urls_in(text, text.lower())
