"""The shortened-link warning: find URLs in every part and match their hosts against the list.

URLs come from HTML attributes and CSS (collected by the tree walk), and from text: the HTML's
visible text, the plain-text part, the subject and the preheader. In text, a URL is either
``scheme://...`` or a bare ``host.tld/path`` (the way people write ``bit.ly/abc`` in an SMS-style
sentence). Not links: e-mail addresses (``promo@bit.ly``), domain mentions without a path
("we use bit.ly"), and names in a path, query or file name (only hosts are matched).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from mailcard.validation.shorteners import ShortenerMatcher
from mailcard.validation.urls import extract_host, normalise_host

__all__ = ["ShortLink", "find_short_links_in_text", "find_urls_in_text", "short_link_for_url"]

# Label characters: ASCII, Latin/Greek/Cyrillic letters and full-width ASCII (UTS #46 folds them).
# CJK is left out on purpose: Chinese and Japanese text has no spaces, so "访问t.cn/x" must start at "t".
_L = r"0-9A-Za-z\u00c0-\u024f\u0370-\u03ff\u0400-\u052f\uff10-\uff19\uff21-\uff3a\uff41-\uff5a"
_DOT = r".\u3002\uff0e\uff61"
_URL_IN_TEXT = re.compile(
    rf"(?<![{_L}{_DOT}@/\\:+\-])"
    rf"(?:"
    rf"(?P<scheme>[A-Za-z][A-Za-z0-9+.\-]*:[/\\]{{2}}[^\s<>\"'`]*)"
    rf"|(?P<bare>[{_L}\-]+(?:[{_DOT}][{_L}\-]+)+[{_DOT}]?(?::\d{{1,5}})?/[^\s<>\"'`]*)"
    rf")"
)


@dataclass(frozen=True, slots=True)
class ShortLink:
    url: str
    domain: str


def _lines_with_slash(text: str) -> Iterator[str]:
    """The "\\n"-separated lines of ``text`` that contain a slash or backslash.

    Words are split on any whitespace afterwards, so cutting at "\\n" (whitespace) only, rather than
    at every line boundary, yields the same words; jumping from slash to slash with ``str.find``
    skips the thousands of slash-free text nodes without a Python-level loop over them.
    """
    if "\\" in text:
        yield from (line for line in text.splitlines() if "/" in line or "\\" in line)
        return
    at = text.find("/")
    while at >= 0:
        start = text.rfind("\n", 0, at) + 1
        end = text.find("\n", at)
        if end < 0:
            yield text[start:]
            return
        yield text[start:end]
        at = text.find("/", end)


def find_urls_in_text(text: str) -> Iterator[tuple[str, str]]:
    """(url, raw host) for every link written in ``text``."""
    # A link never contains whitespace and always contains a slash: most lines (one per text node)
    # and most words have none, and C-level searches skip them before any regex runs.
    for line in _lines_with_slash(text):
        for word in line.split():
            if "/" not in word and "\\" not in word:
                continue
            for match in _URL_IN_TEXT.finditer(word):
                url = match.group(0)
                if match.group("scheme") is not None:
                    host = extract_host(url, allow_schemeless=False)
                else:
                    host = re.split(r"[/:]", url, maxsplit=1)[0]
                if host:
                    yield url.rstrip(".,;:!?)]}»\u3002\uff0c\uff09"), host


def short_link_for_url(url: str, matcher: ShortenerMatcher) -> ShortLink | None:
    """The shortener an attribute value (``href``/``src``/CSS ``url()``) points at, if any."""
    host = extract_host(url)
    if not host:
        return None
    domain = matcher.match(normalise_host(host))
    return ShortLink(url.strip(), domain) if domain else None


def find_short_links_in_text(text: str, matcher: ShortenerMatcher) -> Iterator[ShortLink]:
    for url, host in find_urls_in_text(text):
        domain = matcher.match(normalise_host(host))
        if domain:
            yield ShortLink(url, domain)
