"""The content check and the text part once per HTML *skeleton*, for personalised bulk.

A mailing renders one HTML template for many customers. Their documents differ only where the
template prints a value; every tag, attribute and piece of the template's own text is the same. The
skeleton is the rendered HTML with each printed value replaced by a marker: one character of
Unicode's private-use plane 16 (``U+100000`` + the value's index), which no accepted value
contains. The full check (every pass of :func:`~mailcard.validation.html.analyse_html`) and the text
part's layout run once per skeleton; each message then only has

* its values checked against the rule for where they land,
* the text nodes holding a value scanned again for shortened links (the only check of text),
* the layout's markers replaced by the values, then trimmed and wrapped.

The result is the full path's, byte for byte (``tests/unit/test_compose_skeleton.py`` compares
them on generated and hostile values). That holds because a skeleton is used only when

1. its own check finds nothing but relative links made of a value (rule 2), and it has no
   ``<svg>``, ``<math>`` or ``<noscript>`` (the constructs the check re-serialises and parses again);
2. every marker is found exactly once: in a text node whose ancestors are all ordinary HTML
   elements or ``<title>`` (no raw text such as ``<style>``, no ``<pre>``, comment or foreign
   content); in ``<img alt>``; or in ``<a href>`` / ``<img src>``, where after a literal
   ``http(s)://host/`` neither the scheme nor the host (all the check looks at) can change, and
   anywhere else each message's URL is checked again as the walk checks it;
3. no marker follows an ``&`` that a value could complete into a character reference, or a
   ``<``, ``</``, ``<!`` or ``<!-`` that it could complete into a tag or a comment, and none is
   followed by a ``{`` (a value ending in ``&amp;`` would make the script entity ``&{``);

and a message is used with it only when each of its values is printable text without ``<``, with
``&`` only in the five escapes autoescaping writes, without leading, trailing or double spaces (so
the parser and the text part treat it as they treat the marker), without spaces, quotes or ``{`` in
an attribute (whose quoting the tree does not tell), when every URL made of a value is an http(s)
URL to a host that is not a shortener, and when no link's ``text (url)`` decision changes. Anything
else (an empty or ``|raw`` value, a macro's output, a ``javascript:`` or shortened link, a skeleton
that did not qualify) takes the full path, which stays the reference.
"""

from __future__ import annotations

import html
import itertools
import logging
import operator
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from selectolax.lexbor import LexborHTMLParser, LexborNode

from mailcard.content.text_part import link_suffix, text_layout
from mailcard.validation import ContentToCheck, LinkPolicy, check_content
from mailcard.validation.htmlscan import WEB_PREFIXES
from mailcard.validation.links import find_short_links_in_text, short_link_for_url
from mailcard.validation.shorteners import ShortenerMatcher, matcher_for

__all__ = ["MARKER_BASE", "Skeleton", "SkeletonCache", "split_pieces"]

log = logging.getLogger(__name__)

MARKER_BASE: Final = 0x100000
_MAX_MARKERS: Final = 0xFFFE  # U+10FFFE and U+10FFFF are noncharacters
_MARKER: Final = re.compile("[\U00100000-\U0010fffd]")
# Where the start of a value decides what the characters before it are: after an "&" a value
# starting with "amp;" (or a digit) makes a character reference, after "<", "</", "<!" or "<!-" a
# value starting with a letter, "/", "!" or "-" makes a tag or a comment.
_VALUE_COMPLETES: Final = re.compile("(?:&[#0-9A-Za-z]*|<(?:/|!-?)?)[\U00100000-\U0010fffd]")
# Where the end of a value decides what follows it: a value ending in "&amp;" before a "{" makes
# "&{", a Netscape script entity in an attribute.
_VALUE_OPENS: Final = re.compile("[\U00100000-\U0010fffd]\\{")
_ESCAPE: Final = r"&(?:amp|lt|gt|quot|#039);"
# A value in text: words of anything printable but "<" and a bare "&", single spaces between.
_TEXT_WORD: Final = rf"(?:[^\s<&\x00]|{_ESCAPE})+"
_TEXT_VALUE: Final = rf"{_TEXT_WORD}(?: {_TEXT_WORD})*"
_TEXT_VALUES: Final = re.compile(rf"{_TEXT_VALUE}(?:\x00{_TEXT_VALUE})*")
# A value in an attribute: no space, quote, angle bracket, backtick or "{" (the script entity "&{").
_ATTRIBUTE_VALUE: Final = rf"(?:[^\s<>\"'`{{&\x00]|{_ESCAPE})+"
_ATTRIBUTE_VALUES: Final = re.compile(rf"{_ATTRIBUTE_VALUE}(?:\x00{_ATTRIBUTE_VALUE})*")
# Scheme and host written out, then "/", "?" or "#" (a backslash or "@" later cannot move the host).
_STATIC_URL_HOST: Final = re.compile(r"https?://[^/?#\\\s]+[/?#]")
_FOREIGN_OR_REPARSED: Final = re.compile(r"<(?:svg|math|noscript)", re.IGNORECASE)
# Elements whose text the parser, the check and the text part all take as plain text (<title> is
# RCDATA: references are decoded as in text, and a value cannot hold the "<" that would end it).
_ORDINARY: Final = frozenset(
    {
        "html", "head", "title", "body", "div", "span", "p", "a", "b", "strong", "i", "em", "u", "s",
        "small", "big", "font", "center", "table", "tbody", "thead", "tfoot", "tr", "td", "th",
        "caption", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "sup", "sub",
        "section", "article", "header", "footer", "main", "nav", "aside", "figure", "figcaption",
        "dl", "dt", "dd", "address", "label", "code", "mark", "abbr", "cite", "q", "time",
    }
)  # fmt: skip
_TEXT: Final = 0
_ATTRIBUTE: Final = 1
# How a value in an attribute is checked: by the value rules only, or also as the URL it makes.
_PLAIN: Final = "plain"
_URL_FROM_VALUE: Final = "url"
_CACHE_SIZE: Final = 256


def split_pieces(pieces: Sequence[str], static_texts: frozenset[int]) -> tuple[str, list[str]] | None:
    """The skeleton of a render's pieces and its values (see the module docstring), or ``None``.

    A piece is the template's own text when it is one of ``static_texts`` (or empty); the skeleton
    keeps it as is. Keeping a value as text is always right (the skeleton then holds what the
    message holds), so the test errs only that way.
    """
    # C-level passes over the pieces (a message has dozens); Python runs once per value only.
    is_value = list(map(operator.not_, map(static_texts.__contains__, map(id, pieces))))
    values = [piece for piece in itertools.compress(pieces, is_value) if piece]
    if len(values) > _MAX_MARKERS:
        return None
    parts = list(pieces)
    code = MARKER_BASE
    for position in itertools.compress(itertools.count(), is_value):
        if parts[position]:
            parts[position] = chr(code)
            code += 1
    return "".join(parts), values


class _Holes:
    """A text with markers, split once so that filling it in is a join."""

    __slots__ = ("indices", "parts", "slash")

    def __init__(self, text: str) -> None:
        self.parts = _MARKER.split(text)
        self.indices = [ord(marker) - MARKER_BASE for marker in _MARKER.findall(text)]
        self.slash = "/" in text or "\\" in text  # may hold a link without the values

    def fill(self, values: Sequence[str]) -> str:
        """The text with each marker replaced by its (decoded) value."""
        if not self.indices:
            return self.parts[0]
        sequence = self.parts * 2  # the right length (one longer): odd slots get the values
        sequence[::2] = self.parts
        sequence[1::2] = [values[index] for index in self.indices] + [""]
        return "".join(sequence)


@dataclass(frozen=True, slots=True)
class Skeleton:
    """What one skeleton tells every message rendered into it."""

    count: int  # markers, one per value
    text_values: tuple[int, ...]  # indices of the values in text
    attribute_values: tuple[int, ...]  # indices of the values in attributes
    texts: tuple[_Holes, ...]  # text nodes holding markers (scanned again for shortened links)
    urls: tuple[_Holes, ...]  # href/src whose scheme or host comes from a value (checked again)
    anchors: tuple[tuple[_Holes, _Holes, _Holes | None], ...]  # links with markers: href, label, suffix
    layout: _Holes  # the text part's layout

    def text_part_layout(self, values: Sequence[str], matcher: ShortenerMatcher) -> str | None:
        """The layout of the message's text part, or ``None`` when the full path must decide."""
        every = "".join(values)
        # U+034F is printable, but the text part removes it (a combining grapheme joiner).
        if not every.isprintable() or "\u034f" in every:
            return None
        # "\x00" cannot be in a printable value: it keeps each value's rule to itself.
        if self.text_values and not _TEXT_VALUES.fullmatch(
            "\x00".join([values[index] for index in self.text_values])
        ):
            return None
        if self.attribute_values and not _ATTRIBUTE_VALUES.fullmatch(
            "\x00".join([values[index] for index in self.attribute_values])
        ):
            return None
        # What the parser reads: the rules allow "&" only in the five escapes autoescaping writes.
        decoded = [html.unescape(value) for value in values] if "&" in every else values
        some_slash = "/" in every or "\\" in every
        for url in self.urls:
            filled = url.fill(decoded)
            # What the tree walk lets through without a finding: an http(s) URL (neither script
            # nor relative) whose host is not a shortener.
            if not filled.startswith(WEB_PREFIXES) or short_link_for_url(filled, matcher) is not None:
                return None
        for text in self.texts:
            if (text.slash or some_slash) and next(
                find_short_links_in_text(text.fill(decoded), matcher), None
            ) is not None:
                return None  # a finding: the full path reports it with its location
        for href, label, suffix in self.anchors:
            decided = link_suffix(href.fill(decoded), label.fill(decoded))
            if decided != (None if suffix is None else suffix.fill(decoded)):
                return None
        return self.layout.fill(decoded)


def _analyse(skeleton: str, count: int, policy: LinkPolicy) -> Skeleton | None:
    if (
        _FOREIGN_OR_REPARSED.search(skeleton)
        or _VALUE_COMPLETES.search(skeleton)
        or _VALUE_OPENS.search(skeleton)
    ):
        return None
    tree = LexborHTMLParser(skeleton)
    report = check_content(ContentToCheck(html=skeleton), policy, html_tree=tree)
    # A relative link whose URL holds a marker is the value's to decide: such links are checked
    # again for each message (Skeleton.urls).
    if any(
        finding.code != "missing_text_part"
        and not (finding.code == "relative_link" and _MARKER.search(finding.excerpt or ""))
        for finding in report.findings
    ):
        return None
    root = tree.root
    if root is None:
        return None
    kinds: list[int | None] = [None] * count
    texts: list[str] = []
    urls: list[str] = []

    def found(text: str, kind: int) -> bool:
        for match in _MARKER.finditer(text):
            index = ord(match.group(0)) - MARKER_BASE
            if index >= count or kinds[index] is not None:
                return False  # a marker the template wrote itself, or one the parser copied
            kinds[index] = kind
        return True

    for node in root.traverse(include_text=True):
        if node.is_text_node:
            content = node.text_content or ""
            if not _MARKER.search(content):
                continue
            if not _ordinary_ancestors(node) or not found(content, _TEXT):
                return None
            texts.append(content)
            continue
        tag = node.tag or ""
        if _MARKER.search(tag):
            return None
        for name, value in node.attributes.items():
            if _MARKER.search(name):
                return None
            if value is None or not _MARKER.search(value):
                continue
            place = _value_attribute(tag, name, value)
            if place is None or not _ordinary_ancestors(node) or not found(value, _ATTRIBUTE):
                return None
            if place == _URL_FROM_VALUE:
                urls.append(value)
    if any(kind is None for kind in kinds):
        return None  # a marker in a comment, a doctype, or dropped by the parser
    anchors: list[tuple[str, str]] = []
    layout = text_layout(skeleton, tree=tree, anchors=anchors)
    with_markers = []
    for href, label in anchors:
        if _MARKER.search(href) or _MARKER.search(label):
            suffix = link_suffix(href, label)
            with_markers.append((_Holes(href), _Holes(label), None if suffix is None else _Holes(suffix)))
    return Skeleton(
        count=count,
        text_values=tuple(index for index, kind in enumerate(kinds) if kind == _TEXT),
        attribute_values=tuple(index for index, kind in enumerate(kinds) if kind == _ATTRIBUTE),
        texts=tuple(_Holes(text) for text in texts),
        urls=tuple(_Holes(url) for url in urls),
        anchors=tuple(with_markers),
        layout=_Holes(layout),
    )


def _ordinary_ancestors(node: LexborNode) -> bool:
    parent = node.parent
    while parent is not None:
        tag = parent.tag
        if tag == "-document":
            return True
        if tag not in _ORDINARY:
            return False
        parent = parent.parent
    return True


def _value_attribute(tag: str, name: str, value: str) -> str | None:
    """How a value in this attribute is checked (see rule 2 of the module docstring), or ``None``
    when it may not land there."""
    if (tag, name) == ("img", "alt"):
        return _PLAIN
    if (tag, name) not in (("a", "href"), ("img", "src")):
        return None
    match = _STATIC_URL_HOST.match(value)
    if match is not None and not _MARKER.search(value, 0, match.end()):
        return _PLAIN  # the scheme and host are the template's
    return _URL_FROM_VALUE


class SkeletonCache:
    """Skeletons analysed for one link policy, the most recent :data:`_CACHE_SIZE` of them."""

    def __init__(self, policy: LinkPolicy) -> None:
        self._policy = policy
        self._matcher = matcher_for(policy)
        self._entries: dict[str, Skeleton | None] = {}
        self._lock = threading.Lock()

    def text_part_layout(self, pieces: Sequence[str], static_texts: frozenset[int]) -> str | None:
        """The text part's layout for the message whose HTML was rendered as ``pieces`` (see
        :func:`split_pieces`), when its content check finds nothing in the HTML; ``None``: take the
        full path."""
        split = split_pieces(pieces, static_texts)
        if split is None:
            return None
        skeleton, values = split
        try:
            entry = self._entries[skeleton]
        except KeyError:
            try:
                entry = _analyse(skeleton, len(values), self._policy)
            except Exception:  # whatever the analysis trips on, the full path decides
                log.warning(
                    "could not analyse an HTML skeleton; its messages take the full check", exc_info=True
                )
                entry = None
            with self._lock:
                if len(self._entries) >= _CACHE_SIZE:
                    del self._entries[next(iter(self._entries))]
                self._entries[skeleton] = entry
        if entry is None or entry.count != len(values):
            return None
        return entry.text_part_layout(values, self._matcher)
